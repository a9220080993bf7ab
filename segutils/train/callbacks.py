"""Callbacks that make a training run survive interruptions and explain itself.

They write the run folder that :mod:`segutils.train.run_folder` describes: the best and last
models, the history, the backup to resume from, progress and TensorBoard logs, every file
atomically (a temporary name, then a rename), so a kill at any moment leaves the previous
complete file, never a half-written one.
"""

from __future__ import annotations

import csv
import json
import math
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from segutils.errors import SegutilsError
from segutils.train.run_folder import (  # noqa: F401  (the run folder's names, used as cb.*)
    BACKUP,
    BEST,
    BEST_INFO,
    FROZEN_BACKUP,
    HISTORY,
    LAST,
    LOGS,
    PROGRESS,
    REPORT,
    TRAINING,
    read_history,
    replace,
    resume_point,
    save_model,
    write_json,
)


class TrainingDiverged(SegutilsError):
    """The loss became NaN or infinite: training stopped before saving the broken weights."""


def _as_float(value) -> float:
    try:
        return float(value)  # Python and NumPy numbers, scalar tensors of every backend
    except TypeError:
        return float(np.asarray(value, np.float64).reshape(-1)[0])


def learning_rate(optimizer) -> float | None:
    """The optimizer's current learning rate as a float (``None`` without an optimizer)."""
    lr = getattr(optimizer, "learning_rate", None)
    if lr is None:
        return None
    # A Keras variable: read its backend tensor (its own .numpy() warns under NumPy 2 on JAX).
    return _as_float(keras.ops.convert_to_numpy(getattr(lr, "value", lr)))


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` with atomic writes and a backup that outlives the run.

    Keras writes the weights file in place, so a kill during the write corrupts it; here weights
    (model + optimizer state) and the epoch counter go to temporary files that are renamed into
    place, weights first: a kill between the two renames makes the rerun repeat one epoch, never
    skip one. The backup is kept after training (``delete_checkpoint=False``), so rerunning a
    finished run does nothing, and asking for more epochs continues it.
    """

    def __init__(self, backup_dir):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=False)
        missing = [a for a in ("_weights_path", "_training_metadata_path", "_current_epoch")
                   if not hasattr(self, a)]
        if missing:  # the parts of Keras' class this one relies on
            raise SegutilsError(f"this Keras ({keras.__version__}) has no BackupAndRestore."
                                f"{missing[0]}; update segutils or pin keras<3.16")

    def on_train_begin(self, logs=None):
        # Keras restores what matches and only *warns* about layers it skipped, which would
        # resume a half-restored model: a skipped layer is an error here.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                super().on_train_begin(logs)
                problem = next((str(w.message) for w in caught
                                if "freshly-initialized" in str(w.message)), None)
            except (ValueError, KeyError) as err:
                problem, caught[:] = str(err), []
        for w in caught:
            if "freshly-initialized" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if problem:
            raise SegutilsError(
                f"{self.backup_dir}: the backup does not fit this model ({problem[:300]}). It "
                "was made by another model, width or number of classes.\n  How to fix: train "
                "with resume=False (--overwrite) to start over, or choose another run folder.")

    def _save_model(self):
        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        weights = Path(self._weights_path)
        tmp = weights.with_name(".partial.weights.h5")
        self.model.save_weights(tmp, overwrite=True)
        replace(tmp, weights)
        write_json(Path(self._training_metadata_path),
                   {"epoch": self._current_epoch, "batch": self._last_batch_seen})


class Checkpoints(keras.callbacks.Callback):
    """``best.keras`` whenever ``monitor`` improves, ``last.keras`` when training ends.

    Unlike ``ModelCheckpoint``, the best score so far is read back from ``best.json`` when a
    run resumes, so a resumed run does not overwrite a good checkpoint with a worse one.
    """

    def __init__(self, run_dir, monitor: str = "val_mean_iou", mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.run_dir, self.monitor, self.mode = Path(run_dir), monitor, mode
        self.best, self.best_epoch = None, None
        self.diverged = False

    def on_train_begin(self, logs=None):
        info = self.run_dir / BEST_INFO
        if info.is_file() and (self.run_dir / BEST).is_file():
            saved = json.loads(info.read_text())
            if saved.get("monitor") == self.monitor:
                self.best, self.best_epoch = saved["value"], saved["epoch"]

    def _improves(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise SegutilsError(
                f"cannot choose the best checkpoint: no {self.monitor!r} in the epoch's logs "
                f"({', '.join(sorted(logs)) or 'none'}). Pass validation data and compile with "
                "the metric (segutils.train.compile_model adds 'mean_iou').")
        value = _as_float(logs[self.monitor])
        if self._improves(value):
            self.best, self.best_epoch = value, epoch + 1
            save_model(self.model, self.run_dir / BEST)
            write_json(self.run_dir / BEST_INFO,
                       {"epoch": epoch + 1, "monitor": self.monitor, "value": value})

    def on_train_end(self, logs=None):
        if not self.diverged:
            save_model(self.model, self.run_dir / LAST)


class HistoryCSV(keras.callbacks.Callback):
    """``history.csv``: one row per completed epoch, across every session of a run.

    Rows from epochs at or after ``initial_epoch`` are dropped when a session starts: they
    belong to an epoch that is about to be repeated (the backup was older than the CSV).
    ``session`` counts resumptions, ``seconds`` is the epoch's wall time (validation included).
    """

    def __init__(self, path, initial_epoch: int = 0):
        super().__init__()
        self.path, self.initial_epoch = Path(path), int(initial_epoch)
        self.rows: list[dict] = []
        self._t0 = 0.0

    def on_train_begin(self, logs=None):
        self.rows = [r for r in read_history(self.path) if r["epoch"] <= self.initial_epoch]
        self.session = max((r["session"] for r in self.rows), default=-1) + 1

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "session": self.session,
               "seconds": round(time.perf_counter() - self._t0, 3)}
        lr = learning_rate(self.model.optimizer)
        if lr is not None:
            row["learning_rate"] = float(f"{lr:.7g}")
        row.update({k: _as_float(v) for k, v in (logs or {}).items() if k != "learning_rate"})
        self.rows.append(row)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        tmp = self.path.with_name(f".{self.path.name}.partial")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        replace(tmp, self.path)


class Progress(keras.callbacks.Callback):
    """``progress.json``: the epoch and batch running now, to watch a run from outside.

    Written after the first batch of every epoch and then at most every ``interval`` seconds,
    so that a run folder on a slow network drive (Colab's Drive) does not slow training down.
    """

    def __init__(self, path, epochs: int, interval: float = 1.0):
        super().__init__()
        self.path, self.epochs, self.interval = Path(path), int(epochs), float(interval)
        self.epoch, self._last = 0, -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if batch and now - self._last < self.interval:
            return
        self._last = now
        write_json(self.path, {"epoch": self.epoch + 1, "of": self.epochs, "batch": batch + 1,
                               "time": time.time()})


class StopOnNaN(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, with an explanation.

    Raising (instead of Keras' ``TerminateOnNaN``, which stops gracefully) means no callback
    gets to save the broken weights at the end of the epoch: the backup and ``best.keras`` keep
    the last good state.
    """

    def __init__(self, checkpoints: Checkpoints | None = None, learning_rate: float | None = None):
        super().__init__()
        self.checkpoints, self.learning_rate, self.epoch = checkpoints, learning_rate, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = _as_float(loss)
        if math.isfinite(value):
            return
        if self.checkpoints is not None:
            self.checkpoints.diverged = True
        lr = f" (now {self.learning_rate:g})" if self.learning_rate else ""
        raise TrainingDiverged(
            f"Training diverged: the loss became {value} at epoch {self.epoch + 1}, batch "
            f"{batch + 1}. Training stopped; nothing was saved from the broken weights (the "
            "backup and best.keras keep the last completed epoch).\n  How to fix: lower the "
            f"learning rate 10x{lr}; check that masks hold class IDs below the number of "
            "classes (or 255 = ignore); feed images scaled to [0, 1]; under mixed precision "
            "keep the model's 'logits' layer float32.")


class CosineSchedule(keras.callbacks.Callback):
    """Learning rate by epoch: linear warm-up, then cosine decay to ``floor * base_lr``.

    It depends only on the epoch number, so a resumed run continues the same curve.
    """

    def __init__(self, base_lr: float, epochs: int, warmup: int = 0, floor: float = 0.02):
        super().__init__()
        self.base_lr, self.epochs, self.warmup, self.floor = base_lr, epochs, warmup, floor

    def rate(self, epoch: int) -> float:
        if epoch < self.warmup:
            return self.base_lr * (epoch + 1) / (self.warmup + 1)
        span = max(1, self.epochs - self.warmup)
        t = min(1.0, (epoch - self.warmup) / span)
        return self.base_lr * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t)))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(epoch))


class PredictionImages(keras.callbacks.Callback):
    """Write image | truth | prediction strips of a fixed batch to TensorBoard each epoch.

    Watching the same pictures sharpen epoch by epoch tells more than the curves: a model that
    predicts only background has a fine pixel accuracy and an empty picture.
    """

    def __init__(self, log_dir, images, masks, classes, every: int = 1, max_images: int = 4):
        super().__init__()
        self.log_dir, self.every, self.classes = Path(log_dir), int(every), classes
        self.images = np.asarray(images, np.float32)[:max_images]
        self.masks = np.asarray(masks)[:max_images]
        self._writer = None

    def strips(self) -> np.ndarray:
        """(N, H, 3W, 3) uint8 pictures: the image, the true mask, the predicted mask."""
        from segutils import viz

        logits = self.model.predict(self.images, verbose=0)
        pred = np.argmax(np.asarray(logits, np.float32), axis=-1)
        rows = []
        for image, truth, guess in zip(self.images, self.masks, pred, strict=True):
            picture = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
            rows.append(np.concatenate([picture, viz.colorize(truth, self.classes),
                                        viz.colorize(guess.astype(np.uint8), self.classes)], 1))
        return np.stack(rows)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import tensorflow as tf  # summaries need TensorFlow; the caller checks it is installed

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / "predictions"))
        with self._writer.as_default():
            tf.summary.image("image | truth | prediction", self.strips(), step=epoch + 1,
                             max_outputs=len(self.images))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
