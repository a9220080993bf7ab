"""Loading a trained model, timing it, and exporting it for use outside the course.

* :func:`load_model` imports every module that registers a custom class (layers, initialisers,
  losses, metrics) before reading a ``.keras`` file, and turns the usual failures into errors
  that name the file and the fix.
* :func:`latency` measures what a user of the model waits for: milliseconds per image at batch 1
  and images per second in batches, after warm-up (the first calls build and compile the graph
  and would otherwise dominate), as the median of several repeats (robust to a busy machine).
* :func:`export` writes the ``.keras`` file (reloads in Keras with the course's classes) and a
  TensorFlow SavedModel (runs in TF Serving, TFLite converters or plain TensorFlow with no
  segutils installed).
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segutils.errors import DatasetError

#: Modules whose import registers serializable classes (the models package is walked too).
REGISTERING_MODULES = ("segutils.upsampling", "segutils.losses", "segutils.keras_metrics")


def register_custom_objects() -> None:
    """Import every segutils module that registers Keras classes, so ``.keras`` files reload."""
    import segutils.models as models

    for info in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"segutils.models.{info.name}")
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


def load_model(path: str | Path, *, compile: bool = False):
    """Load a ``.keras`` model; a run folder holding ``best.keras`` works too.

    ``compile=False`` (default) skips restoring the optimizer, loss and metrics: evaluation and
    prediction need only the weights, and it loads faster.
    """
    from segutils.config import import_quietly

    keras = import_quietly()
    path = Path(path)
    if path.is_dir() and (path / "best.keras").is_file():
        path = path / "best.keras"
    if not path.exists():
        raise DatasetError(path, "model file not found",
                           "check the path; training writes runs/<profile>/<model>/best.keras "
                           "(python -m segutils train, or notebook 08)")
    if path.is_dir() or path.suffix != ".keras":
        what = "a folder without best.keras" if path.is_dir() else f"a {path.suffix or 'bare'} file"
        raise DatasetError(path, f"not a .keras model file ({what})",
                           "pass the .keras file that model.save('name.keras') wrote; an old "
                           ".h5 model can be loaded in Keras and saved again as .keras")
    register_custom_objects()
    try:
        return keras.models.load_model(path, compile=compile)
    except (ValueError, TypeError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(path, f"the model cannot be loaded ({first})",
                           "check that the file is a complete .keras file (an interrupted save "
                           "leaves a broken one; use last.keras or train again) and that it was "
                           "written by a model built from segutils or plain Keras layers"
                           ) from err


def _shape(model, input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (*shape, int(model.inputs[0].shape[-1] or 3))
    if len(shape) != 3:
        raise ValueError(f"input_shape is (height, width) or (height, width, channels), "
                         f"got {input_shape}")
    return shape


def _median_seconds(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def latency(model, input_shape: Sequence[int], batch_size: int = 1, *, warmup: int = 3,
            repeats: int = 10, seed: int = 0) -> dict:
    """Inference speed of ``model`` on random images of ``input_shape`` = (H, W[, C]).

    Returns ``ms_per_image`` (batch 1: the latency one user sees), ``images_per_s_batch1``,
    and for ``batch_size`` > 1 also ``ms_per_batch`` and ``images_per_s`` (throughput in
    batches: what an offline job gets). Every figure is the median of ``repeats`` timed calls
    of ``model.predict_on_batch`` after ``warmup`` untimed ones; the time includes copying the
    result back to NumPy, as a real caller would.
    """
    if batch_size < 1 or repeats < 1 or warmup < 0:
        raise ValueError("batch_size and repeats must be >= 1, warmup >= 0")
    shape = _shape(model, input_shape)
    rng = np.random.default_rng(seed)
    one = rng.random((1, *shape), dtype=np.float32)
    single = _median_seconds(lambda: np.asarray(model.predict_on_batch(one)), warmup, repeats)
    result = {"input_shape": list(shape), "ms_per_image": 1000 * single,
              "images_per_s_batch1": 1.0 / single, "batch_size": batch_size,
              "warmup": warmup, "repeats": repeats}
    if batch_size > 1:
        many = rng.random((batch_size, *shape), dtype=np.float32)
        batched = _median_seconds(lambda: np.asarray(model.predict_on_batch(many)), warmup,
                                  repeats)
        result.update(ms_per_batch=1000 * batched, images_per_s=batch_size / batched)
    else:
        result.update(ms_per_batch=1000 * single, images_per_s=1.0 / single)
    return result


def export(model, out_dir: str | Path, name: str | None = None) -> dict[str, Path]:
    """Write ``name.keras`` and the SavedModel folder ``name_savedmodel`` into ``out_dir``.

    The SavedModel's ``serve`` function takes float32 images (B, H, W, 3) in [0, 1] and returns
    logits, like the Keras model: ``tf.saved_model.load(path).serve(images)``. It needs the
    TensorFlow backend (``model.export``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or model.name
    keras_path = out_dir / f"{name}.keras"
    saved_path = out_dir / f"{name}_savedmodel"
    model.save(keras_path)
    model.export(str(saved_path), format="tf_saved_model", verbose=False)
    return {"keras": keras_path, "savedmodel": saved_path}
