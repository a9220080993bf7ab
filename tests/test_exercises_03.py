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


def restore_by_loops(warped):
    out = np.empty(warped.shape, np.uint8)
    for idx, v in np.ndenumerate(warped):
        out[idx] = 255 if v == 0 else v - 1
    return out


def restore_by_lookup(warped):
    table = np.concatenate([[255], np.arange(256)])  # 0 -> 255, v -> v - 1
    return table[warped]


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


def restore_as_background(warped):
    return np.where(warped == 0, 0, warped - 1)


def restore_unshifted(warped):
    return np.where(warped == 0, 255, warped)


def restore_minus_one(warped):
    return warped - 1


def stub(*args):
    raise NotImplementedError("write your code here")


@pytest.mark.parametrize("exercise_id, solution", [
    ("03.1", crop_by_loops), ("03.1", crop_by_take),
    ("03.2", restore_by_loops), ("03.2", restore_by_lookup),
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
    ("03.2", restore_as_background, "Added pixels became class 0"),
    ("03.2", restore_unshifted, "still shifted by one"),
    ("03.2", restore_minus_one, "-1 is not a label"),
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
