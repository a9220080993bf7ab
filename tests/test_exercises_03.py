"""Notebook 03's checkers: independent right answers pass, plausible wrong ones fail with hints."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import segutils.exercises.nb03  # noqa: F401  (registers 03.x until __init__ imports it)
from segutils import exercises
from segutils.exercises import ExerciseFailed, check

# --- independent solutions, written without the segutils functions ----------------------------


def crop_by_loops(image, mask, top, left, height, width):
    rows = [[image[y][x] for x in range(left, left + width)] for y in range(top, top + height)]
    labels = [[mask[y][x] for x in range(left, left + width)] for y in range(top, top + height)]
    return np.array(rows), np.array(labels)


def crop_by_take(image, mask, top, left, height, width):
    rows, cols = np.arange(top, top + height), np.arange(left, left + width)
    pick = np.ix_(rows, cols)
    return [image[pick], mask[pick].astype(np.int64)]  # a list and int64 IDs are fine


def padded_crop_by_loops(image, mask, top, left, height, width):
    """Pixel by pixel: inside the image copy it, outside write 0 and 255."""
    image, mask = np.asarray(image), np.asarray(mask)
    out_image = np.zeros((height, width) + image.shape[2:], image.dtype)
    out_mask = np.full((height, width), 255, mask.dtype)
    for y in range(height):
        for x in range(width):
            r, c = top + y, left + x
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]:
                out_image[y, x], out_mask[y, x] = image[r, c], mask[r, c]
    return out_image, out_mask


def padded_crop_by_np_pad(image, mask, top, left, height, width):
    """Pad generously with np.pad, then an ordinary crop of the padded arrays."""
    image, mask = np.asarray(image), np.asarray(mask)
    m = max(height, width) + abs(top) + abs(left)
    widths = [(m, m), (m, m)] + [(0, 0)] * (image.ndim - 2)
    big_image = np.pad(image, widths, constant_values=0)
    big_mask = np.pad(mask, [(m, m), (m, m)], constant_values=255)
    rows, cols = slice(top + m, top + m + height), slice(left + m, left + m + width)
    return big_image[rows, cols], big_mask[rows, cols]


# --- plausible wrong answers -----------------------------------------------------------------


def crop_image_only(image, mask, top, left, height, width):
    return image[top:top + height, left:left + width], mask


def crop_xy_swapped(image, mask, top, left, height, width):
    return image[left:left + width, top:top + height], mask[left:left + width, top:top + height]


def crop_hw_swapped(image, mask, top, left, height, width):
    return image[top:top + width, left:left + height], mask[top:top + width, left:left + height]


def crop_inclusive_end_minus_one(image, mask, top, left, height, width):
    rows, cols = slice(top, top + height - 1), slice(left, left + width - 1)
    return image[rows, cols], mask[rows, cols]


def crop_returns_image(image, mask, top, left, height, width):
    return image[top:top + height, left:left + width]


def crop_image_and_mask_by_slices(image, mask, top, left, height, width):
    return image[top:top + height, left:left + width], mask[top:top + height, left:left + width]


def padded_with_zeros_in_the_mask(image, mask, top, left, height, width):
    out_image, out_mask = padded_crop_by_loops(image, mask, top, left, height, width)
    inside, _ = padded_crop_by_loops(np.ones(mask.shape), mask, top, left, height, width)
    return out_image, np.where(inside == 1, out_mask, 0)


def clipped_to_the_image(image, mask, top, left, height, width):
    rows = slice(max(top, 0), max(top + height, 0))
    cols = slice(max(left, 0), max(left + width, 0))
    return image[rows, cols], mask[rows, cols]


def image_padded_white(image, mask, top, left, height, width):
    out_image, out_mask = padded_crop_by_loops(image, mask, top, left, height, width)
    inside, _ = padded_crop_by_loops(np.ones(mask.shape), mask, top, left, height, width)
    if out_image.ndim == 3:
        inside = inside[..., None]
    return np.where(inside == 1, out_image, 255), out_mask


def wrapped_by_modulo(image, mask, top, left, height, width):
    rows = np.arange(top, top + height) % mask.shape[0]
    cols = np.arange(left, left + width) % mask.shape[1]
    return image[np.ix_(rows, cols)], mask[np.ix_(rows, cols)]


def stub(*args):
    raise NotImplementedError("write your code here")


@pytest.mark.parametrize("exercise_id, solution", [
    ("03.1", crop_by_loops), ("03.1", crop_by_take),
    ("03.2", padded_crop_by_loops), ("03.2", padded_crop_by_np_pad),
])
def test_independent_solutions_pass(exercise_id, solution, capsys):
    check(exercise_id, solution)
    assert f"Exercise {exercise_id} passed" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id, wrong, words", [
    ("03.1", crop_image_only, "but returned the mask as it was"),
    ("03.1", crop_xy_swapped, "Rows and columns are swapped"),
    ("03.1", crop_hw_swapped, "Height and width are swapped"),
    ("03.1", crop_inclusive_end_minus_one, "One row and one column short"),
    ("03.1", crop_returns_image, "Expected a pair (image, mask)"),
    ("03.2", padded_with_zeros_in_the_mask, "must be 255 (ignore)"),
    ("03.2", clipped_to_the_image, "must keep its size"),
    ("03.2", image_padded_white, "padding is plain black"),
    ("03.2", wrapped_by_modulo, "The window wrapped around"),
    ("03.2", crop_image_and_mask_by_slices, "must keep its size"),  # 03.1's answer, unpadded
    ("03.1", stub, "not solved yet"),
    ("03.2", stub, "not solved yet"),
])
def test_wrong_answers_fail_with_a_useful_message(exercise_id, wrong, words):
    with pytest.raises(ExerciseFailed, match="Exercise " + exercise_id) as info:
        check(exercise_id, wrong)
    assert words in str(info.value)


def test_cases_have_an_edge_case_and_are_deterministic():
    for exercise_id in ("03.1", "03.2"):
        ex = exercises.get(exercise_id)
        cases, again = ex.make_cases(), ex.make_cases()
        assert len(cases) >= 4 and any(c.name.startswith("edge case") for c in cases)
        for a, b in zip(cases, again, strict=True):
            assert a.name == b.name
            assert all(np.array_equal(x, y) for x, y in zip(a.args, b.args, strict=True))
        assert ex.task[0].isupper() and not ex.task.endswith(".")


def test_importing_the_exercises_loads_neither_imgaug_nor_tensorflow():
    code = ("import sys, segutils.exercises.nb03; "
            "print('imgaug' in sys.modules, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False False", done.stderr[-1000:]
