"""Segmentation metrics from one confusion matrix, as defined in the FCN paper (section 5).

``n[i, j]`` counts pixels of true class ``i`` predicted as ``j``; ignored pixels are not counted.
The matrix is accumulated over a whole dataset before any score is taken: averaging per-batch
scores gives a different (wrong) number. Classes that appear neither in the truth nor in the
predictions have an undefined IoU (NaN) and are left out of the means, not counted as 0.
"""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX


def confusion_matrix(
    y_true, y_pred, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """(n_classes, n_classes) int64 matrix of true-versus-predicted pixel counts.

    ``y_true`` and ``y_pred`` are integer arrays of the same shape; pixels whose true label is
    ``ignore_index`` are skipped. Add the matrices of several batches to score a whole dataset.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} pixels but y_pred has {y_pred.size}")
    keep = y_true != ignore_index
    y_true, y_pred = y_true[keep], y_pred[keep]
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise ValueError(
                f"{name} holds IDs outside 0..{n_classes - 1} (and {ignore_index} = ignore): "
                f"{np.unique(arr[(arr < 0) | (arr >= n_classes)])[:10].tolist()}"
            )
    flat = y_true * n_classes + y_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores(cm: np.ndarray) -> dict:
    """Pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU and per-class values.

    Per-class entries are NaN where their denominator is 0; the means skip NaN.
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
        "per_class_precision": precision,
    }


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")
