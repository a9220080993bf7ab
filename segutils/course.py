"""Run the course headless: execute every notebook in order and write a one-page summary.

``make course`` calls :func:`main`. Each notebook runs in a fresh kernel with the chosen profile;
an executed copy goes to ``OUT/notebooks/`` (or back into ``notebooks/`` with ``--inplace``, which
is how the committed outputs are made), and ``OUT/SUMMARY.md`` lists, per notebook, whether it
ran, how long it took and the key numbers it reported with :func:`record`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

from segutils import config

#: Set by the runner: the JSON-lines file where :func:`record` appends a notebook's key numbers.
SUMMARY_ENV = "SEGUTILS_SUMMARY_FILE"


def record(name: str, value, fmt: str = "") -> None:
    """Print a key result of a notebook and, under ``make course``, add it to the summary.

    >>> record("val mIoU", 0.8312, ".3f")
    val mIoU: 0.831
    """
    shown = format(value, fmt) if fmt else str(value)
    print(f"{name}: {shown}")
    target = os.environ.get(SUMMARY_ENV)
    if target:
        with open(target, "a") as fh:
            fh.write(json.dumps({"name": name, "value": shown}) + "\n")


def notebook_paths(folder: str | Path = "notebooks") -> list[Path]:
    """The course notebooks, in course order (``NN_topic.ipynb``)."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute(path: Path, out_path: Path, profile_name: str, summary_file: Path,
            timeout: int = 1800) -> tuple[bool, str]:
    """Execute one notebook in a fresh ``python3`` kernel; return (ok, error summary)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    env_before = {k: os.environ.get(k) for k in (config.PROFILE_ENV, SUMMARY_ENV, "MPLBACKEND")}
    os.environ[config.PROFILE_ENV] = profile_name
    os.environ[SUMMARY_ENV] = str(summary_file)
    # Figures go into the notebook, whatever backend the calling shell chose (make exports Agg,
    # which would make every plt.show() in the kernel a silent no-op).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    ok, error = True, ""
    try:
        client.execute()
    except CellExecutionError as err:
        ok = False
        error = f"{err.ename}: {err.evalue}"[:300]
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_path)
    return ok, error


def _read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_summary(rows: list[dict], out_dir: Path, profile_name: str, total_s: float) -> Path:
    """Write SUMMARY.md and summary.json from the per-notebook rows."""
    lines = [
        "# Course run summary",
        "",
        f"Profile `{profile_name}`, {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; total {total_s / 60:.1f} min.",
        "",
        "| notebook | status | time | key numbers |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        numbers = "; ".join(f"{r['name']}: {r['value']}" for r in row["records"]) or "-"
        status = "ok" if row["ok"] else f"FAILED: {row['error']}"
        lines.append(f"| {row['notebook']} | {status} | {row['seconds']:.0f} s | {numbers} |")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(
        json.dumps({"profile": profile_name, "total_s": total_s, "notebooks": rows}, indent=2)
    )
    summary = out_dir / "SUMMARY.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary


def run(out_dir: Path, profile_name: str, inplace: bool = False,
        notebooks: list[Path] | None = None) -> bool:
    """Generate the built-in dataset, execute the notebooks, write the summary; True if all ran."""
    from segutils.data import synthetic

    # Kernels run in the notebooks' folder: the summary files need absolute paths.
    out_dir = Path(out_dir).resolve()
    notebooks = notebooks if notebooks is not None else notebook_paths()
    if not notebooks:
        print("No notebooks found in notebooks/.", file=sys.stderr)
        return False
    prof = config.profile(profile_name)
    start = time.perf_counter()
    data = synthetic.ensure_dataset(prof)
    print(f"Built-in dataset ready: {data} ({time.perf_counter() - start:.1f} s)")
    rows = []
    for path in notebooks:
        summary_file = out_dir / "records" / f"{path.stem}.jsonl"
        summary_file.parent.mkdir(parents=True, exist_ok=True)
        summary_file.unlink(missing_ok=True)
        target = path if inplace else out_dir / "notebooks" / path.name
        print(f"Running {path.name} ...", flush=True)
        t0 = time.perf_counter()
        ok, error = execute(path, target, prof.name, summary_file)
        seconds = time.perf_counter() - t0
        print(f"  {'ok' if ok else 'FAILED'} in {seconds:.0f} s{': ' + error if error else ''}")
        rows.append({"notebook": path.name, "ok": ok, "error": error, "seconds": seconds,
                     "records": _read_records(summary_file)})
    summary = write_summary(rows, out_dir, prof.name, time.perf_counter() - start)
    print(f"Summary: {summary}")
    return all(r["ok"] for r in rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("build"),
                        help="folder for executed notebooks and SUMMARY.md (default: build)")
    parser.add_argument("--profile", choices=sorted(config.PROFILES), default=None,
                        help="run size (default: $SEGUTILS_PROFILE, else gpu if one is "
                        "seen, else cpu)")
    parser.add_argument("--inplace", action="store_true",
                        help="write the executed notebooks back into notebooks/")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: all of notebooks/, in order)")


def main(args: argparse.Namespace) -> int:
    if args.profile is None:
        config.import_quietly()  # detecting a GPU imports TensorFlow: keep its log lines out
    name = config.profile(args.profile).name
    return 0 if run(args.out, name, args.inplace, args.notebooks or None) else 1


# --- numbers quoted in prose ---------------------------------------------------------------------
# A number that a notebook's prose quotes from its own run is followed by a marker naming the
# printed "name: value" line it comes from, for example ``U-Net scores 0.412<!-- record: unet val
# mIoU -->``. Jupyter and GitHub hide the marker; :func:`prose_mismatches` checks every marked
# number against the committed outputs, so prose cannot drift from a re-run without a test
# failing. ``<!-- record 08: name -->`` reads notebook 08's outputs instead, and a trailing ``#2``
# on the name picks the second number of that line.
RECORD_MARK = re.compile(r"<!--\s*record(?:\s+(?P<nb>\d\d))?:\s*(?P<name>.+?)\s*-->")
_QUOTED = re.compile(
    r"(?P<num>[-−]?\d[\d,]*(?:\.\d+)?)[*_`]*(?P<unit>%|×|\s?[A-Za-z]{1,7})?[*_`]*\s*$")
_NUMBER = re.compile(r"[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?P<pct>%)?")
_RECORDED_LINE = re.compile(r"^(?P<name>[^:\n]+?): (?P<value>.+?)\s*$", re.M)


def printed_values(nb) -> dict[str, list[str]]:
    """Every ``name: value`` line the code cells of notebook ``nb`` printed, by name, in order.

    :func:`record` prints exactly such lines; ordinary prints in that form count as well.
    """
    values: dict[str, list[str]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            text = "".join(text) if isinstance(text, list) else text
            for m in _RECORDED_LINE.finditer(text):
                values.setdefault(m["name"].strip(), []).append(m["value"])
    return values


def _numbers(value: str) -> list[tuple[float, bool]]:
    return [(float(m.group(0).rstrip("%").replace("−", "-")), bool(m["pct"]))
            for m in _NUMBER.finditer(value.replace(",", ""))]


def _agrees(quoted: str, unit: str | None, recorded: tuple[float, bool]) -> bool:
    """Does the prose number ``quoted`` round the recorded value at the prose's precision?"""
    value, recorded_pct = recorded
    if (unit or "").strip() == "%" and not recorded_pct:
        value *= 100  # a fraction printed as 0.0231, quoted as 2.3%
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    shown = float(quoted.replace(",", "").replace("−", "-"))
    return abs(round(value, decimals) - shown) <= 0.5 * 10**-decimals + 1e-9


def prose_mismatches(nb, name: str, others: dict[str, object] | None = None) -> list[str]:
    """Every marked number in the markdown of ``nb`` that its printed value does not support.

    ``others`` maps a two-digit notebook prefix ("08") to that notebook, for cross-references.
    Returns readable problems (empty when the prose agrees), naming the cell and the marker.
    """
    printed = {None: printed_values(nb)}  # notebook prefix -> its printed lines, read once
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        text = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        for m in RECORD_MARK.finditer(text):
            where = f"{name}, cell {i + 1}, marker {m.group(0)!r}"
            key, _, nth = m["name"].partition(" #")
            if m["nb"] not in printed:
                other = (others or {}).get(m["nb"])
                if other is None:
                    problems.append(f"{where}: no notebook {m['nb']}_*.ipynb to read")
                    continue
                printed[m["nb"]] = printed_values(other)
            values = printed[m["nb"]].get(key.strip(), [])
            if not values:
                problems.append(f"{where}: no output line '{key.strip()}: ...' in that notebook")
                continue
            if len(set(values)) > 1:
                problems.append(f"{where}: '{key.strip()}' is printed with different values "
                                f"{values}; give each record its own name")
                continue
            quoted = _QUOTED.search(text[: m.start()])
            if quoted is None:
                problems.append(f"{where}: no number right before the marker")
                continue
            numbers = _numbers(values[0])
            k = int(nth) - 1 if nth.strip().isdigit() else 0
            if k >= len(numbers):
                problems.append(f"{where}: the output '{values[0]}' has no number #{k + 1}")
            elif not _agrees(quoted["num"], quoted["unit"], numbers[k]):
                problems.append(f"{where}: the prose says {quoted.group(0).strip()}, "
                                f"the output says '{key.strip()}: {values[0]}'")
    return problems


def strip_record_marks(text: str) -> str:
    """Markdown without the :data:`RECORD_MARK` markers (for student versions)."""
    return RECORD_MARK.sub("", text)
