"""Exercises 04.1 and 04.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segutils.exercises.nb04  # noqa: F401  (registers 04.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get

# --- independent right answers ------------------------------------------------------------------


def kernel_by_loops(k):
    """Straight from linear interpolation: a tent of half-width f, centred on the kernel."""
    f = (k + 1) // 2
    centre = (k - 1) / 2
    w = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            w[i, j] = max(0.0, 1 - abs(i - centre) / f) * max(0.0, 1 - abs(j - centre) / f)
    return w


def kernel_as_list_float32(k):
    f = -(-k // 2)
    p = [1 - abs(t - (k - 1) / 2) / f for t in range(k)]
    return np.array([[a * b for b in p] for a in p], np.float32).tolist()


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


@pytest.mark.parametrize("solution", [kernel_by_loops, kernel_as_list_float32])
def test_04_1_accepts_right_answers(solution, capsys):
    check("04.1", solution)
    assert "Exercise 04.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("solution", [size_by_stamping, size_formula])
def test_04_2_accepts_right_answers(solution, capsys):
    check("04.2", solution)
    assert "Exercise 04.2 passed" in capsys.readouterr().out


# --- plausible wrong answers --------------------------------------------------------------------


def kernel_factor_k_half(k):
    c = (k - 1) / 2
    p = 1 - np.abs(np.arange(k) - c) / (k / 2)
    return np.outer(p, p)


def kernel_centre_k_half(k):
    p = 1 - np.abs(np.arange(k) - k / 2) / ((k + 1) // 2)
    return np.outer(p, p)


def kernel_divided_by_k(k):
    p = 1 - np.abs(np.arange(k) - (k - 1) / 2) / k
    return np.outer(p, p)


def kernel_normalised(k):
    w = kernel_by_loops(k)
    return w / w.sum()


def kernel_1d(k):
    return 1 - np.abs(np.arange(k) - (k - 1) / 2) / ((k + 1) // 2)


def kernel_floor_factor(k):
    f = k // 2  # k = 1 divides by zero
    p = 1 - np.abs(np.arange(k) - (k - 1) / 2) / f
    return np.outer(p, p)


def kernel_stub(k):
    raise NotImplementedError("Exercise 04.1")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (kernel_factor_k_half, "odd k"),
        (kernel_centre_k_half, "not symmetric"),
        (kernel_divided_by_k, "not by k"),
        (kernel_normalised, "normalise"),
        (kernel_1d, "1-D profile"),
        (kernel_floor_factor, None),
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
