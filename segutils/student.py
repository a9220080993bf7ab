"""Student versions of the notebooks: solutions cut out, checks kept, and the run that proves it.

In an instructor notebook each exercise's solution sits between two marker lines inside a code
cell (the *exercise cell*)::

    def mask_to_ids(rgb_mask, colors):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and the next code cell (the *check cell*) calls ``check("01.1", mask_to_ids)`` from
:mod:`segutils.exercises`. The student version replaces each block by a stub at the marker's
indentation, ``# YOUR CODE HERE`` and ``raise NotImplementedError("Exercise 01.1: <task>")``,
and clears every output. Nothing else changes, so the text around an exercise reads the same in
both versions.

The proof that the scheme works is a run of the student version: every ordinary cell must run
without error (the lesson does not lean on a learner's unfinished answer) and every check cell
must raise (a checker never accepts a stub). :func:`execute_notebook` and
:func:`verify_student_run` are that run and that judgement, shared by the tests and by CI.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from segutils.course import strip_record_marks
from segutils.errors import SegutilsError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_COMMENT = "# YOUR CODE HERE"
#: Default folder of the student versions, next to ``notebooks/`` so relative paths still work.
STUDENT_DIR = "student"

# check("01.1", f), exercises.check(...), segutils.exercises.check(...), ex.check(...)
_CHECK_CALL = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w*\.)*check\(\s*(['\"])(?P<id>[^'\"]+)\1")


@dataclasses.dataclass(frozen=True)
class CellRole:
    """What a cell is for in the exercise scheme.

    kind: ``"exercise"`` (holds solution blocks), ``"check"`` (calls ``check``), ``"code"``
    (any other code cell), ``"markdown"`` or ``"raw"``.
    exercise_ids: for an exercise cell the ID of each block in order; for a check cell the IDs
    it checks.
    top_level_stub: an exercise cell with a block outside any function, whose stub therefore
    raises as soon as the cell runs.
    """

    kind: str
    exercise_ids: tuple[str, ...] = ()
    top_level_stub: bool = False


class CellError(NamedTuple):
    """The first error a cell raised when it ran: exception name and (shortened) message."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _where(name: str, index: int, cell) -> str:
    first = next((ln.strip() for ln in _source(cell).splitlines() if ln.strip()), "(empty)")
    return f"{name}, cell {index + 1} (counting every cell from 1; it starts {first[:60]!r})"


def _blocks(lines: Sequence[str], where: str) -> list[tuple[int, int, str]]:
    """(BEGIN line, END line, indentation) of each solution block; unbalanced markers refused."""
    blocks, begin = [], None
    for k, line in enumerate(lines):
        text = line.strip()
        if text == BEGIN:
            if begin is not None:
                raise SegutilsError(
                    f"{where}: a second {BEGIN!r} on line {k + 1} before the "
                    f"{END!r} of the one on line {begin + 1}; blocks cannot nest. "
                    "Close the first block before opening another."
                )
            begin = k
        elif text == END:
            if begin is None:
                raise SegutilsError(
                    f"{where}: {END!r} on line {k + 1} has no {BEGIN!r} before "
                    "it. Add the BEGIN marker or remove this line."
                )
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            blocks.append((begin, k, indent))
            begin = None
    if begin is not None:
        raise SegutilsError(
            f"{where}: {BEGIN!r} on line {begin + 1} is never closed. Add a "
            f"{END!r} line after the solution."
        )
    return blocks


def check_ids(source: str) -> list[str]:
    """The exercise IDs of the ``check(...)`` calls in a cell's source, in order."""
    return [m.group("id") for m in _CHECK_CALL.finditer(source)]


def cell_roles(nb, name: str) -> list[CellRole]:
    """The role of every cell of an instructor notebook, after checking its markers.

    Raises :class:`SegutilsError` naming the notebook and the cell when markers are unbalanced,
    when a solution block has no check cell after it, or when an exercise ID is not registered.
    """
    from segutils import exercises

    roles: list[CellRole] = []
    pending: int | None = None  # the exercise cell still waiting for its check cell
    n_blocks = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            roles.append(CellRole(cell.cell_type))
            continue
        where = _where(name, i, cell)
        src = _source(cell)
        blocks = _blocks(src.splitlines(), where)
        ids = check_ids(src)
        for id_ in ids:
            if id_ not in exercises.EXERCISES:
                raise SegutilsError(
                    f"{where}: check({id_!r}, ...) names an exercise that is not "
                    f"registered (known: {', '.join(sorted(exercises.EXERCISES))})"
                    ". Register it in segutils/exercises.py or fix the ID."
                )
        if pending is not None:
            if not ids:
                raise _no_check(name, pending, nb.cells[pending], i)
            if len(ids) not in (1, n_blocks):
                raise SegutilsError(
                    f"{where}: {len(ids)} check calls follow {n_blocks} solution"
                    " blocks; use one check call per block, in the same order."
                )
            block_ids = tuple(ids) if len(ids) == n_blocks else (ids[0],) * n_blocks
            roles[pending] = dataclasses.replace(roles[pending], exercise_ids=block_ids)
            pending = None
        if blocks and ids:
            raise SegutilsError(
                f"{where}: the cell holds both a solution block and a check call."
                " Move the check call into the next code cell, so that the "
                "student version can run it on its own."
            )
        if blocks:
            pending, n_blocks = i, len(blocks)
            roles.append(CellRole("exercise", top_level_stub=any(b[2] == "" for b in blocks)))
        else:
            roles.append(CellRole("check", tuple(ids)) if ids else CellRole("code"))
    if pending is not None:
        raise _no_check(name, pending, nb.cells[pending], None)
    return roles


def _no_check(name: str, index: int, cell, found: int | None) -> SegutilsError:
    what = (
        f"code cell {found + 1} does not call check(...)"
        if found is not None
        else ("no code cell follows it")
    )
    return SegutilsError(
        f"{_where(name, index, cell)}: the solution block has no check cell "
        f"after it ({what}). Add a cell such as "
        '`check("01.1", my_function)` right after the exercise cell.'
    )


def _stub(indent: str, exercise_id: str, ending: str) -> str:
    from segutils import exercises

    text = f"Exercise {exercise_id}: {exercises.task(exercise_id)}"
    literal = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{indent}{STUB_COMMENT}\n{indent}raise NotImplementedError({literal}){ending}"


#: Said once per student notebook, above its first ``course.record`` call.
RECORD_NOTE = ("# segutils.course.record(name, value) prints a result as \"name: value\" "
               "(make course also collects it for its summary).\n")


def _without_test_machinery(source: str, explained: bool) -> tuple[str, bool]:
    """``source`` without nbval marker lines, with :data:`RECORD_NOTE` above the first
    ``segutils.course.record(`` if not ``explained`` yet; returns (source, explained)."""
    lines = []
    for line in source.splitlines(keepends=True):
        if line.strip().startswith("# NBVAL_"):
            continue
        if not explained and line.lstrip().startswith("segutils.course.record("):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + RECORD_NOTE)
            explained = True
        lines.append(line)
    return "".join(lines), explained


def make_student_notebook(nb, name: str):
    """The student version of instructor notebook ``nb`` (``name`` only labels errors).

    Returns a new notebook; ``nb`` is left as it was. Solution blocks become stubs, every code
    cell loses its outputs and execution count, and the test machinery goes: ``# NBVAL_...``
    marker lines and the prose's ``<!-- record: ... -->`` markers are dropped, and the first
    ``segutils.course.record(...)`` call gets a comment saying what it does. Metadata, the rest
    of the markdown, check cells and the lines around each block stay exactly as they were.
    """
    roles = cell_roles(nb, name)
    out = copy.deepcopy(nb)
    explained = False
    for i, (cell, role) in enumerate(zip(out.cells, roles, strict=True)):
        if cell.cell_type == "markdown":
            cell.source = strip_record_marks(_source(cell))
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        cell.source, explained = _without_test_machinery(_source(cell), explained)
        if role.kind != "exercise":
            continue
        lines = _source(cell).splitlines(keepends=True)
        blocks = _blocks(lines, _where(name, i, cell))
        # Replace from the last block backwards so earlier line numbers stay valid.
        for (begin, end, indent), ex_id in reversed(
            list(zip(blocks, role.exercise_ids, strict=True))
        ):
            ending = lines[end][len(lines[end].rstrip("\r\n")) :]
            lines[begin : end + 1] = [_stub(indent, ex_id, ending)]
        cell.source = "".join(lines)
    return out


def write_student_versions(
    src_dir: str | Path = "notebooks", out_dir: str | Path = STUDENT_DIR
) -> list[Path]:
    """Write the student version of every ``*.ipynb`` in ``src_dir`` into ``out_dir``.

    Only notebooks are written: data and figures are made by ``segutils`` at run time, and the
    student folder sits next to ``notebooks/`` so relative paths resolve the same way. Every
    notebook is checked before any file is written, so a refused notebook leaves nothing
    half-done. Student versions of notebooks that no longer exist are not removed.
    """
    import nbformat

    src, out = Path(src_dir), Path(out_dir)
    if src.resolve() == out.resolve():
        raise SegutilsError(
            f"{out}: the student folder is the instructor folder; writing there "
            "would delete the solutions. Choose another out_dir."
        )
    paths = sorted(p for p in src.glob("*.ipynb") if p.is_file())
    if not paths:
        raise SegutilsError(
            f"{src}: no notebooks (*.ipynb) found. Pass the folder of the instructor notebooks "
            "(on the command line: python -m segutils student --src DIR --out OUT)."
        )
    versions = [
        (p.name, make_student_notebook(nbformat.read(p, as_version=4), p.name)) for p in paths
    ]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, nb in versions:
        target = out / filename
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(out_dir: str | Path = STUDENT_DIR, src_dir: str | Path = "notebooks") -> int:
    """Command-line entry: write the student versions, report, return an exit code."""
    try:
        written = write_student_versions(src_dir, out_dir)
    except SegutilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"Wrote {len(written)} student notebook(s) to {Path(out_dir)}/: "
        + ", ".join(p.name for p in written)
    )
    return 0


def execute_notebook(
    path: str | Path,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: int = 600,
    kernel_name: str = "python3",
) -> list[CellError | None]:
    """Run a notebook top to bottom, carrying on past errors; one entry per cell.

    Each entry is ``None`` when the cell ran cleanly (and for markdown cells), else the first
    error it raised. ``env`` is added to this process's environment for the kernel (e.g.
    ``{"SEGUTILS_PROFILE": "quick"}``); ``cwd`` defaults to the notebook's folder.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        allow_errors=True,
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    client.execute(env={**os.environ, **(env or {})})
    errors: list[CellError | None] = []
    for cell in nb.cells:
        found = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        errors.append(
            None
            if found is None
            else CellError(
                found.get("ename", "Error"), " ".join(str(found.get("evalue", "")).split())[:300]
            )
        )
    return errors


def verify_student_run(instructor_nb, name: str, errors: Sequence[CellError | None]) -> list[str]:
    """Problems with a run of the student version of ``instructor_nb``; empty when it proves out.

    Ordinary cells must run cleanly; every check cell must raise (``ExerciseFailed`` unless its
    exercise's stub sits at top level, where a later name may simply be undefined); an exercise
    cell with a top-level stub must raise. Cells are matched by position: the student version
    has the same cells as the instructor version.
    """
    roles = cell_roles(instructor_nb, name)
    if len(roles) != len(errors):
        return [f"{name}: {len(roles)} cells in the notebook but {len(errors)} results"]
    problems, top_level = [], False
    for i, (role, err) in enumerate(zip(roles, errors, strict=True)):
        where = f"{name}, cell {i + 1}"
        if role.kind == "exercise":
            top_level = role.top_level_stub
            if top_level and err is None:
                problems.append(
                    f"{where}: the exercise cell has a top-level stub but ran without error"
                )
        elif role.kind == "check":
            ids = ", ".join(role.exercise_ids)
            if err is None:
                problems.append(
                    f"{where}: the check of exercise {ids} did not raise on the "
                    "student stub: the checker accepts an unsolved exercise"
                )
            elif err.name != "ExerciseFailed" and not top_level:
                problems.append(
                    f"{where}: the check of exercise {ids} raised {err} instead of ExerciseFailed"
                )
            top_level = False
        elif err is not None:
            problems.append(
                f"{where}: an ordinary cell raised {err} (does it use a learner's "
                "answer? use the segutils function instead)"
            )
    return problems
