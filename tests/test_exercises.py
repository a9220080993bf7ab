"""The exercise checkers: right answers pass, plausible wrong answers fail with useful messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from segutils import exercises
from segutils.data.classes import class_frequencies, colors_to_ids
from segutils.errors import SegutilsError
from segutils.exercises import Case, ExerciseFailed, UnknownExercise, check

# --- independent solutions, written here without the segutils functions -----------------------


def ids_by_dict(rgb_mask, colors):
    """Pixel by pixel through a dictionary: slow, obviously right."""
    lookup = {tuple(int(v) for v in c): i for i, c in enumerate(colors)}
    h, w, _ = rgb_mask.shape
    out = np.empty((h, w), np.uint8)
    for y in range(h):
        for x in range(w):
            out[y, x] = lookup[tuple(int(v) for v in rgb_mask[y, x])]
    return out


def ids_by_masks(rgb_mask, colors):
    """One boolean mask per colour; returns int64 (the checker is dtype-tolerant)."""
    ids = np.zeros(rgb_mask.shape[:2], np.int64)
    for i, c in enumerate(colors):
        ids[(rgb_mask == np.asarray(c)).all(axis=-1)] = i
    rgb_mask[:] = 0  # scribbling on the input must not spoil the reference result
    return ids


def freqs_by_loops(masks, n_classes):
    counts = [0] * n_classes
    for m in masks:
        for v in np.asarray(m).ravel().tolist():
            if v != 255:
                counts[v] += 1
    total = sum(counts)
    return [c / total for c in counts]


# --- plausible wrong answers -----------------------------------------------------------------


def ids_red_channel(rgb_mask, colors):
    return rgb_mask[..., 0]


def ids_red_only(rgb_mask, colors):
    ids = np.zeros(rgb_mask.shape[:2], np.uint8)
    for i, c in enumerate(colors):
        ids[rgb_mask[..., 0] == c[0]] = i
    return ids


def ids_transposed(rgb_mask, colors):
    return ids_by_masks(rgb_mask.copy(), colors).T


def freqs_ignore_in_total(masks, n_classes):
    counts = np.zeros(n_classes)
    total = 0
    for m in masks:
        counts += np.bincount(m[m != 255], minlength=n_classes)
        total += m.size
    return counts / total


def freqs_mean_per_image(masks, n_classes):
    per = [np.bincount(m[m != 255], minlength=n_classes) / (m != 255).sum() for m in masks]
    return np.mean(per, axis=0)


def freqs_no_minlength(masks, n_classes):
    flat = np.concatenate([m.ravel() for m in masks])
    counts = np.bincount(flat[flat != 255])
    return counts / counts.sum()


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ex_id", "solution"),
    [
        ("01.1", colors_to_ids),
        ("01.1", ids_by_dict),
        ("01.1", ids_by_masks),
        ("01.2", class_frequencies),
        ("01.2", freqs_by_loops),
    ],
)
def test_right_answers_pass(ex_id, solution, capsys):
    check(ex_id, solution)
    n = len(exercises.get(ex_id).make_cases())
    assert capsys.readouterr().out == f"Exercise {ex_id} passed: {n} of {n} cases.\n"


@pytest.mark.parametrize(
    ("ex_id", "wrong", "case_number", "hint_words"),
    [
        ("01.1", ids_red_channel, 1, "red channel"),
        ("01.1", ids_red_only, 1, "all three channels"),
        ("01.1", ids_transposed, 1, "swapped"),
        ("01.2", freqs_ignore_in_total, 2, "denominator"),
        ("01.2", freqs_mean_per_image, 2, "Pool the pixels"),
        ("01.2", freqs_no_minlength, 4, "minlength"),
    ],
)
def test_plausible_wrong_answers_fail_with_case_and_hint(ex_id, wrong, case_number, hint_words):
    cases = exercises.get(ex_id).make_cases()
    with pytest.raises(ExerciseFailed) as info:
        check(ex_id, wrong)
    msg = str(info.value)
    assert msg.startswith(f"Exercise {ex_id} failed on case {case_number} of {len(cases)}")
    assert cases[case_number - 1].name in msg
    assert "expected" in msg.lower() and "got" in msg
    assert "Hint:" in msg and hint_words in msg
    assert isinstance(info.value, AssertionError)


def test_wrong_values_are_shown_short():
    with pytest.raises(ExerciseFailed) as info:
        check("01.1", lambda rgb, colors: colors_to_ids(rgb, colors).astype(int) + 1)
    msg = str(info.value)
    # case 1 is a hand-made 3x4 mask: every value is off, the first at (0, 0)
    assert "12 of 12 values differ; first at index (0, 0): expected 0, got 1." in msg
    assert "one too high" in msg
    assert len(msg.splitlines()) <= 6


def test_not_implemented_says_not_solved_yet():
    def stub(rgb_mask, colors):
        raise NotImplementedError("Exercise 01.1: Convert a colour-coded mask to class IDs")

    with pytest.raises(ExerciseFailed) as info:
        check("01.1", stub)
    assert str(info.value).startswith(
        "Exercise 01.1 is not solved yet: Convert a colour-coded mask to class IDs"
    )


def test_other_exceptions_name_the_case_and_the_error():
    def broken(masks, n_classes):
        return freqs_by_loops(np.stack(masks), n_classes)  # np.stack needs equal sizes

    cases = exercises.get("01.2").make_cases()
    with pytest.raises(ExerciseFailed) as info:
        check("01.2", broken)
    msg = str(info.value)
    k = next(i for i, c in enumerate(cases, 1) if "different sizes" in c.name)
    assert f"case {k} of {len(cases)}" in msg and "raised ValueError" in msg and "Hint:" in msg
    assert isinstance(info.value.__cause__, ValueError)  # the learner's traceback is kept


@pytest.mark.parametrize("returned", [None, "ids", {"a": 1}])
def test_non_arrays_are_reported(returned):
    with pytest.raises(ExerciseFailed, match="case 1 of"):
        check("01.1", lambda rgb, colors: returned)


def test_not_a_function():
    with pytest.raises(ExerciseFailed, match="expects a function"):
        check("01.1", np.zeros((2, 2)))


def test_unknown_id_lists_known_ids():
    with pytest.raises(UnknownExercise) as info:
        check("99.9", colors_to_ids)
    assert isinstance(info.value, SegutilsError)
    assert "'99.9'" in str(info.value) and "01.1, 01.2" in str(info.value)


def test_task_texts():
    assert exercises.task("01.1") == "Convert a colour-coded mask to class IDs"
    assert exercises.task("01.2") == "Compute each class's share of the labelled pixels"


@pytest.mark.parametrize("ex_id", ["01.1", "01.2"])
def test_cases_are_fixed_and_include_an_edge_case(ex_id):
    first, again = exercises.get(ex_id).make_cases(), exercises.get(ex_id).make_cases()
    assert len(first) >= 4
    assert any(c.name.startswith("edge case") for c in first)
    for a, b in zip(first, again, strict=True):
        assert a.name == b.name
        assert _same(a.args, b.args)


def _same(x, y) -> bool:
    if isinstance(x, list | tuple):
        return len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y, strict=True))
    return np.array_equal(x, y)


def test_case_01_1_hand_made_mask_decodes_as_drawn():
    rgb, colors = exercises.get("01.1").make_cases()[0].args
    assert [tuple(c) for c in colors] == [(0, 0, 0), (255, 0, 0), (0, 255, 0)]
    assert ids_by_dict(rgb, colors).tolist() == [[0, 0, 1, 1], [0, 2, 2, 1], [2, 2, 0, 0]]


def test_case_01_2_edge_case_has_absent_classes():
    case = next(c for c in exercises.get("01.2").make_cases() if c.name.startswith("edge"))
    assert freqs_by_loops(*case.args) == [1 / 3, 1 / 3, 1 / 3, 0.0, 0.0]


def test_new_exercises_register_with_a_decorator(monkeypatch, capsys):
    monkeypatch.setattr(exercises, "EXERCISES", dict(exercises.EXERCISES))

    @exercises.exercise(
        "99.1",
        "Double an array",
        reference=lambda a: 2 * a,
        compare=exercises.close_arrays(1e-9),
        hint="Multiply by two.",
        mistakes=[exercises.Mistake(lambda a: a + 2, "Multiply, do not add.")],
    )
    def _cases():
        return [Case("a pair", (np.array([1.0, 2.0]),)), Case("edge case: empty", (np.zeros(0),))]

    check("99.1", lambda a: a * 2)
    assert "Exercise 99.1 passed: 2 of 2 cases." in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match="Multiply, do not add"):
        check("99.1", lambda a: a + 2)
    with pytest.raises(ValueError, match="twice"):
        exercises.exercise("99.1", "again", reference=abs, compare=exercises.exact_arrays, hint="")(
            lambda: []
        )


@given(
    hnp.arrays(np.int16, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)),
    st.data(),
)
def test_exact_comparison_finds_the_first_difference(a, data):
    assert exercises.exact_arrays(a, a.astype(np.int64)) is None
    flat = data.draw(st.integers(0, a.size - 1))
    b = a.astype(np.int64).copy()
    b.ravel()[flat] += 1
    msg = exercises.exact_arrays(a, b)
    index = np.unravel_index(flat, a.shape)
    at = index[0] if a.ndim == 1 else tuple(int(i) for i in index)
    assert f"1 of {a.size} values differ; first at index {at}:" in msg
    assert "Shape" in exercises.exact_arrays(a, b.ravel()[:-1] if a.ndim == 1 else b[None])


def test_tolerance_of_close_arrays():
    compare = exercises.close_arrays(1e-6)
    assert compare(np.array([0.5, 0.5]), [0.5 + 5e-7, 0.5 - 5e-7]) is None
    assert "first at index 1" in compare(np.array([0.5, 0.5]), [0.5, 0.5 + 2e-6])


def test_a_single_number_that_misses_is_reported_plainly():
    compare = exercises.close_arrays(1e-4)
    assert compare(2.5099, np.float32(2.5309)) == "Expected 2.5099, got 2.5309."
    assert compare(np.float64(0.5), 0.5 + 1e-5) is None
    assert exercises.exact_arrays(3, 4) == "Expected 3, got 4."
