"""Exercises of notebook 09: the mean IoU of groups of classes, over a whole dataset, and the
frequency-weighted IoU."""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX
from segutils.exercises.core import Case, Mistake, close_arrays, exercise
from segutils.metrics import confusion_matrix, scores


def _close_or_both_nan(atol: float = 1e-9):
    """``close_arrays``, except that NaN matches NaN (so a mistake returning NaN is named)."""
    close = close_arrays(atol)

    def compare(expected, got):
        try:
            e, g = np.asarray(expected, np.float64), np.asarray(got, np.float64)
        except (TypeError, ValueError):
            return close(expected, got)
        if e.shape == g.shape and np.isnan(e).any() and (np.isnan(e) == np.isnan(g)).all():
            return close(np.nan_to_num(e), np.nan_to_num(g))
        problem = close(expected, got)
        if problem and e.shape == g.shape and np.isnan(g).any():
            problem += "\n  (NaN: 0/0 for an absent class, or NaN * 0 in a sum?)"
        return problem

    return compare


def _parts(cm):
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    return cm, tp, cm.sum(axis=1), cm.sum(axis=0)


def _divide(a, b):
    return np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)


def _hand_cm():
    # the notebook's matrix n: rows true road, car, person; columns predicted
    return np.array([[10, 1, 0], [2, 4, 0], [1, 0, 1]])


def _cm_with_absent_class():
    # 4 classes; class 2 is in neither truth nor prediction, class 3 only predicted (IoU 0)
    return np.array([[40, 2, 0, 3], [5, 10, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


def _random_cm(seed, n=6):
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 30, (n, n)) + np.diag(rng.integers(50, 200, n))
    cm[n - 1, :] = 0
    cm[:, n - 1] = 0  # the last class never appears
    return cm


# --- 09.1: mean IoU over groups of classes --------------------------------------------------


def mean_iou(cm) -> float:
    """The FCN paper's mean IU, classes with an empty union left out (09.3's plain mean)."""
    return scores(cm)["mean_iou"]


def _merged(cm, groups):
    """The group confusion matrix: entry (a, b) adds up every n_ij, i in group a, j in b."""
    cm = np.asarray(cm, np.float64)
    return np.array([[cm[np.ix_(list(a), list(b))].sum() for b in groups] for a in groups])


def grouped_mean_iou(cm, groups) -> float:
    """Reference: merge the classes of each group in both truth and prediction, then mean IoU."""
    return scores(_merged(cm, groups))["mean_iou"]


def _mean_of_class_ious_per_group(cm, groups):
    iou = scores(cm)["per_class_iou"]
    per_group = [iou[list(ids)] for ids in groups]
    return float(np.nanmean([g[~np.isnan(g)].mean() if (~np.isnan(g)).any() else np.nan
                             for g in per_group]))


def _rows_merged_twice(cm, groups):
    merged = _merged(cm, groups)
    tp, t = np.diag(merged), merged.sum(axis=1)
    return float(np.nanmean(_divide(tp, 2 * t - tp)))


def _diagonal_only(cm, groups):
    cm = np.asarray(cm, np.float64)
    merged = _merged(cm, groups)
    tp = np.array([np.diag(cm)[list(ids)].sum() for ids in groups])
    return float(np.nanmean(_divide(tp, merged.sum(axis=0) + merged.sum(axis=1) - tp)))


def _absent_group_as_zero(cm, groups):
    merged = _merged(cm, groups)
    tp = np.diag(merged)
    return float(np.nan_to_num(_divide(tp, merged.sum(0) + merged.sum(1) - tp)).mean())


def _plain_mean_iou(cm, groups):
    return mean_iou(cm)


@exercise(
    "09.1", "Compute the mean IoU over groups of classes (a confusion between two classes of "
    "one group counts as right)",
    reference=grouped_mean_iou, compare=_close_or_both_nan(),
    hint="Build the group confusion matrix first: entry (a, b) adds up every n_ij with class i "
         "in group a and class j in group b (rows and columns both merged). Then IoU_a = "
         "diagonal / (row sum + column sum - diagonal), averaged over the groups whose union "
         "is not 0.",
    mistakes=[
        Mistake(_plain_mean_iou, "That is the mean IoU of the classes; merge the classes of "
                "each group first."),
        Mistake(_mean_of_class_ious_per_group, "You averaged the class IoUs inside each group. "
                "IoUs do not add up like that: a car predicted as a bus is wrong for both "
                "classes, but right for the group 'vehicle'. Merge the counts, then divide."),
        Mistake(_rows_merged_twice, "The union used the row sums twice (the same axis). The "
                "union is true pixels (row sum) + predicted pixels (column sum) - diagonal."),
        Mistake(_diagonal_only, "Only the diagonal n_ii of each class counted as right. Inside "
                "a group, every n_ij (i and j both in the group) is a right answer for the "
                "group: sum the whole block."),
        Mistake(_absent_group_as_zero, "A group absent from truth and prediction has no IoU "
                "(0/0): leave it out of the mean instead of counting it as 0."),
    ],
)
def _cases_09_1():
    return [Case("the notebook's matrix n: road alone, car and person together as 'objects'",
                 (_hand_cm(), [[0], [1, 2]])),
            Case("4 classes in 2 groups of 2: [[0, 3], [1, 2]]",
                 (_cm_with_absent_class(), [[0, 3], [1, 2]])),
            Case("one class per group, [[0], [1], [2], [3]]; class 2 never appears",
                 (_cm_with_absent_class(), [[0], [1], [2], [3]])),
            Case("a random 6x6 matrix (seed 9) in 3 groups", (_random_cm(9),
                                                             [[0, 1], [2, 3, 4], [5]]))]


# --- 09.2: mean IoU over a dataset of batches ------------------------------------------------


def dataset_mean_iou(batches, n_classes: int) -> float:
    """Reference: one confusion matrix over all batches (255 ignored), then the mean IoU."""
    cm = sum(confusion_matrix(t, p, n_classes, IGNORE_INDEX) for t, p in batches)
    return scores(cm)["mean_iou"]


def _per_batch_average(batches, n_classes):
    return float(np.nanmean([scores(confusion_matrix(t, p, n_classes))["mean_iou"]
                             for t, p in batches]))


def _per_image_average(batches, n_classes):
    return float(np.nanmean([scores(confusion_matrix(ti, pi, n_classes))["mean_iou"]
                             for t, p in batches for ti, pi in zip(t, p, strict=True)]))


def _ignore_as_class_zero(batches, n_classes):
    cm = sum(confusion_matrix(np.where(np.asarray(t) == IGNORE_INDEX, 0, t), p, n_classes)
             for t, p in batches)
    return scores(cm)["mean_iou"]


def _batches(seed, n_batches=3, n_classes=4):
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n_batches):
        truth = rng.integers(0, n_classes, (2, 6, 6))
        truth[rng.random(truth.shape) < 0.1] = IGNORE_INDEX
        if b == 0:
            truth[truth == n_classes - 1] = 0  # the last class is missing from batch 0
        pred = np.where(rng.random(truth.shape) < 0.6, truth,
                        rng.integers(0, n_classes, truth.shape))
        pred = np.where(pred == IGNORE_INDEX, 0, pred)
        out.append((truth.astype(np.uint8), pred.astype(np.uint8)))
    return out


def _hand_batches():
    t1 = np.array([[[0, 0, 1], [0, 1, 255]]])
    p1 = np.array([[[0, 0, 1], [1, 1, 0]]])
    t2 = np.array([[[2, 2, 0], [2, 0, 0]]])
    p2 = np.array([[[2, 0, 0], [2, 0, 0]]])
    return [(t1, p1), (t2, p2)]


@exercise(
    "09.2", "Compute the mean IoU of a whole dataset given as a list of (truth, prediction) "
    "batches, with 255 = ignore",
    reference=dataset_mean_iou, compare=_close_or_both_nan(),
    hint="Add up one confusion matrix over every batch (segutils.metrics.confusion_matrix "
         "skips the 255 pixels), then take the mean IoU of the total once.",
    mistakes=[
        Mistake(_per_batch_average, "You averaged the per-batch mean IoUs. A batch without a "
                "class, or a small batch, then weighs as much as any other: accumulate one "
                "confusion matrix over all batches and score it once."),
        Mistake(_per_image_average, "You averaged per-image IoUs; the dataset mean IoU pools "
                "the pixels of all images in one confusion matrix first."),
        Mistake(_ignore_as_class_zero, "The 255 pixels are unlabelled: leave them out; do not "
                "count them as class 0."),
    ],
)
def _cases_09_2():
    return [Case("two hand-made batches, 3 classes", (_hand_batches(), 3)),
            Case("one batch", (_batches(1, n_batches=1), 4)),
            Case("three random batches, one without class 3 (seed 2)", (_batches(2), 4)),
            Case("five random batches (seed 3)", (_batches(3, n_batches=5), 4))]


# --- 09.3: frequency-weighted IoU ------------------------------------------------------------


def frequency_weighted_iou(cm) -> float:
    """Reference: sum_i t_i IoU_i / sum_k t_k, classes with an empty union left out."""
    return scores(cm)["freq_weighted_iou"]


def _weighted_by_predictions(cm):
    cm, tp, t, pred = _parts(cm)
    iou = _divide(tp, t + pred - tp)
    return float(np.nansum(pred * iou) / pred.sum())


def _plain_sum_with_nan(cm):
    cm, tp, t, pred = _parts(cm)
    return float((t * _divide(tp, t + pred - tp)).sum() / t.sum())


def _mean_of_weights(cm):
    cm, tp, t, pred = _parts(cm)
    iou = _divide(tp, t + pred - tp)
    return float(np.nanmean(t * iou) / t.sum())


@exercise(
    "09.3", "Compute the frequency-weighted IoU of a confusion matrix",
    reference=frequency_weighted_iou, compare=_close_or_both_nan(),
    hint="Weight each class's IoU by its number of true pixels t_i (row sum), add up, and "
         "divide by the number of labelled pixels.",
    mistakes=[
        Mistake(_weighted_by_predictions, "The weights are the true pixel counts t_i (row "
                "sums), not the predicted counts (column sums)."),
        Mistake(_plain_sum_with_nan, "An absent class has IoU NaN and weight 0, and 0 * NaN is "
                "NaN: leave such classes out of the sum (np.nansum)."),
        Mistake(_mean_of_weights, "Sum the weighted IoUs (then divide by the total), do not "
                "average them."),
        Mistake(mean_iou, "That is the plain mean IoU; weight each class by its pixel count."),
    ],
)
def _cases_09_3():
    return [Case("the notebook's matrix n (road, car, person)", (_hand_cm(),)),
            Case("an absent class and a class that is only predicted", (_cm_with_absent_class(),)),
            Case("a random 6x6 matrix (seed 4)", (_random_cm(4),))]
