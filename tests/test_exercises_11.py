"""Exercises 11.1-11.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest

from segutils.exercises import ExerciseFailed, check

# --- independent right answers ------------------------------------------------------------------


def field_by_walking_back(layers):
    """Walk from one output pixel back to the image: the span of input pixels it reads."""
    span = 1
    for kernel, stride, *rest in reversed([tuple(layer) for layer in layers]):
        dilation = rest[0] if rest else 1
        span = (span - 1) * stride + (kernel - 1) * dilation + 1
    return span


def unpool_by_loops(values, indices):
    values, indices = np.asarray(values), np.asarray(indices)
    out = np.zeros((2 * values.shape[0], 2 * values.shape[1]), np.float32)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            row, col = divmod(int(indices[i, j]), 2)
            out[2 * i + row, 2 * j + col] = values[i, j]
    return out


@pytest.mark.parametrize("ex_id, solution", [("11.1", field_by_walking_back),
                                             ("11.2", unpool_by_loops)])
def test_accepts_right_answers(ex_id, solution, capsys):
    check(ex_id, solution)
    assert f"Exercise {ex_id} passed" in capsys.readouterr().out


# --- plausible wrong answers ---------------------------------------------------------------------


def field_without_dilation(layers):
    return field_by_walking_back([(k, s) for k, s, *_ in layers])


def field_with_own_stride(layers):
    field, jump = 1, 1
    for kernel, stride, *rest in layers:
        jump *= stride
        field += (kernel - 1) * (rest[0] if rest else 1) * jump
    return field


def nearest_upsampling(values, indices):
    return np.kron(np.asarray(values, np.float32), np.ones((2, 2), np.float32))


def column_major(values, indices):
    indices = np.asarray(indices)
    return unpool_by_loops(values, (indices % 2) * 2 + indices // 2)


@pytest.mark.parametrize("ex_id, wrong, hint", [
    ("11.1", field_without_dilation, "spans (kernel - 1) * dilation + 1"),
    ("11.1", field_with_own_stride, "own stride does not widen"),
    ("11.2", nearest_upsampling, "not nearest-neighbour upsampling"),
    ("11.2", column_major, "row is index // 2"),
])
def test_plausible_mistakes_get_their_hint(ex_id, wrong, hint):
    with pytest.raises(ExerciseFailed, match="failed on case") as failure:
        check(ex_id, wrong)
    assert hint in str(failure.value)


def test_the_cases_use_the_segutils_references():
    from segutils.exercises import nb11

    assert nb11.receptive_field([(3, 1), (3, 1), (2, 2)]) == 6
    out = nb11.unpool(np.array([[7.0]]), np.array([[2]]))
    np.testing.assert_array_equal(out, [[0, 0], [7, 0]])
