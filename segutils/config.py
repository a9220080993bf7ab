"""Profiles, seeds and paths: the settings every notebook and command starts from.

A *profile* bundles the numbers that decide how big a run is (image size, dataset size, batch
size, epochs, model width), so that the same notebook runs in seconds in CI (``quick``), gives
meaningful results in minutes on a laptop (``cpu``) and trains at full size on a GPU (``gpu``).

>>> from segutils import config
>>> P = config.profile("quick")
>>> P.image_size
(64, 64)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import sys
from pathlib import Path

from segutils.errors import ConfigError

#: Environment variable that overrides the automatic profile choice.
PROFILE_ENV = "SEGUTILS_PROFILE"
#: Environment variable that moves the data folder.
DATA_ENV = "SEGUTILS_DATA"
#: Environment variable that moves training runs (checkpoints, logs), e.g. to a mounted Drive.
RUNS_ENV = "SEGUTILS_RUNS"
#: Environment variable that moves the cache (converted masks): anything segutils derives from
#: a dataset and can make again.
CACHE_ENV = "SEGUTILS_CACHE"
#: The seed used when none is given.
DEFAULT_SEED = 42
#: Where the course lives; notebooks link their Colab badges here.
REPO_URL = "https://github.com/segutils/keras-segmentation-course"


@dataclasses.dataclass(frozen=True)
class Profile:
    """The size of a run. Read it, do not change it: make a new one with :meth:`replace`.

    Attributes
    ----------
    name: ``"quick"``, ``"cpu"`` or ``"gpu"``.
    image_size: (height, width) the models see.
    n_images: how many images the built-in dataset has (split 80/10/10 into train/val/test).
    batch_size: images per training step.
    epochs: passes over the training set in the notebooks' training runs.
    steps_per_epoch: cap on training steps per epoch (``None``: the whole training set).
    base_filters: width of the first convolution block of the small models.
    dataset: which dataset the notebooks train on by default.
    """

    name: str
    _: dataclasses.KW_ONLY  # the numbers by name only: Profile("cpu", image_size=(128, 128), ...)
    image_size: tuple[int, int]
    n_images: int
    batch_size: int
    epochs: int
    steps_per_epoch: int | None
    base_filters: int
    dataset: str = "synthetic"

    def replace(self, **changes) -> Profile:
        """A copy with some fields changed, e.g. ``P.replace(epochs=1)``."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    # CI: every notebook in seconds. Numbers are only smoke tests.
    "quick": Profile("quick", image_size=(64, 64), n_images=60, batch_size=8, epochs=1,
                     steps_per_epoch=3, base_filters=8),
    # Two laptop cores: a model that visibly segments within minutes.
    "cpu": Profile("cpu", image_size=(128, 128), n_images=600, batch_size=8, epochs=12,
                   steps_per_epoch=None, base_filters=16),
    # A GPU: larger images, more data, longer training.
    "gpu": Profile("gpu", image_size=(256, 256), n_images=3000, batch_size=32, epochs=40,
                   steps_per_epoch=None, base_filters=32, dataset="oxford_iiit_pet"),
}


def gpu_available() -> bool:
    """True when the Keras backend sees at least one GPU.

    Imports the backend, so it is only called when no profile is forced by name or environment.
    """
    import keras

    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def profile(name: str | Profile | None = None, *, has_gpu: bool | None = None) -> Profile:
    """The profile of this run: the one place a profile or its name is resolved.

    Order of precedence: the ``name`` argument (a :class:`Profile` is returned as it is, so any
    function can take either), then the ``SEGUTILS_PROFILE`` environment variable, then ``gpu``
    when a GPU is visible (``has_gpu``, detected when ``None``), else ``cpu``.
    """
    if isinstance(name, Profile):
        return name
    chosen = name or os.environ.get(PROFILE_ENV, "").strip().lower() or None
    if chosen is None:
        if has_gpu is None:
            has_gpu = gpu_available()
        chosen = "gpu" if has_gpu else "cpu"
    if chosen not in PROFILES:
        source = "argument" if name else f"environment variable {PROFILE_ENV}"
        raise ConfigError(
            f"Unknown profile {chosen!r} (from the {source}). "
            f"Use one of: {', '.join(PROFILES)}."
        )
    return PROFILES[chosen]


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python's, NumPy's and the Keras backend's random generators; return the seed.

    Data generation in segutils takes explicit seeds and does not depend on this call; it fixes
    what the learner's own code and Keras draw (weight initialisation, dropout, shuffles).
    """
    seed = int(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed % 2**32)
    if "keras" in sys.modules or installed("keras"):
        import keras

        keras.utils.set_random_seed(seed)
        _reset_keras_seed_generator()
    return seed


def _reset_keras_seed_generator() -> None:
    """Drop Keras' global ``SeedGenerator`` so that it is made again from the new seed.

    ``keras.random`` calls without a seed draw from one global generator. Keras 3.13 and newer
    drop it in ``set_random_seed``; older versions keep it, and its draws would not repeat after
    seeding again. Doing it here makes ``seed_everything`` mean the same on every version.
    """
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:  # a Keras laid out differently: its own set_random_seed has to do
        return
    name = getattr(seed_generator, "GLOBAL_SEED_GENERATOR", "global_seed_generator")
    global_state.set_global_attribute(name, None)


def project_root() -> Path | None:
    """The course checkout that holds this package, or ``None`` when installed elsewhere."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def data_dir() -> Path:
    """Where datasets are generated and downloaded.

    ``$SEGUTILS_DATA`` when set; else ``data/`` of the course checkout; else ``~/segutils_data``.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    root = project_root()
    return root / "data" if root is not None else Path.home() / "segutils_data"


def runs_dir() -> Path:
    """Where training runs keep checkpoints, logs and final models: ``runs/<profile>/<model>/``.

    ``$SEGUTILS_RUNS`` when set (on Colab, point it at a mounted Drive folder so a disconnect
    loses nothing); else ``runs/`` of the course checkout; else ``~/segutils_runs``.
    """
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]).expanduser()
    root = project_root()
    return root / "runs" if root is not None else Path.home() / "segutils_runs"


def cache_dir() -> Path:
    """Where segutils keeps what it derives from datasets (converted masks), never inside them.

    ``$SEGUTILS_CACHE`` when set; else ``$XDG_CACHE_HOME/segutils``; else ``~/.cache/segutils``.
    Dataset folders are only read, so a read-only copy (a mounted drive, a Kaggle input folder,
    a shared folder) works as it is. Deleting the cache is always safe: it is rebuilt on use.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "segutils"


# --- quiet TensorFlow -------------------------------------------------------------------------

_TF_ENV = {
    # Hide INFO and WARNING lines of TensorFlow's C++ core.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # Without this, TensorFlow prints a oneDNN notice at import whatever the log level.
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


@contextlib.contextmanager
def _stderr_silenced():
    """Send the process's file descriptor 2 to /dev/null for the duration of the block.

    TensorFlow's C++ core writes a few lines (absl, CUDA stubs) straight to the descriptor at
    import, before any Python-level setting can stop it.
    """
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):  # no real descriptor (some notebook frontends)
        yield
        return
    sys.__stderr__.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def installed(name: str) -> bool:
    """Whether package ``name`` can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a broken install
        return False


def import_quietly():
    """Import TensorFlow (when installed) and Keras without their start-up log lines.

    Call it before anything else imports TensorFlow; returns the ``keras`` module.
    """
    for key, value in _TF_ENV.items():
        os.environ.setdefault(key, value)
    with _stderr_silenced():
        if installed("tensorflow"):
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
        import keras
    return keras


def describe(p: Profile | None = None) -> str:
    """Lines a learner should see at the top of a notebook: versions, device, profile."""
    keras = import_quietly()
    import numpy as np

    p = p or profile()
    lines = [
        f"Python {sys.version.split()[0]}, NumPy {np.__version__}, Keras {keras.__version__} "
        f"(backend: {keras.config.backend()})",
    ]
    if "tensorflow" in sys.modules:
        lines.append(f"TensorFlow {sys.modules['tensorflow'].__version__}")
    lines.append(f"Device: {'GPU' if gpu_available() else 'CPU only'}")
    lines.append(
        f"Profile: {p.name} (images {p.image_size[0]}x{p.image_size[1]}, "
        f"{p.n_images} images, batch {p.batch_size}, epochs {p.epochs})"
    )
    return "\n".join(lines)
