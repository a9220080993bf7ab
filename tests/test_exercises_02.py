"""Notebook 02's checkers: independent right answers pass, plausible wrong ones fail with hints."""

from __future__ import annotations

import numpy as np
import pytest

from segutils import exercises
from segutils.exercises import (
    ExerciseFailed,
    check,
    nb02,  # noqa: F401  (registers 02.1 and 02.2)
)

# --- independent solutions, written without the segutils functions ----------------------------


def fix_by_set(mask):
    mask = np.asarray(mask)
    if set(mask.ravel().tolist()) == {0, 255}:
        return (mask == 255).astype(np.int64)  # dtype is free
    return mask


def presence_by_loops(masks, n_classes):
    counts = [0] * n_classes
    for m in masks:
        for c in set(np.asarray(m).ravel().tolist()):
            if c < n_classes:
                counts[c] += 1
    return counts


# --- plausible wrong answers -----------------------------------------------------------------


def fix_always_divide(mask):
    return mask // 255


def fix_nonzero(mask):
    return (mask > 0).astype(np.uint8)


def fix_255_to_1(mask):
    return np.where(mask == 255, 1, mask)


def fix_when_only_0_and_255_occur(mask):
    """Passes every other case: only a mask of 255 alone tells it from the right answer."""
    values = set(mask.ravel().tolist())
    return (mask == 255).astype(np.uint8) if values <= {0, 255} else mask


def fix_forgot_return(mask):
    mask // 255  # noqa: B018


def presence_pixels(masks, n_classes):
    return sum(np.bincount(m[m < n_classes], minlength=n_classes) for m in masks)


def presence_share(masks, n_classes):
    return np.array(presence_by_loops(masks, n_classes)) / len(masks)


def presence_with_ignore_crash(masks, n_classes):
    counts = np.zeros(n_classes, int)
    for m in masks:
        counts[np.unique(m)] += 1  # 255 is out of bounds
    return counts


def presence_any_mask(masks, n_classes):
    seen = set()
    for m in masks:
        seen |= set(np.asarray(m).ravel().tolist())
    return [int(c in seen) for c in range(n_classes)]


def stub(*args):
    raise NotImplementedError("write your code here")


@pytest.mark.parametrize("exercise_id, solution", [("02.1", fix_by_set),
                                                   ("02.2", presence_by_loops)])
def test_independent_solutions_pass(exercise_id, solution, capsys):
    check(exercise_id, solution)
    assert f"Exercise {exercise_id} passed" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id, wrong, words", [
    ("02.1", fix_always_divide, "divided every mask by 255"),
    ("02.1", fix_nonzero, "every non-zero value"),
    ("02.1", fix_255_to_1, "replaced 255 by 1 in every mask"),
    ("02.1", fix_forgot_return, "missing `return`"),
    ("02.1", fix_when_only_0_and_255_occur, "Require both values"),
    ("02.2", presence_pixels, "pixel counts"),
    ("02.2", presence_share, "not the shares"),
    ("02.2", presence_any_mask, "Count the masks one by one"),
    ("02.2", presence_with_ignore_crash, "raised IndexError"),
    ("02.1", stub, "not solved yet"),
    ("02.2", stub, "not solved yet"),
])
def test_wrong_answers_fail_with_a_useful_message(exercise_id, wrong, words):
    with pytest.raises(ExerciseFailed, match="Exercise " + exercise_id) as info:
        check(exercise_id, wrong)
    assert words in str(info.value)


def test_cases_have_an_edge_case_and_are_deterministic():
    for exercise_id in ("02.1", "02.2"):
        ex = exercises.get(exercise_id)
        cases = ex.make_cases()
        assert len(cases) >= 3 and any(c.name.startswith("edge case") for c in cases)
        assert _same(cases, ex.make_cases())


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, exercises.Case):
        return a.name == b.name and _same(a.args, b.args)
    return a == b
