"""Exercises 07.1-07.3: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segutils.exercises.nb07  # noqa: F401  (registers 07.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get

# --- independent right answers ------------------------------------------------------------------


def frequencies_by_loops(masks, n_classes):
    pixels = [0] * n_classes
    totals = [0] * n_classes
    for mask in masks:
        labelled = [int(v) for v in np.asarray(mask).ravel() if v != 255]
        for c in set(labelled):
            totals[c] += len(labelled)
        for v in labelled:
            pixels[v] += 1
    return [p / t if t else 0.0 for p, t in zip(pixels, totals, strict=True)]


def frequencies_vectorised(masks, n_classes):
    counts = np.zeros(n_classes)
    totals = np.zeros(n_classes)
    for m in masks:
        c = np.bincount(m[m != 255], minlength=n_classes)
        counts += c
        totals += (c > 0) * c.sum()
    return np.divide(counts, totals, out=np.zeros(n_classes), where=totals > 0)


def weights_by_sorting(frequencies):
    f = [float(v) for v in frequencies]
    present = sorted(v for v in f if v > 0)
    n = len(present)
    median = present[n // 2] if n % 2 else (present[n // 2 - 1] + present[n // 2]) / 2
    return [median / v if v > 0 else 0.0 for v in f]


def weights_masked(frequencies):
    f = np.asarray(frequencies, float)
    w = np.zeros_like(f)
    w[f > 0] = np.median(f[f > 0]) / f[f > 0]
    return w


def cross_entropy_loops(logits, labels, class_weights, ignore_index=255):
    logits = np.asarray(logits, float)
    total = weight_sum = 0.0
    for idx in np.ndindex(np.asarray(labels).shape):
        y = labels[idx]
        if y == ignore_index:
            continue
        z = logits[idx]
        log_p = z[y] - z.max() - np.log(np.exp(z - z.max()).sum())
        total -= class_weights[y] * log_p
        weight_sum += class_weights[y]
    return total / weight_sum if weight_sum > 0 else 0.0


def cross_entropy_vectorised(logits, labels, class_weights, ignore_index=255):
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    valid = labels != ignore_index
    y = np.where(valid, labels, 0)
    w = np.asarray(class_weights)[y] * valid
    nll = -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    return np.float32((w * nll).sum() / w.sum()) if w.sum() else 0


@pytest.mark.parametrize("ex_id, solution", [
    ("07.1", frequencies_by_loops), ("07.1", frequencies_vectorised),
    ("07.2", weights_by_sorting), ("07.2", weights_masked),
    ("07.3", cross_entropy_loops), ("07.3", cross_entropy_vectorised),
])
def test_accepts_right_answers(ex_id, solution, capsys):
    check(ex_id, solution)
    assert f"Exercise {ex_id} passed" in capsys.readouterr().out


# --- plausible wrong answers --------------------------------------------------------------------


def freq_pixel_definition(masks, n_classes):
    counts = sum(np.bincount(m[m != 255], minlength=n_classes) for m in masks)
    return counts / counts.sum()


def freq_with_ignored(masks, n_classes):
    counts, totals = np.zeros(n_classes), np.zeros(n_classes)
    for m in masks:
        c = np.bincount(m[m != 255], minlength=n_classes)
        counts += c
        totals += (c > 0) * m.size
    return np.divide(counts, totals, out=np.zeros(n_classes), where=totals > 0)


def freq_mean_of_shares(masks, n_classes):
    shares = [[] for _ in range(n_classes)]
    for m in masks:
        c = np.bincount(m[m != 255], minlength=n_classes)
        for k in np.flatnonzero(c):
            shares[k].append(c[k] / c.sum())
    return [float(np.mean(s)) if s else 0.0 for s in shares]


def freq_nan(masks, n_classes):
    counts, totals = np.zeros(n_classes), np.zeros(n_classes)
    for m in masks:
        c = np.bincount(m[m != 255], minlength=n_classes)
        counts += c
        totals += (c > 0) * c.sum()
    with np.errstate(invalid="ignore"):
        return counts / totals


def freq_stub(masks, n_classes):
    raise NotImplementedError("Exercise 07.1")


@pytest.mark.parametrize("wrong, hint", [
    (freq_pixel_definition, "other definition"),
    (freq_with_ignored, "Ignored pixels"),
    (freq_mean_of_shares, "Pool the pixels"),
    (freq_nan, "NaN"),
    (freq_stub, "not solved yet"),
])
def test_07_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check("07.1", wrong)


def weights_median_of_all(frequencies):
    f = np.asarray(frequencies, float)
    return np.divide(np.median(f), f, out=np.zeros_like(f), where=f > 0)


def weights_upside_down(frequencies):
    f = np.asarray(frequencies, float)
    return f / np.median(f[f > 0])


def weights_infinite(frequencies):
    f = np.asarray(frequencies, float)
    with np.errstate(divide="ignore"):
        return np.median(f[f > 0]) / f


def weights_lower_median(frequencies):
    f = np.asarray(frequencies, float)
    present = np.sort(f[f > 0])
    return np.divide(present[len(present) // 2], f, out=np.zeros_like(f), where=f > 0)


def weights_mean(frequencies):
    f = np.asarray(frequencies, float)
    return np.divide(f[f > 0].mean(), f, out=np.zeros_like(f), where=f > 0)


def weights_inverse_only(frequencies):
    f = np.asarray(frequencies, float)
    return np.divide(1.0, f, out=np.zeros_like(f), where=f > 0)


@pytest.mark.parametrize("wrong, hint", [
    (weights_median_of_all, "classes that occur only"),
    (weights_upside_down, "Upside down"),
    (weights_infinite, "infinite weight"),
    (weights_lower_median, "two middle values"),
    (weights_mean, "not the mean"),
    (weights_inverse_only, None),
])
def test_07_2_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("07.2", wrong)
    if hint:
        assert hint in str(info.value)


def ce_by_count(logits, labels, class_weights, ignore_index=255):
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    valid = labels != ignore_index
    y = np.where(valid, labels, 0)
    nll = -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    return (np.asarray(class_weights)[y] * valid * nll).sum() / max(valid.sum(), 1)


def ce_ignores_the_weights(logits, labels, class_weights, ignore_index=255):
    return cross_entropy_loops(logits, labels, [1.0] * len(class_weights), ignore_index)


def ce_unstable(logits, labels, class_weights, ignore_index=255):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        valid = labels != ignore_index
        y = np.where(valid, labels, 0)
        w = np.asarray(class_weights)[y] * valid
        nll = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
        return (w * nll).sum() / w.sum() if w.sum() else 0.0


def ce_nan_when_empty(logits, labels, class_weights, ignore_index=255):
    value = cross_entropy_loops(logits, labels, class_weights, ignore_index)
    return value if (labels != ignore_index).any() else float("nan")


def ce_ignored_as_background(logits, labels, class_weights, ignore_index=255):
    """Relabels the ignored pixels as class 0 instead of leaving them out."""
    return cross_entropy_loops(logits, np.where(labels == ignore_index, 0, labels),
                               class_weights, ignore_index)


def ce_hard_coded_255(logits, labels, class_weights, ignore_index=255):
    return cross_entropy_loops(logits, labels, class_weights, 255)


@pytest.mark.parametrize("wrong, hint", [
    (ce_by_count, "not by their number"),
    (ce_ignores_the_weights, "weight of its true class"),
    (ce_unstable, "overflow"),
    (ce_nan_when_empty, "NaN"),
    (ce_ignored_as_background, "counted as class 0"),
    (ce_hard_coded_255, None),
])
def test_07_3_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("07.3", wrong)
    if hint:
        assert hint in str(info.value)


def test_cases_include_an_edge_case_and_the_tasks_read_well():
    for ex_id in ("07.1", "07.2", "07.3"):
        ex = get(ex_id)
        names = [c.name for c in ex.make_cases()]
        assert len(names) >= 4 and any(n.startswith("edge case") for n in names)
        assert ex.task[0].isupper() and not ex.task.endswith(".")


def test_importing_the_exercises_does_not_import_keras():
    code = "import sys, segutils.exercises.nb07; print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-1000:]
