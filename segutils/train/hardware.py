"""What the machine has, and what training should do about it: precision, XLA, distribution.

The choices are made by small pure functions over a :class:`Devices` description, so they can
be tested on a laptop with fake devices, and applied by :func:`setup`:

* **Mixed precision** on a GPU (``"mixed_float16"``: float16 maths on the tensor cores, float32
  weights) and on a TPU (``"mixed_bfloat16"``); plain ``"float32"`` on a CPU, where float16 is
  slower, not faster. Every segutils model creates its output layer ``"logits"`` in float32, so
  logits and loss stay float32 whatever the policy; Keras scales the loss of a float16 model
  automatically (``LossScaleOptimizer``) so small gradients do not underflow.
* **XLA** (``jit_compile``) compiles the training step into fused kernels. It pays off on GPUs
  and TPUs (and JAX needs it everywhere); on a CPU with TensorFlow the compile time is rarely won
  back, so it is off there.
* **Distribution**: several GPUs -> data parallelism (``tf.distribute.MirroredStrategy`` with
  TensorFlow, ``keras.distribution.DataParallel`` with JAX), a TPU -> ``TPUStrategy``, otherwise
  nothing. The global batch is split between the replicas, so keep the batch per device.

Out-of-memory errors are translated into a :class:`OutOfMemory` that says which batch size and
image size to try next (:func:`explain_oom`).

TensorFlow is imported only where a TensorFlow-specific object is needed, so this module works
under ``KERAS_BACKEND=jax`` on a machine without TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os

from segutils.errors import SegutilsError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "tpu")


class OutOfMemory(SegutilsError):
    """The accelerator (or the machine) ran out of memory during training."""


@dataclasses.dataclass(frozen=True)
class Devices:
    """The accelerators Keras' backend can use.

    ``gpus`` counts GPUs, ``tpu`` is True on a TPU host (Colab's TPU runtime), ``names`` is for
    printing. Build one by hand to try the choice functions: ``Devices("tensorflow", gpus=2)``.
    """

    backend: str
    gpus: int = 0
    tpu: bool = False
    names: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "tpu" if self.tpu else "gpu" if self.gpus else "cpu"


@functools.lru_cache(maxsize=1)
def detect_devices() -> Devices:
    """Ask the backend which accelerators it sees (cached: devices do not change in a process)."""
    import keras

    backend = keras.config.backend()
    if backend == "jax":
        import jax

        devices = jax.devices()
        gpus = [d for d in devices if d.platform == "gpu"]
        tpu = any(d.platform == "tpu" for d in devices)
        return Devices(backend, len(gpus), tpu, tuple(str(d) for d in devices))
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        # Colab's TPU runtime announces itself in the environment; no cluster call needed here.
        tpu = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"))
        return Devices(backend, len(gpus), tpu, tuple(g.name for g in gpus))
    if backend == "torch":
        import torch

        n = torch.cuda.device_count()
        return Devices(backend, n, False, tuple(torch.cuda.get_device_name(i) for i in range(n)))
    return Devices(backend)


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model(devices: Devices) -> str | None:
    """The first GPU's model name ("NVIDIA H100 80GB HBM3"), or None without a GPU."""
    if not devices.gpus:
        return None
    if devices.backend == "jax":
        import jax

        return next(d.device_kind for d in jax.devices() if d.platform == "gpu")
    return devices.names[0] if devices.names else "GPU"


def describe_machine(devices: Devices) -> str:
    """The machine in words, for a benchmark's results: its GPU, else its CPU and cores."""
    gpu = gpu_model(devices)
    if gpu:
        return f"{gpu} ({devices.backend})"
    return f"{cpu_model()}, {os.cpu_count()} cores, no GPU"


def choose_precision(devices: Devices) -> str:
    """``mixed_bfloat16`` on a TPU, ``mixed_float16`` on a GPU, ``float32`` on a CPU."""
    if devices.tpu:
        return "mixed_bfloat16"
    return "mixed_float16" if devices.gpus else "float32"


def choose_jit(devices: Devices) -> bool:
    """XLA on accelerators and always with JAX (without it JAX runs op by op); off for
    TensorFlow on a CPU, where the compile time is rarely won back on short runs."""
    return devices.kind != "cpu" or devices.backend == "jax"


def choose_strategy(devices: Devices) -> str:
    """``"tpu"`` on a TPU, ``"mirrored"`` with two or more GPUs, else ``"default"``."""
    if devices.tpu:
        return "tpu"
    return "mirrored" if devices.gpus > 1 else "default"


def make_strategy(name: str, backend: str):
    """The distribution object for ``name`` (see :func:`choose_strategy`), or ``None``.

    TensorFlow: a ``tf.distribute.Strategy``, whose ``scope()`` must hold model building and
    compiling. JAX: ``keras.distribution.DataParallel`` is installed globally and ``None``
    returned (no scope needed). ``"default"`` always gives ``None``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if name == "default":
        return None
    import keras

    if backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return None
    if backend != "tensorflow":
        raise SegutilsError(f"the {name!r} strategy needs the TensorFlow or JAX backend, "
                            f"not {backend!r}")
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


@dataclasses.dataclass
class Accelerator:
    """What :func:`setup` decided: build and compile models inside ``with acc.scope():``."""

    devices: Devices
    precision: str
    jit_compile: bool
    strategy_name: str
    strategy: object | None = None

    def scope(self):
        """The strategy's scope (a no-op without a strategy)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @property
    def replicas(self) -> int:
        return int(getattr(self.strategy, "num_replicas_in_sync", 1) or 1)

    def describe(self) -> str:
        """One line for a notebook or a log."""
        where = {"cpu": "CPU only", "gpu": f"{self.devices.gpus} GPU(s)", "tpu": "TPU"}
        return (f"{where[self.devices.kind]}, backend {self.devices.backend}: precision "
                f"{self.precision}, XLA {'on' if self.jit_compile else 'off'}, strategy "
                f"{self.strategy_name} ({self.replicas} replica(s))")


def setup(precision: str = "auto", jit_compile: bool | str = "auto", strategy: str = "auto",
          devices: Devices | None = None) -> Accelerator:
    """Choose precision, XLA and distribution for this machine and apply the precision policy.

    Call it *before* building a model: the mixed-precision policy applies to layers created
    afterwards. ``"auto"`` picks with :func:`choose_precision`, :func:`choose_jit` and
    :func:`choose_strategy`; pass a value to override (``precision="float32"`` to compare).
    """
    import keras

    devices = devices or detect_devices()
    if precision == "auto":
        precision = choose_precision(devices)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    keras.mixed_precision.set_global_policy(precision)
    jit = choose_jit(devices) if jit_compile == "auto" else bool(jit_compile)
    name = choose_strategy(devices) if strategy == "auto" else strategy
    return Accelerator(devices, precision, jit, name, make_strategy(name, devices.backend))


def deterministic(seed: int) -> None:
    """Seed everything and ask the backend for run-to-run identical results.

    On a CPU, TensorFlow's kernels are deterministic already: the seed is enough (the tests
    check that two runs give identical metrics). GPU kernels that add in parallel (convolution
    gradients, scatter-adds) are not, unless told so: with TensorFlow this calls
    ``tf.config.experimental.enable_op_determinism()`` (slower; some ops then raise instead of
    running). With JAX the flag ``--xla_gpu_deterministic_ops=true`` must be in ``XLA_FLAGS``
    before JAX starts, so it is added to the environment here for child processes and a
    warning says so when JAX is already running.
    """
    from segutils import config

    config.seed_everything(seed)
    import keras

    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif keras.config.backend() == "jax":
        flag = "--xla_gpu_deterministic_ops=true"
        if flag not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
            import warnings

            warnings.warn(f"set XLA_FLAGS={flag} before starting Python for deterministic "
                          "GPU results with JAX", stacklevel=2)


# --- out of memory ----------------------------------------------------------------------------

_OOM_MARKS = ("RESOURCE_EXHAUSTED", "ResourceExhausted", "out of memory", "OOM when allocating")


def is_out_of_memory(error: BaseException) -> bool:
    """True for TensorFlow's ``ResourceExhaustedError``, XLA/JAX ``RESOURCE_EXHAUSTED`` runtime
    errors, CUDA and PyTorch "out of memory" errors and Python's ``MemoryError``."""
    if isinstance(error, MemoryError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    if "ResourceExhaustedError" in names or "OutOfMemoryError" in names:
        return True
    text = str(error)[:2000]
    return any(mark in text for mark in _OOM_MARKS)


def oom_advice(batch_size: int | None, image_size=None, precision: str | None = None) -> str:
    """What to try after running out of memory: half the batch, then smaller images."""
    steps = []
    if batch_size and batch_size > 1:
        steps.append(f"a smaller batch: --batch-size {max(1, batch_size // 2)} "
                     f"(now {batch_size})")
    if image_size:
        h, w = image_size
        # Multiples of 32 keep every pooling stage of the deeper models exact.
        smaller = (max(32, int(h * 0.75) // 32 * 32), max(32, int(w * 0.75) // 32 * 32))
        steps.append(f"smaller images: --image-size {smaller[0]} {smaller[1]} (now {h} {w})")
    if precision == "float32":
        steps.append("mixed precision on a GPU (precision='mixed_float16') halves activations")
    steps.append("a narrower model (a smaller profile, e.g. --profile cpu)")
    return "; ".join(steps)


@contextlib.contextmanager
def explain_oom(batch_size: int | None = None, image_size=None, precision: str | None = None):
    """Turn an out-of-memory error inside the block into :class:`OutOfMemory` with advice."""
    try:
        yield
    except SegutilsError:
        raise
    except Exception as err:  # noqa: BLE001  (only memory errors are translated; others re-raise)
        if not is_out_of_memory(err):
            raise
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise OutOfMemory(
            f"Training ran out of memory ({first}).\n  How to fix: try "
            f"{oom_advice(batch_size, image_size, precision)}."
        ) from err
