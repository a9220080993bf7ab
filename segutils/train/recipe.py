"""The training recipe: compile, fit into a run directory, report, plot; staged FCN training.

It is ``model.compile`` and ``model.fit`` with the settings a segmentation run needs and the
callbacks of :mod:`segutils.train.callbacks` -- nothing a learner could not write in a notebook,
collected once so that notebooks and the command line do the same thing.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from segutils.data.classes import CLASSES_FILE
from segutils.errors import ConfigError, DatasetError, SegutilsError
from segutils.train import callbacks as cb
from segutils.train import run_folder
from segutils.train.hardware import choose_jit, detect_devices, explain_oom

MONITOR = "val_mean_iou"
SCHEDULES = ("cosine", "constant", "plateau")


def _n_classes(model: keras.Model) -> int:
    n = model.outputs[0].shape[-1]
    if n is None:
        raise ConfigError("the model's output has no fixed number of channels; pass n_classes")
    return int(n)


def compile_model(model: keras.Model, n_classes: int | None = None, *, loss=None,
                  class_weights=None, learning_rate: float = 1e-3, optimizer="adam",
                  weight_decay: float | None = None, ignore_index: int = 255,
                  jit_compile: bool | str | None = None, metrics: Sequence = ()) -> keras.Model:
    """Compile ``model`` for segmentation and return it.

    * ``loss``: default :class:`segutils.losses.WeightedCrossEntropy` -- sparse cross-entropy
      from logits that skips ``ignore_index`` pixels, weighted by ``class_weights`` when given
      (e.g. :func:`segutils.balancing.median_frequency_weights`; Keras' ``class_weight``
      argument does not work for dense targets). Any Keras loss can be passed instead.
    * metrics: :class:`segutils.metrics.MeanIoU` (logged as ``mean_iou`` and ``val_mean_iou``,
      one confusion matrix over the whole set) plus ``metrics``.
    * ``optimizer``: ``"adam"`` (``"adamw"`` with ``weight_decay``), ``"sgd"`` (momentum 0.9,
      FCN's choice) or an optimizer object.
    * ``jit_compile``: XLA; ``None`` chooses for the device (on for GPU/TPU, off on a CPU).

    Compile inside ``Accelerator.scope()`` when a distribution strategy is used.
    """
    from segutils.losses import WeightedCrossEntropy
    from segutils.metrics import MeanIoU

    n_classes = int(n_classes) if n_classes is not None else _n_classes(model)
    if loss is None:
        loss = WeightedCrossEntropy(class_weights=class_weights, ignore_index=ignore_index)
    elif class_weights is not None:
        raise ConfigError("pass class_weights only with the default loss (give your own loss "
                          "its weights instead)")
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name == "adam" and weight_decay:
            name = "adamw"
        if name == "adam":
            optimizer = keras.optimizers.Adam(learning_rate)
        elif name == "adamw":
            optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay or 1e-4)
        elif name == "sgd":
            optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9)
        else:
            raise ConfigError(f"unknown optimizer {optimizer!r}; use 'adam', 'adamw' or 'sgd' "
                              "or pass a keras.optimizers object")
    if jit_compile is None:
        jit_compile = choose_jit(detect_devices())
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[MeanIoU(n_classes, ignore_index=ignore_index), *metrics],
                  jit_compile=jit_compile)
    return model


@dataclasses.dataclass
class TrainingReport:
    """What a run did: saved as ``report.json`` and printed as a few lines.

    ``history`` holds every completed epoch of the run (all sessions), column by column.
    """

    run_dir: str
    model: str
    parameters: int
    epochs: int
    initial_epoch: int
    epochs_done: int
    best_epoch: int | None
    best_value: float | None
    monitor: str
    final: dict
    seconds: float
    images_per_second: float | None
    stopped_early: bool
    precision: str
    history: dict = dataclasses.field(repr=False, default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        resumed = f", resumed at epoch {self.initial_epoch}" if self.initial_epoch else ""
        best = (f"best {self.monitor} {self.best_value:.3f} at epoch {self.best_epoch}"
                if self.best_value is not None else f"no {self.monitor} yet")
        speed = (f", {self.images_per_second:.1f} images/s" if self.images_per_second else "")
        return (f"{self.model}: {self.epochs_done}/{self.epochs} epochs{resumed}; {best}; "
                f"{self.seconds:.0f} s this session{speed}\n  files in {self.run_dir}")


def _check_finite(dataset, what: str) -> None:
    cardinality = getattr(dataset, "cardinality", None)
    if cardinality is None:
        return
    import tensorflow as tf

    if int(cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ConfigError(f"the {what} dataset repeats forever; validation must see the whole "
                          "set exactly once per epoch: build it without repeat=True")


def _finite(dataset) -> bool:
    cardinality = getattr(dataset, "cardinality", None)
    return cardinality is not None and int(cardinality()) >= 0


def _images_per_epoch(dataset, steps_per_epoch, batch_size) -> int | None:
    """About how many images one epoch trains on (the last batch may be smaller), or None."""
    batch = batch_size
    spec = getattr(dataset, "element_spec", None)
    if batch is None and spec is not None:
        first = spec[0] if isinstance(spec, (tuple, list)) else spec
        batch = first.shape[0] if getattr(first, "shape", None) is not None else None
    steps = steps_per_epoch
    if steps is None and hasattr(dataset, "cardinality"):
        steps = int(dataset.cardinality())
    elif steps is None and hasattr(dataset, "__len__"):  # keras.utils.PyDataset, Sequence
        steps = len(dataset)
    return int(steps * batch) if steps and steps > 0 and batch else None


def fit(model: keras.Model, train_ds, val_ds, *, epochs: int, run_dir: str | Path,
        resume: bool = True, monitor: str = MONITOR, mode: str = "max",
        patience: int | None = None, schedule: str = "cosine", warmup: int = 0,
        tensorboard: bool = True, preview=None, classes=None, steps_per_epoch: int | None = None,
        batch_size: int | None = None, image_size=None, verbose="auto",
        extra_callbacks: Sequence = (), backup: str = cb.BACKUP,
        initial_epoch: int = 0) -> TrainingReport:
    """Train a compiled ``model`` into ``run_dir`` and return its :class:`TrainingReport`.

    ``train_ds`` and ``val_ds`` yield ``(images, masks)`` batches: ``tf.data`` datasets (see
    :func:`segutils.data.pipeline.make_dataset`) or, on backends without TensorFlow, a
    ``keras.utils.PyDataset``.

    * ``resume=True`` continues from the backup in ``run_dir`` (after a crash, a kill or a
      Colab disconnect: rerun the same cell); a finished run is not trained again, and a larger
      ``epochs`` extends it. ``resume=False`` deletes the run's files and starts over.
    * Validation runs over the whole of ``val_ds`` after every epoch (``val_ds`` must not
      repeat); ``best.keras`` keeps the epoch with the best ``monitor`` (val mean IoU).
    * ``patience``: stop after that many epochs without improvement (``None``: never).
    * ``schedule``: ``"cosine"`` (decay by epoch to 2% of the compiled rate, after ``warmup``
      epochs of linear warm-up), ``"constant"`` or ``"plateau"`` (divide by 5 after 3 flat
      epochs).
    * ``classes`` (a :class:`~segutils.data.classes.ClassInfo`): saved as ``classes.json`` in the
      run folder, so ``python -m segutils predict`` and ``evaluate`` name and colour the classes;
      with ``preview=(images, masks)`` also prediction pictures in TensorBoard.
    * ``batch_size`` and ``image_size`` make an out-of-memory message precise; ``batch_size``
      also gives images/s in the report when the dataset's batch size is not static.
      ``image_size`` is also written to ``training.json``, so ``python -m segutils evaluate``
      and ``predict`` run the model at the size it was trained at.

    * ``backup`` and ``initial_epoch`` serve runs in stages (:mod:`segutils.train.finetune`):
      the backup folder's name, and the epoch to start at when that backup does not exist yet.

    A NaN loss raises :class:`~segutils.train.callbacks.TrainingDiverged`; running out of memory
    raises :class:`~segutils.train.hardware.OutOfMemory` saying what to shrink.
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    if model.optimizer is None or not getattr(model, "compiled", True):
        raise ConfigError("compile the model first (segutils.train.compile_model)")
    run_dir = Path(run_dir)
    if not resume:
        run_folder.clear_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_finite(val_ds, "validation")
    if classes is not None:
        classes.save(run_dir / CLASSES_FILE)
    if image_size is not None:
        cb.write_json(run_dir / cb.TRAINING, {"image_size": [int(v) for v in image_size],
                                              "batch_size": batch_size})
    if steps_per_epoch and _finite(train_ds):
        # Capped epochs walk on through the data instead of running out of it after a few.
        train_ds = train_ds.repeat()
    initial = max(cb.resume_point(run_dir, backup) if resume else 0, int(initial_epoch))
    base_lr = cb.learning_rate(model.optimizer)

    checkpoints = cb.Checkpoints(run_dir, monitor, mode)
    history_cb = cb.HistoryCSV(run_dir / cb.HISTORY, initial)
    callbacks = [cb.StopOnNaN(checkpoints, base_lr), cb.Progress(run_dir / cb.PROGRESS, epochs),
                 history_cb, checkpoints]
    if schedule == "cosine":
        callbacks.append(cb.CosineSchedule(base_lr, epochs, warmup))
    elif schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.2, patience=3,
                                                           mode=mode, min_lr=base_lr * 1e-3))
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor, patience=patience, mode=mode))
    if tensorboard and _can_write_summaries():
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / cb.LOGS), write_graph=False,
                                                     profile_batch=0))
        if preview is not None and classes is not None:
            callbacks.append(cb.PredictionImages(run_dir / cb.LOGS, *preview, classes))
    callbacks += list(extra_callbacks)
    # The backup goes last: when it is written, everything else about the epoch already is.
    callbacks.append(cb.AtomicBackupAndRestore(run_dir / backup))

    start = time.perf_counter()
    with explain_oom(batch_size, image_size, keras.mixed_precision.global_policy().name):
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial,
                  steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                  shuffle=False)
    seconds = time.perf_counter() - start
    report = _report(model, run_dir, epochs, initial, checkpoints, history_cb, monitor, seconds,
                     train_ds, steps_per_epoch, batch_size)
    cb.write_json(run_dir / cb.REPORT, report.to_dict())
    return report


def _can_write_summaries() -> bool:
    """TensorBoard logs need TensorFlow's summary writer and the ``tensorboard`` package."""
    from segutils.config import installed

    missing = [m for m in ("tensorflow", "tensorboard") if not installed(m)]
    if missing:
        warnings.warn(f"no TensorBoard logs: {' and '.join(missing)} not installed "
                      f"(pip install {' '.join(missing)})", stacklevel=3)
    return not missing


def _report(model, run_dir, epochs, initial, checkpoints, history_cb, monitor, seconds,
            train_ds, steps_per_epoch, batch_size) -> TrainingReport:
    rows = history_cb.rows or cb.read_history(run_dir / cb.HISTORY)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    history = {k: [r.get(k, math.nan) for r in rows] for k in columns}
    done = rows[-1]["epoch"] if rows else initial
    final = {k: v for k, v in rows[-1].items() if k not in ("epoch", "session")} if rows else {}
    session = [r for r in rows if r["epoch"] > initial]
    images = _images_per_epoch(train_ds, steps_per_epoch, batch_size)
    speed = None
    if session and images:
        speed = images * len(session) / sum(r["seconds"] for r in session)
    return TrainingReport(
        run_dir=str(run_dir), model=model.name, parameters=int(model.count_params()),
        epochs=int(epochs), initial_epoch=int(initial), epochs_done=int(done),
        best_epoch=checkpoints.best_epoch, best_value=checkpoints.best, monitor=monitor,
        final=final, seconds=round(seconds, 2), images_per_second=speed,
        stopped_early=bool(done < epochs), precision=keras.mixed_precision.global_policy().name,
        history=history)


#: Modules whose import registers serializable classes (the models package is walked too).
REGISTERING_MODULES = ("segutils.upsampling", "segutils.losses", "segutils.metrics.streaming")


def register_custom_objects() -> None:
    """Import every segutils module that registers Keras classes, so ``.keras`` files reload."""
    import importlib
    import pkgutil

    import segutils.models as models

    for info in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"segutils.models.{info.name}")
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


def load_model(path: str | Path, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` file written by a run (``best.keras``, ``last.keras``), or the
    ``best.keras`` of a run folder: the one model loader of segutils.

    Imports the modules that register segutils' layers, losses and metrics first, so the model
    comes back compiled (ready for ``evaluate`` or more ``fit``) without ``custom_objects``
    (``compile=False`` skips the optimizer, loss and metrics). The usual failures become errors
    that name the file and the fix.
    """
    path = Path(path)
    if path.is_dir() and (path / cb.BEST).is_file():
        path = path / cb.BEST
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


def plot_history(source, metrics: Sequence[str] = ("loss", "mean_iou"), *, title: str = ""):
    """Learning curves (training and validation) of a run directory, a report or a history.

    One panel per metric; the best validation epoch is marked, and a dashed line shows where a
    resumed session began. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if isinstance(source, TrainingReport):
        history = source.history
    elif isinstance(source, (str, Path)):
        rows = cb.read_history(Path(source) / cb.HISTORY)
        history = {k: [r.get(k, math.nan) for r in rows] for k in (rows[0] if rows else {})}
    elif hasattr(source, "history") and isinstance(source.history, dict):  # keras History
        history = dict(source.history)
        history.setdefault("epoch", list(range(1, len(next(iter(history.values()), [])) + 1)))
    else:
        history = dict(source)
    if not history.get("epoch"):
        raise SegutilsError("nothing to plot: the run has no completed epoch yet")
    epochs = np.asarray(history["epoch"])
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "-")):
            if key in history:
                ax.plot(epochs, history[key], style, marker=".", label=label)
        val = np.asarray(history.get(f"val_{name}", []), np.float64)
        if name != "loss" and val.size and np.isfinite(val).any():
            best = int(np.nanargmax(val))
            ax.plot(epochs[best], val[best], "o", ms=9, mfc="none", color="k",
                    label=f"best {val[best]:.3f}")
        sessions = np.asarray(history.get("session", []))
        for k, i in enumerate(np.flatnonzero(np.diff(sessions)) if sessions.size else []):
            ax.axvline(epochs[i] + 0.5, ls="--", color="grey", lw=1,
                       label="resumed" if k == 0 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
