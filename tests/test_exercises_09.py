"""Exercises 09.1-09.3: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

from pathlib import Path

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


def grouped_by_relabelling_pixels(cm, groups):
    """Rebuild pixel pairs from the matrix, relabel each class by its group, count again."""
    group_of = {c: g for g, ids in enumerate(groups) for c in ids}
    merged = [[0] * len(groups) for _ in groups]
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            merged[group_of[i]][group_of[j]] += int(count)
    return mean_iou_loops(merged)


def grouped_by_adding_rows_then_columns(cm, groups):
    cm = np.asarray(cm, float)
    rows = np.stack([cm[list(ids)].sum(axis=0) for ids in groups])
    both = np.stack([rows[:, list(ids)].sum(axis=1) for ids in groups], axis=1)
    return mean_iou_numpy(both)


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
    ("09.1", grouped_by_relabelling_pixels), ("09.1", grouped_by_adding_rows_then_columns),
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


def merged(cm, groups):
    return [[sum(cm[i][j] for i in a for j in b) for b in groups] for a in groups]


def grouped_absent_zero(cm, groups):
    tp, t, p = iou_parts(merged(cm, groups))
    union = t + p - tp
    return np.where(union > 0, tp / np.maximum(union, 1), 0).mean()


def grouped_rows_on_both_sides(cm, groups):  # the wrong axis: row sums stand in for columns
    tp, t, _ = iou_parts(merged(cm, groups))
    union = 2 * t - tp
    return (tp[union > 0] / union[union > 0]).mean()


def grouped_class_ious_averaged(cm, groups):
    cm = np.asarray(cm, float)
    tp, t, p = iou_parts(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (t + p - tp)
    means = [np.nanmean(iou[ids]) for ids in groups if not np.isnan(iou[ids]).all()]
    return float(np.mean(means))


def grouped_ignoring_groups(cm, groups):
    return mean_iou_numpy(cm)


def grouped_stub(cm, groups):
    raise NotImplementedError("Exercise 09.1")


@pytest.mark.parametrize("wrong, hint", [
    (grouped_absent_zero, "leave it out of the mean"),
    (grouped_rows_on_both_sides, "the same axis"),
    (grouped_class_ious_averaged, "averaged the class IoUs inside each group"),
    (grouped_ignoring_groups, "merge the classes of each group first"),
    (grouped_stub, "not solved yet"),
])
def test_09_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check("09.1", wrong)


def test_09_cases_named_after_the_notebook_use_its_matrix():
    """Case names that promise the notebook's matrix n must hold exactly that matrix."""
    import nbformat

    from segutils.exercises import get
    path = Path(__file__).resolve().parent.parent / "notebooks" / "09_evaluation.ipynb"
    notebook = nbformat.read(path, as_version=4)
    printed = next("".join(o.get("text", "")) for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs if "confusion matrix (rows: truth" in o.get("text", ""))
    n = np.array([[int(v) for v in line.strip(" []").split()]
                  for line in printed.splitlines()[1:] if line.strip()])
    for ex_id in ("09.1", "09.3"):
        named = [c for c in get(ex_id).make_cases() if "notebook's matrix n" in c.name]
        assert named and all(np.array_equal(c.args[0], n) for c in named)


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
