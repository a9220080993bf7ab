"""The headless course runner behind `make course` and `make notebooks`."""

import json

import nbformat
import pytest

from segutils import course


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_record_prints_and_appends(tmp_path, monkeypatch, capsys):
    target = tmp_path / "r.jsonl"
    monkeypatch.setenv(course.SUMMARY_ENV, str(target))
    course.record("val mIoU", 0.83125, ".3f")
    course.record("classes", 7)
    assert capsys.readouterr().out == "val mIoU: 0.831\nclasses: 7\n"
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert lines == [{"name": "val mIoU", "value": "0.831"}, {"name": "classes", "value": "7"}]


def test_notebook_order(tmp_path):
    for name in ("10_b.ipynb", "02_a.ipynb", "README.ipynb", "01_z.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in course.notebook_paths(tmp_path)] == [
        "01_z.ipynb", "02_a.ipynb", "10_b.ipynb"]


@pytest.mark.slow
def test_execute_writes_outputs_records_and_profile(tmp_path):
    src = _notebook(
        tmp_path / "01_demo.ipynb",
        "import os; from segutils.course import record",
        "record('profile', os.environ['SEGUTILS_PROFILE'])",
        "record('answer', 6 * 7)",
    )
    bad = _notebook(tmp_path / "02_bad.ipynb", "print('before')", "1 / 0", "print('never')")
    rows = []
    for path in (src, bad):
        records = tmp_path / f"{path.stem}.jsonl"
        ok, error = course.execute(path, tmp_path / "out" / path.name, "quick", records)
        rows.append({"notebook": path.name, "ok": ok, "error": error, "seconds": 1.0,
                     "records": course._read_records(records)})
    assert rows[0]["ok"] and rows[0]["records"] == [
        {"name": "profile", "value": "quick"}, {"name": "answer", "value": "42"}]
    assert not rows[1]["ok"] and "ZeroDivisionError" in rows[1]["error"]
    executed = nbformat.read(tmp_path / "out" / "01_demo.ipynb", as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2, 3]
    assert executed.cells[2].outputs[0].text == "answer: 42\n"
    summary = course.write_summary(rows, tmp_path / "build", "quick", 2.0).read_text()
    assert "| 01_demo.ipynb | ok | 1 s | profile: quick; answer: 42 |" in summary
    assert "FAILED: ZeroDivisionError" in summary


@pytest.mark.slow
def test_run_with_a_relative_output_folder(tmp_path, monkeypatch):
    # The kernel runs in the notebooks' folder, so the runner must hand it absolute paths.
    monkeypatch.setenv("SEGUTILS_DATA", str(tmp_path / "data"))
    nb = _notebook(tmp_path / "01_rel.ipynb", "from segutils.course import record",
                   "record('answer', 42)")
    monkeypatch.chdir(tmp_path)
    assert course.run(course.Path("build"), "quick", notebooks=[nb])
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert "| 01_rel.ipynb | ok |" in summary and "answer: 42" in summary
