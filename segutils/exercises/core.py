"""The exercise machinery: cases, known mistakes, comparisons and ``check``.

The notebooks' exercises register themselves here (``segutils/exercises/nbNN.py``); the
package ``segutils.exercises`` re-exports everything and imports every notebook's module.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from segutils.errors import SegutilsError


class ExerciseFailed(AssertionError):
    """The learner's answer is not right yet; the message says where and what to try.

    An ``AssertionError`` so that test runners and nbval treat it as a failed check.
    """


class UnknownExercise(SegutilsError, LookupError):
    """``check`` was called with an exercise ID that is not registered."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One call of the learner's function: a short name the learner can read, and the inputs."""

    name: str
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer and the hint to give when the learner's output matches it.

    ``wrong`` takes the case's inputs and returns what that mistaken solution would return.
    Recognising the mistake lets the hint say what went wrong instead of only that it did.
    """

    wrong: Callable[..., Any]
    hint: str


#: Compares expected with got; returns ``None`` when they agree, else a short description.
Compare = Callable[[Any, Any], "str | None"]


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str
    task: str
    reference: Callable[..., Any]
    make_cases: Callable[[], Sequence[Case]]
    compare: Compare
    hint: str
    mistakes: tuple[Mistake, ...] = ()


#: Every registered exercise, by ID ("01.1", "01.2", ...).
EXERCISES: dict[str, Exercise] = {}


def exercise(
    id: str,
    task: str,
    *,
    reference: Callable[..., Any],
    compare: Compare,
    hint: str,
    mistakes: Sequence[Mistake] = (),
):
    """Register the decorated function (which returns the exercise's cases) as exercise ``id``."""

    def register(make_cases: Callable[[], Sequence[Case]]):
        if id in EXERCISES:
            raise ValueError(f"exercise {id} is registered twice")
        EXERCISES[id] = Exercise(id, task, reference, make_cases, compare, hint, tuple(mistakes))
        return make_cases

    return register


def get(id: str) -> Exercise:
    """The registered exercise ``id``; an unknown ID is an error that lists the known ones."""
    try:
        return EXERCISES[str(id)]
    except KeyError:
        known = ", ".join(sorted(EXERCISES)) or "(none)"
        raise UnknownExercise(
            f"Unknown exercise ID {id!r}. Known IDs: {known}. "
            "Check the ID in the check(...) call against the notebook's exercise heading."
        ) from None


def task(id: str) -> str:
    """The one-line task of exercise ``id`` (the student notebooks' stubs quote it)."""
    return get(id).task


def check(id: str, obj: Callable[..., Any]) -> None:
    """Run exercise ``id``'s cases on the learner's function ``obj``.

    Prints ``Exercise 01.1 passed: 4 of 4 cases.`` or raises :class:`ExerciseFailed` at the
    first case that goes wrong. The learner's function gets its own copy of every input, so an
    answer that modifies its arguments cannot spoil the reference result.
    """
    __tracebackhide__ = True  # pytest leaves this frame out of failure reports
    ex = get(id)
    if not callable(obj):
        raise ExerciseFailed(
            f"Exercise {ex.id} expects a function, got {type(obj).__name__}.\n"
            f"  Hint: pass the function itself, without calling it: check({ex.id!r}, my_function)"
        )
    cases = list(ex.make_cases())
    for k, case in enumerate(cases, 1):
        where = f"Exercise {ex.id} failed on case {k} of {len(cases)} ({case.name})"
        expected = ex.reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        try:
            got = obj(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except NotImplementedError:
            raise ExerciseFailed(
                f"Exercise {ex.id} is not solved yet: {ex.task}.\n"
                "  Hint: replace the line `raise NotImplementedError(...)` with your code, "
                "run that cell, then run this check again."
            ) from None
        except Exception as err:
            raise ExerciseFailed(
                f"{where}: your function raised {type(err).__name__}: {_shorten(str(err))}\n"
                f"  Hint: {ex.hint}\n"
                "  (The traceback above shows the line of your code that raised.)"
            ) from err
        problem = ex.compare(expected, got)
        if problem is not None:
            hint = _recognise(ex, case, got) or ex.hint
            raise ExerciseFailed(f"{where}:\n  {problem}\n  Hint: {hint}")
    print(f"Exercise {ex.id} passed: {len(cases)} of {len(cases)} cases.")


def _recognise(ex: Exercise, case: Case, got: Any) -> str | None:
    """The hint of the first known mistake whose output equals ``got`` on this case."""
    for mistake in ex.mistakes:
        try:
            wrong = mistake.wrong(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:  # a mistake that cannot run on this case is simply not this mistake
            continue
        if ex.compare(wrong, got) is None:
            return mistake.hint
    return None


# --- comparisons shared by all exercises --------------------------------------------------------


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(a: np.ndarray) -> str:
    """A short description of an array: its values when small, else shape, dtype and range."""
    if a.size <= 16:
        return _shorten(np.array2string(a, separator=", ", precision=6).replace("\n", ""))
    if a.size and np.issubdtype(a.dtype, np.number):
        return f"{a.dtype} array of shape {a.shape}, values {a.min()}..{a.max()}"
    return f"{a.dtype} array of shape {a.shape}"


def _value(v: Any) -> str:
    return f"{float(v):.6g}" if isinstance(v, float | np.floating) else str(v)


def _as_array(got: Any) -> tuple[np.ndarray | None, str | None]:
    if got is None:
        return None, "got None: the function does not return anything (a missing `return`?)."
    try:
        a = np.asarray(got)
    except Exception:
        return None, f"got a {type(got).__name__}, which is not an array."
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        return None, f"got a {type(got).__name__} of {a.dtype} values, not a numeric array."
    return a, None


def _array_problem(expected: Any, got: Any, atol: float) -> str | None:
    """Shape first, then values: exact when ``atol`` is 0, else within ``atol``. Dtype is free."""
    expected = np.asarray(expected)
    a, problem = _as_array(got)
    if problem:
        return f"Expected {_show(expected)}, but {problem}"
    if a.shape != expected.shape:
        swapped = " (height and width swapped?)" if a.shape == expected.shape[::-1] else ""
        return f"Shape: expected {expected.shape}, got {a.shape}{swapped}."
    e = expected.astype(np.float64)
    g = a.astype(np.float64)
    wrong = ~np.isclose(g, e, rtol=0.0, atol=atol) if atol else g != e
    if not wrong.any():
        return None
    if expected.ndim == 0:  # a single number: say it plainly
        return f"Expected {_value(expected[()])}, got {_value(a[()])}."
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    at = first[0] if len(first) == 1 else first
    return (
        f"{int(wrong.sum())} of {wrong.size} values differ; first at index {at}: "
        f"expected {_value(expected[first])}, got {_value(a[first])}.\n"
        f"  expected: {_show(expected)}\n"
        f"  got:      {_show(a)}"
    )


def exact_arrays(expected: Any, got: Any) -> str | None:
    """Same shape and the same values; the dtype may differ (int64 IDs are fine)."""
    return _array_problem(expected, got, atol=0.0)


def close_arrays(atol: float) -> Compare:
    """Same shape and values within ``atol``."""

    def compare(expected: Any, got: Any) -> str | None:
        return _array_problem(expected, got, atol=atol)

    return compare
