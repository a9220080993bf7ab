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
