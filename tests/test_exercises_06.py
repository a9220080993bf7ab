"""Exercises 06.1-06.3: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import segutils.exercises.nb06  # noqa: F401  (registers 06.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get

# --- independent right answers ------------------------------------------------------------------


def padded_by_halving(size, depth):
    """Grow the size until it survives depth halvings without a remainder."""
    while any((size // 2**k) % 2 for k in range(depth)):
        size += 1
    return size


def padded_by_ceil(size, depth):
    return math.ceil(size / 2**depth) * 2**depth


def flops_by_loops(height, width, kernel_size, c_in, c_out, strides=1):
    total = 0
    for _ in range(0, height, strides):  # 'same': an output wherever a stride step starts
        for _ in range(0, width, strides):
            total += 2 * kernel_size * kernel_size * c_in * c_out
    return total


def unet_params_listing_layers(n_classes, depth, base_filters, in_channels=3):
    layers = []  # (kernel taps, input channels, output channels), every one with a bias
    c = in_channels
    widths = [base_filters * 2**i for i in range(depth + 1)]
    for w in widths:
        layers += [(9, c, w), (9, w, w)]
        c = w
    for w in reversed(widths[:-1]):
        layers += [(4, c, w), (9, w + w, w), (9, w, w)]
        c = w
    layers.append((1, c, n_classes))
    return sum(taps * a * b + b for taps, a, b in layers)


@pytest.mark.parametrize("ex_id, solution", [
    ("06.1", padded_by_halving), ("06.1", padded_by_ceil), ("06.2", flops_by_loops),
    ("06.3", unet_params_listing_layers),
])
def test_accepts_right_answers(ex_id, solution, capsys):
    check(ex_id, solution)
    assert f"Exercise {ex_id} passed" in capsys.readouterr().out


# --- plausible wrong answers ---------------------------------------------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise")


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, d: math.ceil(s / (2 * d)) * 2 * d, "not 2 * depth"),
    (lambda s, d: s + 2**d - s % 2**d, "already a multiple"),
    (lambda s, d: s // 2**d * 2**d, "Round up, not down"),
    (lambda s, d: max(2**d, round(s / 2**d) * 2**d), "Round up"),  # 97 -> 96: "not down"
    (lambda s, d: s, None),
    (stub, "not solved yet"),
])
def test_06_1_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("06.1", wrong)
    if hint:
        assert hint in str(info.value)


def flops_macs(h, w, k, ci, co, strides=1):
    return flops_by_loops(h, w, k, ci, co, strides) // 2


def flops_input_pixels(h, w, k, ci, co, strides=1):
    return 2 * h * w * k * k * ci * co


def flops_floor(h, w, k, ci, co, strides=1):
    return 2 * (h // strides) * (w // strides) * k * k * ci * co


def flops_k_once(h, w, k, ci, co, strides=1):
    return 2 * math.ceil(h / strides) * math.ceil(w / strides) * k * ci * co


def flops_with_bias(h, w, k, ci, co, strides=1):
    return flops_by_loops(h, w, k, ci, co, strides) + math.ceil(h / strides) * math.ceil(
        w / strides) * co


@pytest.mark.parametrize("wrong, hint", [
    (flops_macs, "multiply-adds"),
    (flops_input_pixels, "output pixels"),
    (flops_floor, "ceil"),
    (flops_k_once, "kernel_size**2"),
    (flops_with_bias, None),
    (stub, "not solved yet"),
])
def test_06_2_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("06.2", wrong)
    if hint:
        assert hint in str(info.value)


def params_variant(drop):
    def count(n, d, f, in_channels=3):
        total, c = 0, in_channels
        bias = 0 if drop == "bias" else 1
        for i in range(d + 1):
            w = f * 2**i
            total += 9 * c * w + 9 * w * w + 2 * w * bias
            c = w
        for i in range(d - 1, -1, -1):
            w = f * 2**i
            taps = 9 if drop == "up" else 4
            first_in = w if drop == "concat" else 2 * w
            total += taps * c * w + 9 * first_in * w + 9 * w * w + 3 * w * bias
            c = w
        return total + (0 if drop == "head" else c * n + n * bias)
    return count


@pytest.mark.parametrize("wrong, hint", [
    (params_variant("bias"), "bias"),
    (params_variant("concat"), "concatenation"),
    (params_variant("up"), "2x2"),
    (params_variant("head"), "classifier"),
    (lambda n, d, f, in_channels=3: unet_params_listing_layers(n, d, f), None),  # ignores input
    (stub, "not solved yet"),
])
def test_06_3_rejects_wrong_answers(wrong, hint):
    with pytest.raises(ExerciseFailed) as info:
        check("06.3", wrong)
    if hint:
        assert hint in str(info.value)


def test_cases_include_an_edge_case_and_the_tasks_read_well():
    for ex_id in ("06.1", "06.2", "06.3"):
        ex = get(ex_id)
        names = [c.name for c in ex.make_cases()]
        assert len(names) >= 4 and any(n.startswith("edge case") for n in names)
        assert ex.task[0].isupper() and not ex.task.endswith(".")


def test_importing_the_exercises_does_not_import_keras():
    code = "import sys, segutils.exercises.nb06; print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-1000:]
