"""Exercises 09.1-09.3: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest

import segutils.exercises.nb09  # noqa: F401  (registers 09.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check

# --- independent right answers (loops over the FCN formulas) ----------------------------------


def mean_iou_loops(cm):
    n = len(cm)
    ious = []
    for i in range(n):
        t_i = sum(cm[i][j] for j in range(n))
        predicted = sum(cm[j][i] for j in range(n))
        union = t_i + predicted - cm[i][i]
        if union:
            ious.append(cm[i][i] / union)
    return sum(ious) / len(ious)


def mean_iou_numpy(cm):
    cm = np.asarray(cm, float)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    return (tp[union > 0] / union[union > 0]).mean()


def dataset_mean_iou_loops(batches, n_classes):
    cm = [[0] * n_classes for _ in range(n_classes)]
    for truth, pred in batches:
        for t, p in zip(np.ravel(truth), np.ravel(pred), strict=True):
            if t != 255:
                cm[int(t)][int(p)] += 1
    return mean_iou_loops(cm)


def dataset_mean_iou_bincount(batches, n_classes):
    t = np.concatenate([np.ravel(b[0]) for b in batches]).astype(int)
    p = np.concatenate([np.ravel(b[1]) for b in batches]).astype(int)
    keep = t != 255
    cm = np.bincount(t[keep] * n_classes + p[keep], minlength=n_classes ** 2)
    return mean_iou_numpy(cm.reshape(n_classes, n_classes))


def fw_iou_loops(cm):
    n = len(cm)
    total = sum(sum(row) for row in cm)
    acc = 0.0
    for i in range(n):
        t_i = sum(cm[i])
        union = t_i + sum(cm[j][i] for j in range(n)) - cm[i][i]
        if union:
            acc += t_i * cm[i][i] / union
    return acc / total


@pytest.mark.parametrize("ex_id, solution", [
    ("09.1", mean_iou_loops), ("09.1", mean_iou_numpy),
    ("09.2", dataset_mean_iou_loops), ("09.2", dataset_mean_iou_bincount),
    ("09.3", fw_iou_loops),
])
def test_accepts_right_answers(ex_id, solution, capsys):
    check(ex_id, solution)
    assert f"Exercise {ex_id} passed" in capsys.readouterr().out


# --- plausible wrong answers ------------------------------------------------------------------


def iou_parts(cm):
    cm = np.asarray(cm, float)
    return np.diag(cm), cm.sum(1), cm.sum(0)


def miou_absent_zero(cm):
    tp, t, p = iou_parts(cm)
    union = t + p - tp
    return np.where(union > 0, tp / np.maximum(union, 1), 0).mean()


def miou_row_only(cm):
    tp, t, _ = iou_parts(cm)
    return (tp[t > 0] / t[t > 0]).mean()


def miou_no_minus(cm):
    tp, t, p = iou_parts(cm)
    u = t + p
    return (tp[u > 0] / u[u > 0]).mean()


def miou_transposed_wrongly(cm):
    return float(np.trace(np.asarray(cm)) / np.asarray(cm).sum())


def miou_stub(cm):
    raise NotImplementedError("Exercise 09.1")


@pytest.mark.parametrize("wrong, hint", [
    (miou_absent_zero, "leave it out of the mean"),
    (miou_row_only, "mean accuracy"),
    (miou_no_minus, "counts the diagonal twice"),
    (miou_transposed_wrongly, "pixel accuracy"),
    (miou_stub, "not solved yet"),
])
def test_09_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check("09.1", wrong)


def dataset_per_batch(batches, n_classes):
    return np.mean([dataset_mean_iou_loops([b], n_classes) for b in batches])


def dataset_ignore_as_zero(batches, n_classes):
    return dataset_mean_iou_loops([(np.where(t == 255, 0, t), p) for t, p in batches],
                                  n_classes)


def dataset_returns_nothing(batches, n_classes):
    dataset_mean_iou_loops(batches, n_classes)


@pytest.mark.parametrize("wrong, hint", [
    (dataset_per_batch, "averaged the per-batch"),
    (dataset_ignore_as_zero, "255 pixels are unlabelled"),
    (dataset_returns_nothing, "missing `return`"),
])
def test_09_2_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check("09.2", wrong)


def fw_by_columns(cm):
    tp, t, p = iou_parts(cm)
    u = t + p - tp
    iou = np.divide(tp, u, out=np.zeros_like(tp), where=u > 0)
    return (p * iou).sum() / p.sum()


def fw_nan_sum(cm):
    tp, t, p = iou_parts(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (t * tp / (t + p - tp)).sum() / t.sum()


@pytest.mark.parametrize("wrong, hint", [
    (fw_by_columns, "not the predicted counts"),
    (fw_nan_sum, "0 \\* NaN is NaN"),
    (mean_iou_loops, "plain mean IoU"),
])
def test_09_3_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check("09.3", wrong)
