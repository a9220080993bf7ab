"""Error classes of segutils.

Every error a learner can cause with bad input is a :class:`SegutilsError`. Its message names the
file (when there is one), says what is wrong and how to fix it, so that a notebook or the command
line can print it as it is.
"""

from __future__ import annotations

import numbers
from pathlib import Path


class SegutilsError(Exception):
    """Base class of every error segutils raises on purpose."""


class DatasetError(SegutilsError):
    """A problem with files on disk: a missing pair, a bad mask, an empty folder, ...

    Parameters
    ----------
    path:
        The file or folder the problem is about (``None`` when there is none).
    problem:
        What is wrong, as a short sentence.
    fix:
        What the learner should do about it.
    """

    def __init__(self, path: str | Path | None, problem: str, fix: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}\n  How to fix: {fix}")


class ConfigError(SegutilsError):
    """A setting that cannot be used, such as an unknown profile name."""


def positive_int(value, what: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool); else a ConfigError.

    Model builders check their sizes with it, so a wrong width fails at once with its name,
    not deep inside Keras.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)
