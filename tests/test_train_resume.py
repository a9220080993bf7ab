"""A training run killed with SIGKILL mid-epoch resumes from its last completed epoch.

The run is ``python -m segutils train`` in a subprocess, as a learner would start it. The test
watches ``progress.json`` (rewritten after every batch), kills the process in the middle of its
third epoch, checks that every file of the run is intact, runs the same command again and checks
that it continued at epoch 3 instead of starting over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import pytest

from segutils.config import import_quietly

keras = import_quietly()

from segutils.train import callbacks as cb  # noqa: E402
from segutils.train.recipe import load_model  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32",
                                                   reason="SIGKILL is POSIX")]

EPOCHS = 4
KILL_AT = (3, 1)  # (epoch, batch), 1-based: epoch 3 has begun (progress.json says so)
STEPS = 10


@pytest.fixture(scope="module")
def folder(builtin_dataset):
    # 100 images: 80 for training = 10 batches of 8, a wide enough window to land the kill in.
    return builtin_dataset(100, (32, 32), seed=5)


def command(folder, out):
    return [sys.executable, "-m", "segutils", "train", "--data", str(folder), "--model",
            "unet_mini", "--profile", "quick", "--epochs", str(EPOCHS), "--out", str(out),
            "--image-size", "32", "32", "--steps-per-epoch", str(STEPS), "--seed", "3",
            "--resume", "--quiet"]


def environment():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
               PYTHONUNBUFFERED="1")
    env.pop("SEGUTILS_RUNS", None)
    return env


def progress(out):
    try:
        data = json.loads((out / cb.PROGRESS).read_text())
    except (OSError, ValueError):
        return (0, 0)
    return data["epoch"], data["batch"]


@pytest.mark.backend_independent
def test_sigkill_mid_epoch_then_rerun_resumes(folder, tmp_path):
    out = tmp_path / "run"
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(command(folder, out), stdout=log, stderr=subprocess.STDOUT,
                            env=environment())
    deadline = time.monotonic() + 240
    try:
        while progress(out) < KILL_AT:
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never reached epoch 3"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    epoch, batch = progress(out)
    assert epoch == 3 and batch < STEPS, f"killed at epoch {epoch}, batch {batch}: not mid-epoch"

    # Intact files: two completed epochs, each file complete and loadable.
    assert cb.resume_point(out) == 2
    rows = cb.read_history(out / cb.HISTORY)
    assert [r["epoch"] for r in rows] == [1, 2]
    best_epoch = json.loads((out / cb.BEST_INFO).read_text())["epoch"]
    assert best_epoch in (1, 2)
    best = load_model(out / cb.BEST)
    assert best.output_shape[-1] == 7
    with h5py.File(out / cb.BACKUP / "latest.weights.h5", "r") as fh:
        assert "optimizer" in fh  # the optimizer state is backed up with the weights
    assert not (out / cb.LAST).exists()  # written only when training ends
    assert not (out / cb.REPORT).exists()

    # The same command again continues at epoch 3.
    again = subprocess.run(command(folder, out), capture_output=True, text=True, timeout=300,
                           env=environment())
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Epoch 3/4" in again.stdout and "Epoch 1/4" not in again.stdout
    rows = cb.read_history(out / cb.HISTORY)
    assert [(r["epoch"], r["session"]) for r in rows] == [(1, 0), (2, 0), (3, 1), (4, 1)]
    report = json.loads((out / cb.REPORT).read_text())
    assert report["initial_epoch"] == 2 and report["epochs_done"] == EPOCHS
    assert load_model(out / cb.LAST).count_params() == best.count_params()
    assert (out / "history.png").is_file()
