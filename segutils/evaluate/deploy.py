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

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def load_model(path: str | Path, *, compile: bool = False):
    """Load a ``.keras`` model (a run folder holding ``best.keras`` works too) for prediction.

    :func:`segutils.train.load_model` with ``compile=False`` by default: evaluation and
    prediction need only the weights, and the model loads faster without its optimizer, loss
    and metrics.
    """
    from segutils.config import import_quietly

    import_quietly()  # before Keras loads: no TensorFlow start-up lines
    from segutils.train.recipe import load_model as load

    return load(path, compile=compile)


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
