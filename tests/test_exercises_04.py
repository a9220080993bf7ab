"""Exercises 04.1 and 04.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segutils.exercises.nb04  # noqa: F401  (registers 04.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get

# --- independent right answers ------------------------------------------------------------------


def kernel_by_loops(factor_rows, factor_cols):
    """Straight from linear interpolation: per axis a tent of half-width f, centred on the kernel,
    over 2f taps for an even factor and 2f - 1 for an odd one."""
    def taps(f):
        k = 2 * f - f % 2
        centre = (k - 1) / 2
        return [max(0.0, 1 - abs(t - centre) / f) for t in range(k)]

    rows, cols = taps(factor_rows), taps(factor_cols)
    w = np.zeros((len(rows), len(cols)))
    for i, a in enumerate(rows):
        for j, b in enumerate(cols):
            w[i, j] = a * b
    return w


def kernel_by_interpolating_a_dot(factor_rows, factor_cols):
    """What the kernel *is*: the weights a single input pixel spreads over the outputs when an
    image is upsampled by linear interpolation along rows, then along columns."""
    def spread(f):
        k = 2 * f - f % 2
        centre = (k - 1) / 2
        # output t sits at input coordinate (t - centre) / f relative to the pixel
        return np.interp((np.arange(k) - centre) / f, [-1, 0, 1], [0, 1, 0])

    return np.asarray(spread(factor_rows))[:, None] * np.asarray(spread(factor_cols))[None, :]


def size_by_stamping(size, kernel_size, strides, padding):
    """Stamp the kernel for every input pixel and measure how far the stamps reach."""
    if padding == "same":
        return size * strides
    reach = max(i * strides + kernel_size for i in range(size))
    return max(reach, size * strides)


def size_formula(size, kernel_size, strides, padding):
    if padding == "same":
        return size * strides
    return size * strides + max(kernel_size - strides, 0)


@pytest.mark.parametrize("solution", [kernel_by_loops, kernel_by_interpolating_a_dot])
def test_04_1_accepts_right_answers(solution, capsys):
    check("04.1", solution)
    assert "Exercise 04.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("solution", [size_by_stamping, size_formula])
def test_04_2_accepts_right_answers(solution, capsys):
    check("04.2", solution)
    assert "Exercise 04.2 passed" in capsys.readouterr().out


# --- plausible wrong answers --------------------------------------------------------------------


def kernel_square(factor_rows, factor_cols):
    return kernel_by_loops(max(factor_rows, factor_cols), max(factor_rows, factor_cols))


def kernel_transposed(factor_rows, factor_cols):
    return kernel_by_loops(factor_cols, factor_rows)


def kernel_always_2f(factor_rows, factor_cols):
    def taps(f):
        k = 2 * f
        return 1 - np.abs(np.arange(k) - (k - 1) / 2) / f

    return np.outer(taps(factor_rows), taps(factor_cols))


def kernel_factor_as_size(factor_rows, factor_cols):
    def taps(k):
        f = (k + 1) // 2
        return 1 - np.abs(np.arange(k) - (k - 1) / 2) / f

    return np.outer(taps(factor_rows), taps(factor_cols))


def kernel_normalised(factor_rows, factor_cols):
    w = kernel_by_loops(factor_rows, factor_cols)
    return w / w.sum()


def kernel_1d(factor_rows, factor_cols):
    return kernel_by_loops(factor_rows, factor_cols)[0]


def kernel_stub(factor_rows, factor_cols):
    raise NotImplementedError("Exercise 04.1")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (kernel_square, "square kernel for the larger factor"),
        (kernel_transposed, "Rows and columns are swapped"),
        (kernel_always_2f, "Right for even factors only"),
        (kernel_factor_as_size, "used the factor as the kernel size"),
        (kernel_normalised, "Do not normalise"),
        (kernel_1d, "Shape: expected"),
        (kernel_stub, "not solved yet"),
    ],
)
def test_04_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("04.1", wrong)
    if hint:
        assert hint in str(info.value)


def size_textbook(size, kernel_size, strides, padding):
    return size * strides if padding == "same" else (size - 1) * strides + kernel_size


def size_always_ns(size, kernel_size, strides, padding):
    return size * strides


def size_forward(size, kernel_size, strides, padding):
    return -(-size // strides) if padding == "same" else (size - kernel_size) // strides + 1


def size_plus_k(size, kernel_size, strides, padding):
    return size * strides + kernel_size


def size_same_with_overhang(size, kernel_size, strides, padding):
    return size * strides + max(kernel_size - strides, 0)  # ignores padding


def size_returns_shape(size, kernel_size, strides, padding):
    return (size_formula(size, kernel_size, strides, padding),) * 2


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (size_textbook, "never shorter"),
        (size_always_ns, "'same' only"),
        (size_forward, "forward"),
        (size_plus_k, "One stride too many"),
        (size_same_with_overhang, None),
        (size_returns_shape, "Shape"),
    ],
)
def test_04_2_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("04.2", wrong)
    if hint:
        assert hint in str(info.value)


def test_cases_include_an_edge_case_and_the_tasks_read_well():
    for ex_id in ("04.1", "04.2"):
        ex = get(ex_id)
        names = [c.name for c in ex.make_cases()]
        assert len(names) >= 4 and any(n.startswith("edge case") for n in names)
        assert ex.task[0].isupper() and not ex.task.endswith(".")


def test_importing_the_exercises_does_not_import_keras():
    code = "import sys, segutils.exercises.nb04; print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-1000:]
