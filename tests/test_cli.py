"""Tests of the command line: ``verify`` and ``visualize`` through ``segutils.cli.main``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils.cli import main
from segutils.data import synthetic

PALETTE = np.asarray(synthetic.CLASSES.colors, np.uint8)


@pytest.fixture(scope="module")
def clean(builtin_dataset) -> Path:
    return builtin_dataset(10, (24, 32), seed=1)


@pytest.fixture
def broken(clean, tmp_path) -> Path:
    root = Path(shutil.copytree(clean, tmp_path / "broken"))
    (root / "train/masks/street_00001.png").unlink()
    return root


@pytest.fixture
def warned(clean, tmp_path) -> Path:
    root = Path(shutil.copytree(clean, tmp_path / "warned"))
    path = root / "train/images/street_00002.png"
    Image.open(path).convert("L").save(path)
    return root


def test_verify_clean_exits_0(clean, capsys):
    assert main(["verify", str(clean)]) == 0
    out = capsys.readouterr().out
    assert "0 errors, 0 warnings" in out and "No problems found." in out


def test_verify_errors_exit_1_and_name_the_file(broken, capsys):
    assert main(["verify", str(broken), "--n-classes", "7"]) == 1
    out = capsys.readouterr().out
    assert "1 error, 0 warnings" in out
    assert "missing_mask" in out and "train/images/street_00001.png" in out and "fix:" in out


def test_verify_warnings_only_exit_0(warned, capsys):
    assert main(["verify", str(warned)]) == 0
    out = capsys.readouterr().out
    assert "0 errors, 1 warning" in out and "image_mode" in out


def test_verify_json(broken, capsys):
    assert main(["verify", str(broken), "--json", "--split", "train"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["n_errors"] == 1 and list(doc["pairs"]) == ["train"]
    (problem,) = doc["problems"]
    assert problem["kind"] == "missing_mask" and problem["severity"] == "error"
    assert problem["file"] == "train/images/street_00001.png"


def test_verify_missing_folder_is_reported_not_raised(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope"), "--n-classes", "3"]) == 1
    assert "no_dataset" in capsys.readouterr().out


def test_visualize_writes_overlays_in_the_palette_colours(clean, tmp_path, capsys):
    out = tmp_path / "vis"
    assert main(["visualize", str(clean), "--out", str(out), "--n", "2", "--split", "train",
                 "--alpha", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "legend.png", "train_street_00000.png", "train_street_00001.png"]
    picture = np.asarray(Image.open(out / "train_street_00000.png"))
    mask = np.asarray(Image.open(clean / "train/masks/street_00000.png"))
    assert picture.shape == (24, 3 * 32 + 4, 3)
    assert (picture[:, 34:66] == PALETTE[mask]).all()  # the coloured mask
    assert (picture[:, 68:] == PALETTE[mask]).all()  # the overlay at alpha 1
    assert "Wrote 2 overlays" in capsys.readouterr().out


def test_visualize_without_class_table(clean, tmp_path, capsys):
    root = Path(shutil.copytree(clean, tmp_path / "nocls"))
    (root / "classes.json").unlink()
    assert main(["visualize", str(root), "--out", str(tmp_path / "a"), "--n", "1"]) == 2
    assert "--n-classes" in capsys.readouterr().err
    assert main(["visualize", str(root), "--out", str(tmp_path / "b"), "--n", "1",
                 "--n-classes", "7"]) == 0
    assert len(list((tmp_path / "b").glob("*_street_*.png"))) == 3


def test_visualize_skips_broken_pairs(broken, tmp_path, capsys):
    (broken / "train/masks/street_00002.png").write_bytes(b"garbage")
    assert main(["visualize", str(broken), "--out", str(tmp_path / "v"), "--split", "train"]) == 0
    captured = capsys.readouterr()
    assert "Wrote 6 overlays" in captured.out and "segutils verify" in captured.out
    assert "skipped street_00002" in captured.err


def test_python_m_segutils_verify_subprocess(broken):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run([sys.executable, "-m", "segutils", "verify", str(broken),
                          "--n-classes", "7"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 1, run.stderr
    assert "missing_mask" in run.stdout and run.stderr == ""
