"""Repository hygiene: committed notebooks, environment files and README stay as promised."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from segutils import config
from segutils.course import notebook_paths

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebook_paths(ROOT / "notebooks")
# Start-up and runtime chatter of TensorFlow and absl that must never reach a committed output.
TF_NOISE = re.compile(
    r"(^[IWE]\d{4} \d\d:\d\d:\d\d|All log messages before absl|oneDNN custom operations|"
    r"cudart_stub|cpu_feature_guard|rebuild TensorFlow with the appropriate compiler flags|"
    r"tensorflow/core/|computation placer already registered|Unable to register cu)",
    re.MULTILINE,
)


def _output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return "\n".join(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no NN_topic.ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestCommittedNotebook:
    def test_size_and_kernel(self, path):
        # Figures are drawn at 100 dpi (segutils.viz.STYLE); photo grids make 03 the largest.
        assert path.stat().st_size < 3_000_000, (
            f"{path.name} is over 3 MB: make its figures smaller or fewer")
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"

    def test_figures_use_the_course_style(self, path):
        """Every Setup cell applies segutils.viz.STYLE (100 dpi); nothing lowers the dpi later."""
        nb = nbformat.read(path, as_version=4)
        setup = next(c.source for c in nb.cells if c.cell_type == "code")
        assert "segutils.viz.use_style()" in setup, f"{path.name}: Setup does not call use_style()"
        for i, cell in enumerate(nb.cells):
            for dpi in re.findall(r"dpi\"?\s*[:=]\s*(\d+)", cell.source if cell.cell_type == "code"
                                  else ""):
                assert int(dpi) >= 100, f"{path.name} cell {i}: figures at {dpi} dpi"

    def test_outputs_come_from_one_in_order_run(self, path):
        nb = nbformat.read(path, as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (
            f"{path.name}: execution counts {counts}; re-run with `make notebooks`"
        )

    def test_no_errors_and_no_tensorflow_noise(self, path):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"{path.name} cell {i} has an error output"
                text = _output_text(output)
                assert not TF_NOISE.search(text), f"{path.name} cell {i}: log line {text[:200]!r}"

    def test_opening_badge_and_sections(self, path):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "markdown" and first.source.startswith("# ")
        badge = (f"https://colab.research.google.com/github/"
                 f"{config.REPO_URL.removeprefix('https://github.com/')}/blob/main/notebooks/"
                 f"{path.name}")
        assert badge in first.source, f"{path.name}: the Colab badge must link to {badge}"
        headings = [line for c in nb.cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("#")]
        for section in ("Setup", "Exercises", "Summary"):
            assert any(section in h for h in headings), f"{path.name} has no '{section}' section"

    def test_setup_cell_installs_only_on_colab(self, path):
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        setup = next((s for s in code if "import_quietly" in s), None)
        assert setup is not None, f"{path.name}: the setup cell must call config.import_quietly()"
        assert "google.colab" in setup and "pip install" in setup


def _requirement_names(reqs):
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in reqs}


def test_environment_yml_matches_pyproject():
    import yaml

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e .[dev]" in pip, "environment.yml must install the package with its dev extra"
    listed = [r for r in pip if not r.startswith("-e")]
    assert _requirement_names(listed) == _requirement_names(wanted)


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    commands = [c for c in commands if c]
    assert commands == ["make course", "make test"]


def test_readme_maps_every_notebook():
    text = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in text, f"README's course map misses {path.name}"


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, re.M)


def test_benchmark_results_are_json():
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        json.loads(path.read_text())


def test_real_data_notebook_is_committed_from_real_camvid():
    """Notebook 10 falls back to a stand-in without CamVid; its committed outputs must not."""
    nb = nbformat.read(ROOT / "notebooks" / "10_real_data.ipynb", as_version=4)
    text = "\n".join(_output_text(o) for c in nb.cells for o in c.get("outputs", []))
    assert "reading CamVid from" in text, (
        "10_real_data.ipynb was executed on the stand-in: run it with SEGUTILS_CAMVID pointing "
        "at CamVid (make notebooks SEGUTILS_CAMVID=DIR)")
    assert "using a small stand-in" not in text
