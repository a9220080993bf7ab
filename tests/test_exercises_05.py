"""Exercises 05.1 and 05.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segutils.exercises.nb05  # noqa: F401  (registers 05.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get

# --- independent right answers ------------------------------------------------------------------


def surgery_by_loops(kernel, kernel_size):
    """Place every weight by the Flatten index it reads: (i * w + j) * c + k."""
    kernel = np.asarray(kernel)
    h, w = kernel_size
    c = kernel.shape[0] // (h * w)
    out = np.zeros((h, w, c, kernel.shape[1]))
    for i in range(h):
        for j in range(w):
            for k in range(c):
                out[i, j, k] = kernel[(i * w + j) * c + k]
    return out


def surgery_reshape(kernel, kernel_size):
    kernel = np.asarray(kernel)
    return kernel.reshape(*kernel_size, -1, kernel.shape[1])


def count_by_layers(n_classes, encoder_width, fc_width):
    """List every layer as (kernel shape, has bias) and add up."""
    ch = [round(c * encoder_width) for c in (64, 128, 256, 512, 512)]
    convs = [(3, ch[0]), (ch[0], ch[0]), (ch[0], ch[1]), (ch[1], ch[1]), (ch[1], ch[2]),
             (ch[2], ch[2]), (ch[2], ch[2]), (ch[2], ch[3]), (ch[3], ch[3]), (ch[3], ch[3]),
             (ch[3], ch[4]), (ch[4], ch[4]), (ch[4], ch[4])]
    layers = [((3, 3, a, b), True) for a, b in convs]
    layers += [((7, 7, ch[4], fc_width), True), ((1, 1, fc_width, fc_width), True)]
    layers += [((1, 1, c, n_classes), True) for c in (fc_width, ch[3], ch[2])]
    layers += [((k, k, n_classes, n_classes), False) for k in (4, 4, 16)]
    return int(sum(np.prod(shape) + (shape[-1] if bias else 0) for shape, bias in layers))


@pytest.mark.parametrize("solution", [surgery_by_loops, surgery_reshape])
def test_05_1_accepts_right_answers(solution, capsys):
    check("05.1", solution)
    assert "Exercise 05.1 passed" in capsys.readouterr().out


def test_05_2_accepts_a_right_answer(capsys):
    check("05.2", count_by_layers)
    assert "Exercise 05.2 passed" in capsys.readouterr().out


# --- plausible wrong answers --------------------------------------------------------------------


def surgery_channels_first(kernel, kernel_size):
    h, w = kernel_size
    c = np.asarray(kernel).shape[0] // (h * w)
    return np.asarray(kernel).reshape(c, h, w, -1).transpose(1, 2, 0, 3)


def surgery_transposed(kernel, kernel_size):
    return np.asarray(kernel).T.reshape(*kernel_size, -1, np.asarray(kernel).shape[1])


def surgery_width_first(kernel, kernel_size):
    h, w = kernel_size
    return np.asarray(kernel).reshape(w, h, -1, np.asarray(kernel).shape[1])


def surgery_width_first_transposed_back(kernel, kernel_size):
    h, w = kernel_size
    return np.asarray(kernel).reshape(w, h, -1, np.asarray(kernel).shape[1]).transpose(1, 0, 2, 3)


def surgery_no_return(kernel, kernel_size):
    np.asarray(kernel).reshape(*kernel_size, -1, np.asarray(kernel).shape[1])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (surgery_channels_first, "channels-first"),
        (surgery_transposed, None),
        (surgery_width_first, "Shape"),
        (surgery_width_first_transposed_back, "swapped"),
        (surgery_no_return, "missing `return`"),
    ],
)
def test_05_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("05.1", wrong)
    if hint:
        assert hint in str(info.value)


def count_without_biases(n, w, f):
    return count_by_layers(n, w, f) - sum(
        round(c * w) * k for c, k in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    ) - 2 * f - 3 * n


def count_with_upsampling_biases(n, w, f):
    return count_by_layers(n, w, f) + 3 * n


def count_trainable_only(n, w, f):
    return count_by_layers(n, w, f) - 16 * 16 * n * n


def count_fc6_as_1x1(n, w, f):
    return count_by_layers(n, w, f) - 48 * round(512 * w) * f


def count_fcn32(n, w, f):
    """Forgets the skips: FCN-32s' count (no pool4/pool3 scores, a 64x64 upsampling)."""
    full = count_by_layers(n, w, f)
    skips = 2 * 16 * n * n + round(512 * w) * n + n + round(256 * w) * n + n
    return full - skips - 16 * 16 * n * n + 64 * 64 * n * n


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (count_without_biases, "bias per output channel"),
        (count_with_upsampling_biases, "use_bias=False"),
        (count_trainable_only, "fixed x8"),
        (count_fc6_as_1x1, "7x7"),
        (count_fcn32, None),
    ],
)
def test_05_2_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("05.2", wrong)
    if hint:
        assert hint in str(info.value)


def test_cases_include_an_edge_case_and_the_tasks_read_well():
    for ex_id in ("05.1", "05.2"):
        ex = get(ex_id)
        names = [c.name for c in ex.make_cases()]
        assert len(names) >= 4 and any(n.startswith("edge case") for n in names)
        assert ex.task[0].isupper() and not ex.task.endswith(".")


def test_importing_the_exercises_does_not_import_keras():
    code = "import sys, segutils.exercises.nb05; print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-1000:]
