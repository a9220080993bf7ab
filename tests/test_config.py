import os
import subprocess
import sys

import numpy as np
import pytest

from segutils import config
from segutils.errors import ConfigError


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "gpu")
    assert config.profile("quick").name == "quick"


def test_environment_overrides_detection(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "Quick ")
    assert config.profile(has_gpu=True).name == "quick"


@pytest.mark.parametrize(("has_gpu", "expected"), [(True, "gpu"), (False, "cpu")])
def test_automatic_choice_follows_the_device(monkeypatch, has_gpu, expected):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    assert config.profile(has_gpu=has_gpu).name == expected


def test_detection_on_this_machine(monkeypatch):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    expected = "gpu" if config.gpu_available() else "cpu"
    assert config.profile().name == expected


def test_unknown_profile_names_the_source(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "huge")
    with pytest.raises(ConfigError, match="huge.*SEGUTILS_PROFILE.*quick, cpu, gpu"):
        config.profile()


def test_profiles_grow_from_quick_to_gpu():
    q, c, g = (config.PROFILES[n] for n in ("quick", "cpu", "gpu"))
    for field in ("n_images", "epochs", "base_filters"):
        assert getattr(q, field) <= getattr(c, field) <= getattr(g, field), field
    assert q.image_size[0] * q.image_size[1] <= c.image_size[0] * c.image_size[1]
    # An 80/10/10 split must leave the quick profile at least one batch of validation images.
    assert q.n_images // 10 >= 1


def test_profile_is_frozen_and_replace_copies():
    p = config.profile("quick")
    with pytest.raises(AttributeError):
        p.epochs = 5
    longer = p.replace(epochs=p.epochs + 1)
    assert longer.epochs == p.epochs + 1
    assert config.profile("quick").epochs == p.epochs


def test_seed_everything_repeats_draws():
    import random

    import keras

    config.seed_everything(7)
    a = (random.random(), np.random.rand(), keras.random.uniform((3,)).numpy().tolist())
    config.seed_everything(7)
    b = (random.random(), np.random.rand(), keras.random.uniform((3,)).numpy().tolist())
    assert a == b


def test_data_dir_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    assert config.data_dir() == tmp_path


def test_data_dir_in_checkout(monkeypatch):
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    root = config.project_root()
    assert root is not None and config.data_dir() == root / "data"


def test_runs_dir_environment_and_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv(config.RUNS_ENV, str(tmp_path / "drive"))
    assert config.runs_dir() == tmp_path / "drive"
    monkeypatch.delenv(config.RUNS_ENV)
    assert config.runs_dir() == config.project_root() / "runs"


def test_import_quietly_prints_nothing():
    code = ("from segutils import config; config.import_quietly(); "
            "import tensorflow as tf; tf.zeros(1)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert res.stderr == "", res.stderr
