"""Student versions: solutions become stubs, nothing else changes, bad markers are refused."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from segutils import student
from segutils.errors import SegutilsError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NO_NOTEBOOKS = pytest.mark.skip(reason="notebooks/ has no notebooks yet")
REAL = [pytest.param(p, id=p.name) for p in NOTEBOOKS] or [pytest.param(None, marks=NO_NOTEBOOKS)]

TASK_1 = "Convert a colour-coded mask to class IDs"
TASK_2 = "Compute each class's share of the labelled pixels"

EXERCISE_1 = '''\
def mask_to_ids(rgb_mask, colors):
    """Turn an (H, W, 3) colour mask into (H, W) class IDs."""
    ### BEGIN SOLUTION
    ids = np.zeros(rgb_mask.shape[:2], np.uint8)
    for i, c in enumerate(colors):
        ids[np.all(rgb_mask == c, axis=-1)] = i
    return ids
    ### END SOLUTION


print("defined")'''

STUDENT_1 = f'''\
def mask_to_ids(rgb_mask, colors):
    """Turn an (H, W, 3) colour mask into (H, W) class IDs."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 01.1: {TASK_1}")


print("defined")'''

EXERCISE_2 = """\
class Counter:
    def frequencies(self, masks, n_classes):
        if n_classes:
            ### BEGIN SOLUTION
            return class_frequencies(masks, n_classes)
            ### END SOLUTION
"""

STUDENT_2 = f"""\
class Counter:
    def frequencies(self, masks, n_classes):
        if n_classes:
            # YOUR CODE HERE
            raise NotImplementedError("Exercise 01.2: {TASK_2}")
"""

TOP_LEVEL = "x = 1\n### BEGIN SOLUTION\ny = x + 1\n### END SOLUTION"
TOP_LEVEL_STUDENT = f'x = 1\n# YOUR CODE HERE\nraise NotImplementedError("Exercise 01.1: {TASK_1}")'


def build(*exercise_cells: str, check_cells=None) -> nbformat.NotebookNode:
    """A notebook: intro, setup, then each exercise cell followed by its check cell."""
    checks = check_cells or [
        'from segutils.exercises import check\ncheck("01.1", mask_to_ids)',
        'segutils.exercises.check("01.2", Counter().frequencies)',
        "check('01.1', lambda *a: y)",
    ]
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "course": {"order": 1},
        }
    )
    nb.cells = [
        new_markdown_cell("# Masks\nSome prose.", metadata={"tags": ["intro"]}),
        new_code_cell(
            "import numpy as np",
            execution_count=1,
            outputs=[new_output("stream", name="stdout", text="hi\n")],
        ),
    ]
    for k, (src, chk) in enumerate(zip(exercise_cells, checks, strict=False)):
        nb.cells.append(
            new_code_cell(
                src,
                execution_count=2 + 2 * k,
                metadata={"tags": ["ex"]},
                outputs=[new_output("execute_result", data={"text/plain": "1"})],
            )
        )
        nb.cells.append(new_code_cell(chk, execution_count=3 + 2 * k))
    nb.cells.append(new_markdown_cell("## Summary"))
    nbformat.validate(nb)
    return nb


def test_stubs_keep_indentation_and_the_lines_around():
    nb = build(EXERCISE_1, EXERCISE_2, TOP_LEVEL)
    out = student.make_student_notebook(nb, "01_masks.ipynb")
    assert out.cells[2].source == STUDENT_1
    assert out.cells[4].source == STUDENT_2
    assert out.cells[6].source == TOP_LEVEL_STUDENT


def test_nothing_else_changes_and_outputs_are_cleared():
    nb = build(EXERCISE_1, EXERCISE_2)
    before = copy.deepcopy(nb)
    out = student.make_student_notebook(nb, "01_masks.ipynb")
    assert nb == before  # the instructor notebook is untouched
    assert out.metadata == nb.metadata and out.nbformat == nb.nbformat
    assert len(out.cells) == len(nb.cells)
    for k, (a, b) in enumerate(zip(nb.cells, out.cells, strict=True)):
        assert (a.cell_type, a.metadata, a.get("id")) == (b.cell_type, b.metadata, b.get("id"))
        if k not in (2, 4):
            assert a.source == b.source
        if b.cell_type == "code":
            assert b.outputs == [] and b.execution_count is None
    nbformat.validate(out)


def test_stubs_run_and_raise_with_the_task():
    out = student.make_student_notebook(build(EXERCISE_1, EXERCISE_2), "01_masks.ipynb")
    scope: dict = {"np": __import__("numpy"), "class_frequencies": None}
    exec(out.cells[2].source, scope)
    exec(out.cells[4].source, scope)
    with pytest.raises(NotImplementedError, match=re.escape(f"Exercise 01.1: {TASK_1}")):
        scope["mask_to_ids"](None, [])
    with pytest.raises(NotImplementedError, match=re.escape(f"Exercise 01.2: {TASK_2}")):
        scope["Counter"]().frequencies([], 3)


def test_several_blocks_in_one_cell_share_one_check():
    two = EXERCISE_1 + "\n\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    out = student.make_student_notebook(build(two), "x.ipynb")
    assert out.cells[2].source.count(f'raise NotImplementedError("Exercise 01.1: {TASK_1}")') == 2
    assert "return 1" not in out.cells[2].source


def test_cell_roles():
    roles = student.cell_roles(
        build(
            EXERCISE_1, TOP_LEVEL, check_cells=['check("01.1", mask_to_ids)', 'check("01.2", f)']
        ),
        "x.ipynb",
    )
    kinds = [r.kind for r in roles]
    assert kinds == ["markdown", "code", "exercise", "check", "exercise", "check", "markdown"]
    assert roles[2].exercise_ids == ("01.1",) and not roles[2].top_level_stub
    assert roles[4].exercise_ids == ("01.2",) and roles[4].top_level_stub


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('check("01.1", f)', ["01.1"]),
        ("segutils.exercises.check('01.2', g)", ["01.2"]),
        ('ex.check( "01.1", f)\ncheck("01.2", g)', ["01.1", "01.2"]),
        ('spellcheck("01.1", f)\n# check(01.1)', []),
    ],
)
def test_check_ids(source, expected):
    assert student.check_ids(source) == expected


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "no '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "cannot nest"),
    ],
)
def test_unbalanced_markers_are_refused(source, words):
    with pytest.raises(SegutilsError) as info:
        student.make_student_notebook(build(source), "03_bad.ipynb")
    msg = str(info.value)
    assert msg.startswith("03_bad.ipynb, cell 3 ") and words in msg


def test_block_without_check_cell_is_refused():
    nb = build(EXERCISE_1, check_cells=["print('no check here')"])
    with pytest.raises(SegutilsError, match=r"x\.ipynb, cell 3 .*no check cell after it"):
        student.make_student_notebook(nb, "x.ipynb")
    nb.cells = nb.cells[:3]  # the exercise cell is the last cell
    with pytest.raises(SegutilsError, match="no code cell follows it"):
        student.make_student_notebook(nb, "x.ipynb")


def test_unknown_exercise_id_is_refused():
    nb = build(EXERCISE_1, check_cells=['check("99.9", mask_to_ids)'])
    with pytest.raises(SegutilsError, match=r"x\.ipynb, cell 4 .*'99\.9'.*01\.1, 01\.2"):
        student.make_student_notebook(nb, "x.ipynb")


def test_solution_and_check_in_one_cell_is_refused():
    nb = build(EXERCISE_1 + '\ncheck("01.1", mask_to_ids)')
    with pytest.raises(SegutilsError, match="both a solution block and a check call"):
        student.make_student_notebook(nb, "x.ipynb")


def test_write_student_versions(tmp_path, capsys):
    src, out = tmp_path / "notebooks", tmp_path / "student"
    src.mkdir()
    nbformat.write(build(EXERCISE_1), src / "01_a.ipynb")
    nbformat.write(
        build(EXERCISE_2, check_cells=['check("01.2", Counter().frequencies)']), src / "02_b.ipynb"
    )
    (src / "data.csv").write_text("not copied")
    written = student.write_student_versions(src, out)
    assert [p.name for p in written] == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert nbformat.read(out / "01_a.ipynb", as_version=4).cells[2].source == STUDENT_1
    assert student.main(out, src) == 0
    assert "Wrote 2 student notebook(s)" in capsys.readouterr().out


def test_a_bad_notebook_stops_everything_before_writing(tmp_path, capsys):
    src, out = tmp_path / "notebooks", tmp_path / "student"
    src.mkdir()
    nbformat.write(build(EXERCISE_1), src / "01_a.ipynb")
    nbformat.write(build("### BEGIN SOLUTION\n"), src / "02_b.ipynb")
    with pytest.raises(SegutilsError, match="02_b.ipynb, cell 3"):
        student.write_student_versions(src, out)
    assert not out.exists()
    assert student.main(out, src) == 1
    assert "02_b.ipynb, cell 3" in capsys.readouterr().err


def test_refuses_to_overwrite_the_instructor_folder_or_an_empty_one(tmp_path):
    with pytest.raises(SegutilsError, match="no notebooks"):
        student.write_student_versions(tmp_path, tmp_path / "student")
    with pytest.raises(SegutilsError, match="instructor folder"):
        student.write_student_versions(tmp_path, tmp_path / ".")


def test_verify_student_run_rules():
    nb = build(
        EXERCISE_1,
        TOP_LEVEL,
        check_cells=['check("01.1", mask_to_ids)', 'check("01.2", lambda *a: y)'],
    )
    failed = student.CellError("ExerciseFailed", "Exercise 01.1 is not solved yet")
    stub = student.CellError("NotImplementedError", "Exercise 01.2")
    name_error = student.CellError("NameError", "name 'y' is not defined")
    good = [None, None, None, failed, stub, name_error, None]
    assert student.verify_student_run(nb, "n", good) == []
    bad = [None, name_error, None, name_error, None, None, None]
    problems = student.verify_student_run(nb, "n", bad)
    assert [p.split(":")[0] for p in problems] == [
        "n, cell 2",
        "n, cell 4",
        "n, cell 5",
        "n, cell 6",
    ]
    assert "NameError" in problems[0] and "instead of ExerciseFailed" in problems[1]
    assert "top-level stub" in problems[2] and "did not raise" in problems[3]
    assert "results" in student.verify_student_run(nb, "n", good[:-1])[0]


# --- the real notebooks ------------------------------------------------------------------------


def solution_lines(nb) -> tuple[set[str], set[str]]:
    """(lines inside solution blocks, lines outside them) over all code cells, stripped."""
    inside, outside = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        in_block = False
        for line in cell.source.splitlines():
            text = line.strip()
            if text in ("### BEGIN SOLUTION", "### END SOLUTION"):
                in_block = text.startswith("### BEGIN")
            elif text:
                (inside if in_block else outside).add(text)
    return inside, outside


CHECK_CALL = re.compile(r"\bcheck\(\s*['\"]\d+\.\d+['\"]")


@pytest.mark.parametrize("path", REAL)
def test_real_notebook_student_version_leaks_no_solution(path):
    nb = nbformat.read(path, as_version=4)
    out = student.make_student_notebook(nb, path.name)
    inside, outside = solution_lines(nb)
    # A line that also occurs outside the blocks (``return ids``) proves nothing either way.
    secret = inside - outside
    student_text = {ln.strip() for c in out.cells for ln in c.source.splitlines()}
    assert not secret & student_text, f"solution lines left in the student {path.name}"
    assert all(c.get("outputs", []) == [] for c in out.cells)


@pytest.mark.parametrize("path", REAL)
def test_real_notebook_student_version_carries_no_unexplained_test_machinery(path):
    out = student.make_student_notebook(nbformat.read(path, as_version=4), path.name)
    code = "\n".join(c.source for c in out.cells if c.cell_type == "code")
    assert "NBVAL" not in code
    lines = [ln.strip() for ln in code.splitlines()]
    calls = [k for k, ln in enumerate(lines) if ln.startswith("segutils.course.record(")]
    if calls:  # explained once, right above its first use
        assert lines[calls[0] - 1] == student.RECORD_NOTE.strip()
        assert lines.count(student.RECORD_NOTE.strip()) == 1


def test_markers_go_and_the_first_record_call_is_explained():
    nb = build(EXERCISE_1)
    nb.cells += [new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
                 new_code_cell("for k in range(2):\n    segutils.course.record('a', k)"),
                 new_code_cell("segutils.course.record('b', 2)")]
    out = student.make_student_notebook(nb, "01_masks.ipynb")
    assert [c.source for c in out.cells[-3:]] == [
        "print(1)",
        "for k in range(2):\n    " + student.RECORD_NOTE + "    segutils.course.record('a', k)",
        "segutils.course.record('b', 2)"]


def test_the_command_line_names_src_when_there_are_no_notebooks(tmp_path, capsys):
    assert student.main(tmp_path / "out", tmp_path) == 1
    assert "--src" in capsys.readouterr().err


@pytest.mark.parametrize("path", REAL)
def test_real_notebook_has_at_least_two_check_cells(path):
    nb = nbformat.read(path, as_version=4)
    n = sum(1 for c in nb.cells if c.cell_type == "code" and CHECK_CALL.search(c.source))
    assert n >= 2, f"{path.name} has {n} check cell(s); every notebook needs at least two exercises"
