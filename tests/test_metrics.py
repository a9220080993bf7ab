"""Metrics against the FCN paper's definitions, written out independently with loops."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.metrics import confusion_matrix, scores


def reference_scores(y_true, y_pred, n):
    pairs = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t != 255]
    n_ij = [[sum(1 for t, p in pairs if t == i and p == j) for j in range(n)] for i in range(n)]
    t = [sum(row) for row in n_ij]
    col = [sum(n_ij[j][i] for j in range(n)) for i in range(n)]
    ious, accs, fw = [], [], 0.0
    for i in range(n):
        union = t[i] + col[i] - n_ij[i][i]
        if union:
            ious.append(n_ij[i][i] / union)
            fw += t[i] * n_ij[i][i] / union
        if t[i]:
            accs.append(n_ij[i][i] / t[i])
    total = sum(t)
    return {
        "pixel_accuracy": sum(n_ij[i][i] for i in range(n)) / total,
        "mean_accuracy": sum(accs) / len(accs),
        "mean_iou": sum(ious) / len(ious),
        "freq_weighted_iou": fw / total,
    }


def test_hand_example():
    # truth: 3 road (0), 1 car (1), 1 ignored; prediction gets one road pixel wrong.
    y_true = [0, 0, 0, 1, 255]
    y_pred = [0, 0, 1, 1, 0]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 0], [0, 0, 0]]
    s = scores(cm)
    assert math.isclose(s["pixel_accuracy"], 3 / 4)
    assert math.isclose(s["mean_iou"], (2 / 3 + 1 / 2) / 2)  # class 2 absent: left out
    assert np.isnan(s["per_class_iou"][2])


@settings(max_examples=60)
@given(st.integers(2, 5).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.sampled_from(list(range(n)) + [255]), st.integers(0, n - 1)),
             min_size=1, max_size=60))))
def test_against_loop_definitions(case):
    n, pairs = case
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    if all(t == 255 for t in y_true):
        return
    got = scores(confusion_matrix(np.array(y_true), np.array(y_pred), n))
    ref = reference_scores(y_true, y_pred, n)
    for key, value in ref.items():
        assert math.isclose(got[key], value, rel_tol=1e-12), key


def test_batches_add_up_to_the_dataset_matrix():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, (6, 8, 8))
    p = rng.integers(0, 4, (6, 8, 8))
    whole = confusion_matrix(t, p, 4)
    parts = sum(confusion_matrix(t[i], p[i], 4) for i in range(6))
    assert np.array_equal(whole, parts)


def test_out_of_range_prediction_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1], [0, 5], 3)
