"""Exercises with automatic feedback: a registry of tasks and the ``check`` a notebook calls.

A learner writes a function in a notebook and runs ``check("01.1", mask_to_ids)``. The checker
calls the function on a few fixed cases (one of them an edge case), compares each result with
the reference implementation in ``segutils`` and either prints one short "passed" line or raises
:class:`ExerciseFailed` naming the case, what was expected, what came back and a hint.

Each notebook keeps its exercises in a module of its own, ``segutils/exercises/nbNN.py``,
imported at the bottom of this file. Adding an exercise takes one decorated function there
that returns its cases::

    @exercise("02.1", "Upsample a mask with nearest neighbour",
              reference=segutils.augment.resize_mask, compare=exact_arrays,
              hint="Masks are never interpolated: use nearest neighbour.",
              mistakes=[Mistake(lambda m, size: ..., "You interpolated the IDs ...")])
    def _cases_02_1():
        return [Case("a 2x2 mask", (mask, (4, 4))), ...]

Comparing, reporting and recognising known mistakes live here once, so every exercise gives
feedback in the same words. Cases are built from fixed seeds: a learner sees the same case
numbers every time they run the check.
"""

# Each notebook's exercises live in their own module; importing it registers them.
from segutils.exercises import (  # noqa: E402,F401
    nb01,
    nb02,
    nb03,
    nb04,
    nb05,
    nb06,
    nb07,
    nb08,
    nb09,
    nb10,
    nb11,
)
from segutils.exercises.core import (  # noqa: F401  (the public names of the machinery)
    EXERCISES,
    Case,
    Compare,
    Exercise,
    ExerciseFailed,
    Mistake,
    UnknownExercise,
    check,
    close_arrays,
    exact_arrays,
    exercise,
    get,
    task,
)
