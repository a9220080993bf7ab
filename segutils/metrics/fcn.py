"""Segmentation metrics from one confusion matrix, as defined in the FCN paper (section 5).

``n[i, j]`` counts pixels of true class ``i`` predicted as ``j``; ignored pixels are not counted.
The matrix is accumulated over a whole dataset before any score is taken: averaging per-batch
scores gives a different (wrong) number. Classes that appear neither in the truth nor in the
predictions have an undefined IoU (NaN) and are left out of the means, not counted as 0.

The streaming Keras metrics for ``model.compile`` live beside this module, in
:mod:`segutils.metrics.streaming`.
"""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX

__all__ = ["confusion_matrix", "scores"]


def confusion_matrix(
    y_true, y_pred, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """(n_classes, n_classes) int64 matrix of true-versus-predicted pixel counts.

    ``y_true`` and ``y_pred`` are integer arrays of the same shape; pixels whose true label is
    ``ignore_index`` are skipped (whatever their prediction). Add the matrices of several batches
    to score a whole dataset.

    One ``np.bincount`` over the codes ``n_classes * true + pred`` does the counting; ignored
    pixels get an extra code that is dropped afterwards, which is cheaper than compacting the
    arrays, and the codes are 16-bit when ``n_classes <= 255`` (a quarter of the memory
    traffic of int64). About 30 ms per hundred 256x256 masks on a 2-core machine
    (``benchmarks/confusion_matrix.py``).
    """
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} pixels but y_pred has {p.size}")
    n = int(n_classes)
    if t.dtype.kind not in "biu":
        t = t.astype(np.int64)
    if p.dtype.kind not in "biu":
        p = p.astype(np.int64)
    ignored = t == ignore_index
    for name, arr in (("y_true", t), ("y_pred", p)):
        _check_ids(name, arr, ignored, n, ignore_index)
    code_type = np.uint16 if n <= 255 else np.int64  # valid codes < n**2 fit in 16 bits
    codes = t.astype(code_type) * code_type(n) + p.astype(code_type)  # wraps only where ignored
    codes[ignored] = n * n
    counts = np.bincount(codes, minlength=n * n + 1)[: n * n]
    return counts.astype(np.int64).reshape(n, n)


def _check_ids(name: str, arr: np.ndarray, ignored: np.ndarray, n: int, ignore_index: int):
    """Raise when a counted pixel holds an ID outside 0..n-1 (fast path: min and max)."""
    if not arr.size or (arr.min() >= 0 and arr.max() < n):
        return
    bad = ((arr < 0) | (arr >= n)) & ~ignored
    if bad.any():
        raise ValueError(
            f"{name} holds IDs outside 0..{n - 1} (and {ignore_index} = ignore): "
            f"{np.unique(arr[bad])[:10].tolist()}"
        )


def scores(cm: np.ndarray) -> dict:
    """Pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU and per-class values.

    Per-class entries (``per_class_iou``, ``per_class_accuracy``, which is the recall
    ``n_ii / t_i`` and also returned as ``per_class_recall``, and ``per_class_precision``
    ``n_ii / sum_j n_ji``) are NaN where their denominator is 0; the means skip NaN. A class
    absent from the truth but predicted somewhere keeps IoU 0 (a real mistake), while a class
    absent from both is NaN and does not drag the mean down.
    """
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    true_count = cm.sum(axis=1)  # t_i
    pred_count = cm.sum(axis=0)  # sum_j n_ji
    union = true_count + pred_count - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(true_count > 0, tp / true_count, np.nan)
        iou = np.where(union > 0, tp / union, np.nan)
        precision = np.where(pred_count > 0, tp / pred_count, np.nan)
    total = true_count.sum()
    valid = union > 0
    return {
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "mean_accuracy": _nanmean(acc),
        "mean_iou": _nanmean(iou),
        "freq_weighted_iou": (
            float((true_count[valid] * iou[valid]).sum() / total) if total else float("nan")
        ),
        "per_class_iou": iou,
        "per_class_accuracy": acc,
        "per_class_recall": acc.copy(),
        "per_class_precision": precision,
    }


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")
