"""The run folder: one folder holds everything about one training run.

A run directory holds everything about one run, so that it can be copied, inspected, or
resumed after Colab disconnects or the process is killed::

    run_dir/
      best.keras      the model of the epoch with the best validation score (reloads as is)
      best.json       which epoch that was and its score
      last.keras      the model when training ended (the "final model")
      history.csv     one row per completed epoch, kept across resumed sessions
      report.json     the summary written by segutils.train.fit
      backup/         BackupAndRestore's state: weights + optimizer + epoch, written every epoch
      backup_frozen/  the same for the frozen-encoder stage of a fine-tuning run
      progress.json   the epoch and batch running now (updated about once a second)
      logs/           TensorBoard event files (scalars and prediction pictures)
      training.json   the image size and batch it trained at (evaluate and predict use it)
      classes.json    the class names and colours

Every file is written to a temporary name first and then renamed: a rename is atomic, so a
kill at any moment leaves the previous complete file, never a half-written one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

BEST, BEST_INFO, LAST = "best.keras", "best.json", "last.keras"
HISTORY, REPORT, PROGRESS = "history.csv", "report.json", "progress.json"
BACKUP, LOGS = "backup", "logs"
#: The backup of a fine-tuning run's first stage (encoder frozen: another set of optimizer
#: variables, so it cannot share the second stage's backup).
FROZEN_BACKUP = "backup_frozen"
#: The input the model was trained on (image size, batch): ``evaluate`` and ``predict`` run the
#: model at that size by default.
TRAINING = "training.json"


def replace(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``: atomic when both lie in one folder."""
    os.replace(tmp, final)  # atomic on POSIX and Windows when both lie in one folder


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    replace(tmp, path)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def save_model(model, path: Path) -> None:
    """``model.save`` atomically: a kill during the write leaves the previous file intact."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial.keras")  # Keras insists on the .keras suffix
    model.save(tmp)
    replace(tmp, path)


def read_history(path: Path) -> list[dict]:
    """Rows of a ``history.csv`` as dicts of floats (``epoch`` and ``session`` as ints)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        parsed = {k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
        parsed["epoch"] = int(parsed["epoch"])
        parsed["session"] = int(parsed.get("session", 0))
        out.append(parsed)
    return out


def resume_point(run_dir: Path, backup: str = BACKUP) -> int:
    """Number of completed epochs recorded by the backup of ``run_dir`` (0 when none)."""
    meta = Path(run_dir) / backup / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def default_run_dir(model_name: str, profile=None, recipe: str | None = None) -> Path:
    """``config.runs_dir() / <profile> / [<recipe> /] <model>``: where notebooks and the CLI
    put a run."""
    from segutils import config

    p = config.profile(profile)
    return config.runs_dir() / p.name / (recipe or "") / model_name


def existing_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` already holds (part of) a training run."""
    run_dir = Path(run_dir)
    return any((run_dir / b).is_dir() for b in (BACKUP, FROZEN_BACKUP)) or \
        (run_dir / HISTORY).is_file()


def clear_run(run_dir: str | Path) -> None:
    """Delete what a previous run left in ``run_dir`` (only the files segutils writes)."""
    run_dir = Path(run_dir)
    for name in (BEST, BEST_INFO, LAST, HISTORY, REPORT, PROGRESS,
                 TRAINING):
        (run_dir / name).unlink(missing_ok=True)
    for name in (BACKUP, FROZEN_BACKUP, LOGS):
        shutil.rmtree(run_dir / name, ignore_errors=True)


def training_size(run_dir: str | Path) -> tuple[int, int] | None:
    """The (height, width) the run in ``run_dir`` trained at (its ``training.json``), or None."""
    path = Path(run_dir) / TRAINING
    if not path.is_file():
        return None
    size = json.loads(path.read_text()).get("image_size")
    return (int(size[0]), int(size[1])) if size else None
