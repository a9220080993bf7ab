"""Numbers that notebook prose quotes from a run agree with the committed outputs.

Prose marks each such number with ``<!-- record: NAME -->`` (see ``segutils.course``); these tests
check the checker on hand-made notebooks, then every committed notebook with it.
"""

import functools
from pathlib import Path

import nbformat
import pytest

from segutils import course, student

NOTEBOOKS = sorted(Path(__file__).resolve().parent.parent.glob("notebooks/[0-9][0-9]_*.ipynb"))


@functools.cache
def committed() -> dict:
    """Every committed notebook by its two-digit prefix, read once for all the tests here."""
    return {p.name[:2]: nbformat.read(p, as_version=4) for p in NOTEBOOKS}


def _notebook(printed: str, prose: str):
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text=printed)
    nb.cells = [nbformat.v4.new_code_cell("run()", outputs=[out]),
                nbformat.v4.new_markdown_cell(prose)]
    return nb


@pytest.mark.parametrize("prose", [
    "U-Net reaches **0.34**<!-- record: val mIoU -->.",
    "U-Net reaches 0.338<!-- record: val mIoU -->.",
    "Pedestrians cover 2.3%<!-- record: person share --> of the pixels.",
    "The learned one gets 25.3 dB<!-- record: psnr bilinear / learned #2 -->.",
    "A share of 12%<!-- record: fraction --> (printed as a fraction).",
    "It took 1,234 s<!-- record: seconds -->.",
])
def test_quoted_numbers_that_round_the_printed_value_pass(prose):
    printed = ("val mIoU: 0.338\nperson share: 2.31%\npsnr bilinear / learned: 27.1 / 25.3 dB\n"
               "fraction: 0.1204\nseconds: 1234\n")
    assert course.prose_mismatches(_notebook(printed, prose), "t") == []


@pytest.mark.parametrize("prose, says", [
    ("U-Net reaches 0.35<!-- record: val mIoU -->.", "prose says 0.35"),
    ("U-Net reaches 0.33<!-- record: val mIoU -->.", "prose says 0.33"),  # 0.338 is 0.34
    ("Pedestrians cover 1%<!-- record: person share -->.", "prose says 1%"),
    ("The learned one gets 27.1 dB<!-- record: psnr bilinear / learned #2 -->.", "27.1"),
    ("No number here<!-- record: val mIoU -->.", "no number right before"),
    ("A name nobody printed 0.3<!-- record: val IoU -->.", "no output line 'val IoU"),
    ("Line 3 has no third number 1<!-- record: person share #3 -->.", "no number #3"),
    ("From notebook 08: 0.3<!-- record 08: val mIoU -->.", "no notebook 08"),
])
def test_a_wrong_or_unfounded_number_is_reported(prose, says):
    printed = "val mIoU: 0.338\nperson share: 2.31%\npsnr bilinear / learned: 27.1 / 25.3 dB\n"
    problems = course.prose_mismatches(_notebook(printed, prose), "t")
    assert len(problems) == 1 and says in problems[0] and "t, cell 2" in problems[0]


def test_another_notebooks_outputs_can_be_quoted():
    nb = _notebook("", "The run of notebook 08 scored 0.41<!-- record 08: unet val mIoU -->.")
    other = _notebook("unet val mIoU: 0.412\n", "")
    assert course.prose_mismatches(nb, "09", {"08": other}) == []
    other = _notebook("unet val mIoU: 0.452\n", "")
    assert "0.452" in course.prose_mismatches(nb, "09", {"08": other})[0]


def test_a_name_printed_with_two_values_is_ambiguous():
    nb = _notebook("loss: 0.5\nloss: 0.4\n", "The loss fell to 0.4<!-- record: loss -->.")
    assert "different values" in course.prose_mismatches(nb, "t")[0]


def test_student_versions_drop_the_markers():
    nb = _notebook("val mIoU: 0.338\n", "U-Net reaches 0.338<!-- record: val mIoU -->.")
    text = student.make_student_notebook(nb, "t").cells[1].source
    assert text == "U-Net reaches 0.338." and "record" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_prose_agrees_with_committed_outputs(path):
    others = committed()
    assert course.prose_mismatches(others[path.name[:2]], path.name, others) == []


def test_the_course_quotes_its_results_through_markers():
    """Guards against markers vanishing in a rewrite: the run-heavy notebooks quote their runs."""
    for prefix in ("03", "05", "06", "07", "08", "09", "10", "11"):
        path = next(p for p in NOTEBOOKS if p.name.startswith(prefix))
        nb = committed()[prefix]
        marks = sum(len(course.RECORD_MARK.findall(c.source)) for c in nb.cells
                    if c.cell_type == "markdown")
        assert marks >= 2, f"{path.name}: prose quotes no number through a record marker"


#: Ideas that one notebook explains, and the notebook that does.
EXPLAINED_IN = {"IoU": "02", "logits": "02", "transposed convolution": "04", "U-Net": "06",
                "median-frequency": "07", "confusion matrix": "09"}


@pytest.mark.parametrize("term, home", EXPLAINED_IN.items())
def test_an_idea_used_before_its_notebook_points_there(term, home):
    """The first mention of an idea in an earlier notebook says where it is explained."""
    for path in NOTEBOOKS:
        if path.name[:2] >= home:
            break
        nb = committed()[path.name[:2]]
        first = next((c.source for c in nb.cells if c.cell_type == "markdown"
                      and term in c.source), None)
        if first is not None:
            assert f"notebook {home}" in first or f"notebooks {home}" in first, (
                f"{path.name} first mentions {term!r} without pointing to notebook {home}")
