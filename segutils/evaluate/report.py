"""Evaluate a model on a whole dataset: one confusion matrix, the FCN metrics, a report.

Every batch adds to a single confusion matrix and the scores are taken once at the end, as in
the FCN paper's ``score.py``: averaging per-batch IoUs gives a different number, and counting a
class that never appears as IoU 0 under-reports (see :mod:`segutils.metrics`). Along the way the
evaluation keeps each image's own mean IoU, and the ``k`` worst images with their predictions,
because the mean alone never shows *where* a model fails.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from segutils.data.classes import IGNORE_INDEX, ClassInfo
from segutils.metrics import confusion_matrix, scores

SUMMARY_KEYS = ("pixel_accuracy", "mean_accuracy", "mean_iou", "freq_weighted_iou")
SUMMARY_LABELS = {"pixel_accuracy": "pixel accuracy", "mean_accuracy": "mean accuracy",
                  "mean_iou": "mean IoU", "freq_weighted_iou": "frequency-weighted IoU"}


@dataclasses.dataclass
class FailureCase:
    """One evaluated image: its position in the dataset, its own mean IoU and the arrays."""

    index: int
    iou: float
    image: np.ndarray
    mask: np.ndarray
    prediction: np.ndarray


def _as_classes(classes, n_classes: int) -> ClassInfo:
    from segutils.viz import default_classes

    if classes is None:
        return default_classes(n_classes)
    if isinstance(classes, ClassInfo):
        info = classes
    else:  # a list of names: VOC colours
        names = tuple(str(n) for n in classes)
        info = ClassInfo(names, default_classes(len(names)).colors)
    if info.n_classes != n_classes:
        raise ValueError(f"the model predicts {n_classes} classes but {info.n_classes} class "
                         f"names were given ({', '.join(info.names)})")
    return info


def _nan_to_none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@dataclasses.dataclass
class EvaluationReport:
    """The result of :func:`evaluate`: the confusion matrix and everything derived from it.

    ``print(report)`` shows the per-class table; :meth:`to_json` and :meth:`to_markdown` give
    the same numbers for files; :meth:`save` writes both. ``per_image_iou`` holds each image's
    own mean IoU (dataset order) and ``worst`` the ``k`` lowest, with images and predictions.
    """

    confusion: np.ndarray
    classes: ClassInfo
    n_images: int
    per_image_iou: np.ndarray
    worst: list[FailureCase]
    seconds: float = 0.0
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def scores(self) -> dict:
        return scores(self.confusion)

    @property
    def mean_iou(self) -> float:
        return self.scores["mean_iou"]

    @property
    def pixel_accuracy(self) -> float:
        return self.scores["pixel_accuracy"]

    @property
    def mean_accuracy(self) -> float:
        return self.scores["mean_accuracy"]

    @property
    def freq_weighted_iou(self) -> float:
        return self.scores["freq_weighted_iou"]

    @property
    def n_pixels(self) -> int:
        return int(self.confusion.sum())

    def per_class(self) -> list[dict]:
        """One dict per class: id, name, iou, precision, recall, truth and predicted shares."""
        s, cm = self.scores, self.confusion
        total = max(int(cm.sum()), 1)
        return [
            {"id": i, "name": name,
             "iou": _nan_to_none(float(s["per_class_iou"][i])),
             "precision": _nan_to_none(float(s["per_class_precision"][i])),
             "recall": _nan_to_none(float(s["per_class_recall"][i])),
             "pixels": int(cm[i].sum()), "share": float(cm[i].sum() / total),
             "predicted_share": float(cm[:, i].sum() / total)}
            for i, name in enumerate(self.classes.names)
        ]

    def to_dict(self) -> dict:
        s = self.scores
        return {
            **self.meta,
            "n_images": self.n_images,
            "n_pixels": self.n_pixels,
            "seconds": round(self.seconds, 3),
            **{key: _nan_to_none(float(s[key])) for key in SUMMARY_KEYS},
            "classes_present": int((~np.isnan(s["per_class_iou"])).sum()),
            "per_class": self.per_class(),
            "confusion_matrix": self.confusion.tolist(),
            "worst_images": [{"index": c.index, "iou": _nan_to_none(c.iou)} for c in self.worst],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON text (NaN written as null); also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    def _rows(self) -> list[tuple[str, ...]]:
        def fmt(v):
            return "-" if v is None else f"{v:.3f}"

        return [(str(r["id"]), r["name"], fmt(r["iou"]), fmt(r["precision"]), fmt(r["recall"]),
                 f"{100 * r['share']:.1f}%") for r in self.per_class()]

    def _summary_line(self) -> str:
        s = self.scores
        present = int((~np.isnan(s["per_class_iou"])).sum())
        parts = [f"{SUMMARY_LABELS[k]} {s[k]:.3f}" for k in SUMMARY_KEYS]
        return (f"{' | '.join(parts)}\n{self.n_images} images, {self.n_pixels:,} labelled pixels, "
                f"{present} of {self.classes.n_classes} classes present")

    def table(self) -> str:
        """A plain-text table for the terminal and notebooks."""
        head = ("id", "class", "IoU", "precision", "recall", "share")
        rows = [head, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) if i == 1 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                 for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join([*lines, "", self._summary_line()])

    def to_markdown(self, path: str | Path | None = None) -> str:
        """A markdown table (for a README or an issue); also written to ``path`` if given."""
        title = self.meta.get("model", "model")
        where = " ".join(str(self.meta[k]) for k in ("data", "split") if k in self.meta)
        lines = [f"## Evaluation of {title}" + (f" on {where}" if where else ""), "",
                 "| id | class | IoU | precision | recall | share of pixels |",
                 "|---:|:---|---:|---:|---:|---:|"]
        lines += [f"| {' | '.join(r)} |" for r in self._rows()]
        lines += ["", *self._summary_line().split("\n"), "",
                  "A dash marks an undefined value (nothing in its denominator). A class absent "
                  "from both truth and prediction has no IoU and is left out of the means (FCN "
                  "paper, section 5)."]
        text = "\n".join(lines) + "\n"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    def save(self, out_dir: str | Path, stem: str = "evaluation") -> tuple[Path, Path]:
        """Write ``stem.json`` and ``stem.md`` into ``out_dir``; returns both paths."""
        out_dir = Path(out_dir)
        paths = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        self.to_json(paths[0])
        self.to_markdown(paths[1])
        return paths

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"EvaluationReport(mean_iou={self.scores['mean_iou']:.4f}, "
                f"n_images={self.n_images}, n_classes={self.classes.n_classes})")

    # plots live in segutils.evaluate.plots (matplotlib is imported only when drawing)
    def plot_confusion_matrix(self, **kwargs):
        from segutils.evaluate.plots import plot_confusion_matrix

        return plot_confusion_matrix(self.confusion, self.classes, **kwargs)

    def plot_per_class_iou(self, **kwargs):
        from segutils.evaluate.plots import plot_per_class_iou

        return plot_per_class_iou(self, **kwargs)

    def plot_worst(self, **kwargs):
        from segutils.evaluate.plots import plot_worst

        return plot_worst(self, **kwargs)


def _batches(dataset, batch_size: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """(images, masks (B, H, W)) NumPy batches from a tf.data.Dataset, an iterable of batches,
    or a pair of arrays (images, masks) cut into batches."""
    if isinstance(dataset, tuple) and len(dataset) == 2 and np.ndim(dataset[1]) in (3, 4):
        all_images, all_masks = dataset
        dataset = ((all_images[s:s + batch_size], all_masks[s:s + batch_size])
                   for s in range(0, len(all_images), batch_size))
    for batch in dataset:
        images, masks = np.asarray(batch[0]), np.asarray(batch[1])  # (weights not needed)
        if masks.ndim == 4 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        yield images, masks


def evaluate(model, dataset, classes: ClassInfo | Sequence[str] | None = None, *,
             ignore_index: int = IGNORE_INDEX, worst_k: int = 6, batch_size: int = 8,
             image_size=None, meta: dict | None = None) -> EvaluationReport:
    """Run ``model`` over every batch of ``dataset`` and score the whole set at once.

    Parameters
    ----------
    model:
        A Keras model from float32 images in [0, 1] to logits (or probabilities), or a path to
        a ``.keras`` file (see :func:`segutils.evaluate.load_model`).
    dataset:
        ``(images, masks)`` batches: a ``tf.data.Dataset`` from
        :func:`segutils.data.pipeline.make_dataset` (use ``shuffle=False`` only for a stable
        order of ``per_image_iou``), any iterable of NumPy batches, or one pair of arrays
        ``(images, masks)`` (cut into batches of ``batch_size``). Masks are (B, H, W) class
        IDs with ``ignore_index`` for unlabelled pixels. When the model's output is smaller or
        larger than the masks, its logits are resized (bilinear) to the mask size before the
        argmax, so the scores are always taken at the labels' own resolution.
    image_size:
        (height, width) to run the model at (images are resized to it, bilinearly); default:
        the model's fixed input size, else the images' own size. A model trained at half
        resolution is scored on full-size labels this way.
    classes:
        The class table or the class names (default: ``class 0``, ``class 1``, ...).
    worst_k:
        How many of the lowest-scoring images to keep (with image, truth, prediction).
    meta:
        Extra fields for the report (model name, data folder, split, ...).
    """
    from segutils.evaluate.predict import predict_logits

    if isinstance(model, (str, Path)):
        from segutils.evaluate.deploy import load_model

        meta = {"model": str(model), **(meta or {})}
        model = load_model(model)
    meta = {"model": getattr(model, "name", "model"), **(meta or {})}
    start = time.perf_counter()
    cm, per_image, heap, n_classes, index = None, [], [], None, 0
    for images, masks in _batches(dataset, batch_size):
        logits = predict_logits(model, images, out_size=masks.shape[1:3], image_size=image_size)
        if n_classes is None:
            n_classes = logits.shape[-1]
            cm = np.zeros((n_classes, n_classes), np.int64)
        predictions = np.argmax(logits, axis=-1).astype(np.uint8)
        for image, mask, prediction in zip(images, masks, predictions, strict=True):
            image_cm = confusion_matrix(mask, prediction, n_classes, ignore_index)
            cm += image_cm
            iou = scores(image_cm)["mean_iou"]
            per_image.append(iou)
            if worst_k > 0 and not math.isnan(iou):
                item = (-iou, -index, index)  # max-heap on IoU: pop the best of the kept
                case = FailureCase(index, iou, _to_uint8(image), mask.astype(np.uint8),
                                   prediction)
                if len(heap) < worst_k:
                    heapq.heappush(heap, (*item, case))
                elif -heap[0][0] > iou:
                    heapq.heapreplace(heap, (*item, case))
            index += 1
    if cm is None:
        raise ValueError("the dataset is empty: no batch to evaluate")
    worst = sorted((entry[-1] for entry in heap), key=lambda c: (c.iou, c.index))
    return EvaluationReport(cm, _as_classes(classes, n_classes), index, np.asarray(per_image),
                            worst, time.perf_counter() - start, meta)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(image.astype(np.float32) * 255), 0, 255).astype(np.uint8)
