"""Exercises 10.1-10.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest

from segutils.exercises import ExerciseFailed, check

# --- independent right answers -----------------------------------------------------------------


def lost_share_loops(mask, class_id, factor):
    """Pixel by pixel: after the round trip, pixel (i, j) carries the kept pixel
    (factor * (i // factor), factor * (j // factor))."""
    h, w = len(mask), len(mask[0])
    total = lost = 0
    for i in range(h):
        for j in range(w):
            if mask[i][j] == class_id:
                total += 1
                if mask[factor * (i // factor)][factor * (j // factor)] != class_id:
                    lost += 1
    return float("nan") if total == 0 else lost / total


def iou_at_label_size_tf(logits, mask):
    """With TensorFlow's resize and a bincount confusion matrix."""
    import tensorflow as tf

    up = tf.image.resize(np.asarray(logits, np.float32)[None], np.shape(mask),
                         method="bilinear", antialias=False)[0].numpy()
    pred = up.argmax(-1).ravel()
    truth = np.asarray(mask).ravel()
    keep = truth != 255
    n = np.asarray(logits).shape[-1]
    cm = np.bincount(truth[keep] * n + pred[keep], minlength=n * n).reshape(n, n).astype(float)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    return float((tp[union > 0] / union[union > 0]).mean())


@pytest.mark.parametrize("answer", [lost_share_loops])
def test_10_1_right_answer_passes(answer, capsys):
    check("10.1", answer)
    assert "Exercise 10.1 passed: 5 of 5 cases." in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda m, c, f: float(((np.asarray(m) == c)
                            & (np.asarray(m)[::f, ::f].repeat(f, 0).repeat(f, 1)
                               [:len(m), :len(m[0])] != c)).sum() / np.asarray(m).size),
     "divided by all pixels"),
    (lambda m, c, f: 1 - lost_share_loops(m, c, f), "share that survives"),
    (lambda m, c, f: 0.0 if lost_share_loops(m, c, f) != lost_share_loops(m, c, f)
     else lost_share_loops(m, c, f), "expected NaN"),
])
def test_10_1_mistakes_get_their_hint(wrong, words):
    with pytest.raises(ExerciseFailed, match=words):
        check("10.1", wrong)


def test_10_1_a_thin_pole_is_lost_entirely_at_half_size():
    from segutils.exercises.nb10 import _pole_scene, lost_share

    # column 5 is never kept by mask[::2, ::2], and the 1-px pole lies only there
    assert lost_share(_pole_scene(1), 2, 2) == 1.0
    assert lost_share(_pole_scene(2), 2, 2) < 1.0


def test_10_2_right_answer_passes(capsys):
    check("10.2", iou_at_label_size_tf)
    assert "Exercise 10.2 passed: 3 of 3 cases." in capsys.readouterr().out


@pytest.mark.parametrize("mistake, words", [
    ("_mask_shrunk_instead", "shrank the mask"),
    ("_argmax_then_nearest", "argmax first"),
    ("_ignore_counted", "counted the ignored pixels"),
])
def test_10_2_mistakes_get_their_hint(mistake, words):
    from segutils.exercises import nb10

    with pytest.raises(ExerciseFailed, match=words):
        check("10.2", getattr(nb10, mistake))


def test_10_2_prints_a_scalar_miss_plainly():
    with pytest.raises(ExerciseFailed, match=r"expected \d\.\d{4}, got 0\.1234"):
        check("10.2", lambda logits, mask: 0.1234)
