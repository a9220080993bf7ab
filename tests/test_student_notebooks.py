"""Run the student versions: the lesson runs, and every check refuses an unsolved exercise.

This is the CI proof behind the teacher's hand-out: for each notebook in ``notebooks/`` the
student version is written to a temporary folder and executed in the ``quick`` profile. Cells
that are neither exercises nor checks must run cleanly; every check cell must raise. The first
tests run the same logic on throwaway notebooks, to show it passes a sound notebook and catches
a checker that accepts a stub.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from segutils import student

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
REAL = [pytest.param(p, id=p.name) for p in NOTEBOOKS] or [
    pytest.param(None, marks=pytest.mark.skip(reason="notebooks/ has no notebooks yet"))
]
ENV = {"SEGUTILS_PROFILE": "quick"}


def run_student_version(instructor: Path, student_dir: Path) -> list[str]:
    """Write the student version of ``instructor``, run it there, return the problems found."""
    nb = nbformat.read(instructor, as_version=4)
    student_dir.mkdir(parents=True, exist_ok=True)
    target = student_dir / instructor.name
    nbformat.write(student.make_student_notebook(nb, instructor.name), target)
    errors = student.execute_notebook(target, cwd=student_dir, env=ENV, timeout=600)
    return student.verify_student_run(nb, instructor.name, errors)


@pytest.mark.parametrize("path", REAL)
def test_student_version_runs_and_every_check_fails(path, tmp_path):
    problems = run_student_version(path, tmp_path / "student")
    assert not problems, "\n".join(problems)


# --- the logic above, on throwaway notebooks ------------------------------------------------

SETUP = "import numpy as np\nfrom segutils.exercises import check"
SOLVED_01_1 = """\
def mask_to_ids(rgb_mask, colors):
    ### BEGIN SOLUTION
    ids = np.zeros(rgb_mask.shape[:2], np.uint8)
    for i, c in enumerate(colors):
        ids[np.all(rgb_mask == c, axis=-1)] = i
    return ids
    ### END SOLUTION"""
SOLVED_01_2 = """\
### BEGIN SOLUTION
def pixel_frequencies(masks, n_classes):
    counts = sum(np.bincount(m[m != 255], minlength=n_classes) for m in masks)
    return counts / counts.sum()
### END SOLUTION"""
SOUND = [
    new_markdown_cell("# A throwaway lesson"),
    new_code_cell(SETUP),
    new_code_cell("import os\nprint(os.environ['SEGUTILS_PROFILE'])"),
    new_code_cell(SOLVED_01_1),
    new_code_cell('check("01.1", mask_to_ids)'),
    new_code_cell(SOLVED_01_2),
    new_code_cell('check("01.2", pixel_frequencies)'),
    new_code_cell("from segutils.data.classes import colors_to_ids\nprint('done')"),
]


def write(tmp_path: Path, name: str, cells) -> Path:
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    path = tmp_path / "notebooks" / name
    nbformat.write(nb, path)
    return path


def test_sound_notebook_passes_solved_and_proves_out_as_student(tmp_path):
    path = write(tmp_path, "01_sound.ipynb", SOUND)
    # The instructor version runs cleanly: the solutions pass their checks ...
    assert student.execute_notebook(path, env=ENV) == [None] * len(SOUND)
    # ... and the student version passes the test's logic.
    assert run_student_version(path, tmp_path / "student") == []


def test_logic_catches_a_checker_that_accepts_a_stub(tmp_path):
    cells = [
        *SOUND[:4],
        # A checker that accepts anything, as a broken segutils.exercises.check would.
        new_code_cell(
            'def check(id, f):\n    print(f"Exercise {id} passed")\ncheck("01.1", mask_to_ids)'
        ),
        *SOUND[5:7],
        # A lesson cell that leans on the learner's answer breaks in the student version.
        new_code_cell("mask_to_ids(np.zeros((1, 1, 3), np.uint8), [(0, 0, 0)])"),
    ]
    problems = run_student_version(write(tmp_path, "01_broken.ipynb", cells), tmp_path / "s")
    assert len(problems) == 2, problems
    assert problems[0].startswith("01_broken.ipynb, cell 5: the check of exercise 01.1 did not")
    assert problems[1].startswith(
        "01_broken.ipynb, cell 8: an ordinary cell raised NotImplementedError"
    )
