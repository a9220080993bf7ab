"""Tests of segutils.train: device choices, out-of-memory advice, callbacks, fit, determinism.

The interruption test (SIGKILL mid-epoch, then the same command again) is in
tests/test_train_resume.py; it runs the command line in subprocesses.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from segutils.config import import_quietly

keras = import_quietly()
import tensorflow as tf  # noqa: E402

from segutils.data.classes import CLASSES_FILE, ClassInfo  # noqa: E402
from segutils.errors import ConfigError, DatasetError, SegutilsError  # noqa: E402
from segutils.models import unet_mini  # noqa: E402
from segutils.train import callbacks as cb  # noqa: E402
from segutils.train import hardware as hw  # noqa: E402
from segutils.train import recipe, run_folder, runs  # noqa: E402

N_CLASSES = 3


# --- device choices (fake devices: this machine has no GPU) -----------------------------------

@pytest.mark.parametrize("devices, precision, jit, strategy", [
    (hw.Devices("tensorflow"), "float32", False, "default"),
    (hw.Devices("tensorflow", gpus=1), "mixed_float16", True, "default"),
    (hw.Devices("tensorflow", gpus=4), "mixed_float16", True, "mirrored"),
    (hw.Devices("tensorflow", tpu=True), "mixed_bfloat16", True, "tpu"),
    (hw.Devices("jax", gpus=2), "mixed_float16", True, "mirrored"),
    (hw.Devices("jax"), "float32", True, "default"),
])
def test_choices_follow_the_devices(devices, precision, jit, strategy):
    assert hw.choose_precision(devices) == precision
    assert hw.choose_jit(devices) is jit
    assert hw.choose_strategy(devices) == strategy


def test_the_machine_is_named_by_its_gpu_else_by_its_cpu(monkeypatch):
    monkeypatch.setattr(hw, "cpu_model", lambda: "Some CPU @ 2.0GHz")
    monkeypatch.setattr(hw.os, "cpu_count", lambda: 6)
    assert hw.gpu_model(hw.Devices("tensorflow")) is None
    assert hw.describe_machine(hw.Devices("tensorflow")) == "Some CPU @ 2.0GHz, 6 cores, no GPU"
    gpu = hw.Devices("tensorflow", gpus=1, names=("NVIDIA L4",))
    assert hw.gpu_model(gpu) == "NVIDIA L4"
    assert hw.describe_machine(gpu) == "NVIDIA L4 (tensorflow)"


def test_the_cpu_has_a_name():
    name = hw.cpu_model()
    assert isinstance(name, str) and name.strip()


def test_setup_applies_the_policy_and_restores():
    try:
        acc = hw.setup(devices=hw.Devices("tensorflow", gpus=1), strategy="default")
        assert acc.precision == "mixed_float16" and acc.jit_compile and acc.strategy is None
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        # A model built now computes in float16 but its logits layer stays float32.
        model = unet_mini(N_CLASSES, base_filters=4)
        assert model.get_layer("encoder_stage1a_conv").compute_dtype == "float16"
        assert model(np.zeros((1, 8, 8, 3), np.float32)).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    acc = hw.setup(devices=hw.Devices("tensorflow"))
    assert (acc.precision, acc.jit_compile, acc.strategy_name) == ("float32", False, "default")
    assert "CPU only" in acc.describe()
    with acc.scope():
        pass


def test_setup_rejects_unknown_values():
    with pytest.raises(ValueError, match="precision"):
        hw.setup("float8", devices=hw.Devices("tensorflow"))
    with pytest.raises(ValueError, match="strategy"):
        hw.make_strategy("ring", "tensorflow")
    keras.mixed_precision.set_global_policy("float32")


def test_detect_devices_on_this_machine():
    devices = hw.detect_devices()
    assert devices.backend == keras.config.backend()
    assert devices.kind == ("gpu" if tf.config.list_physical_devices("GPU") else "cpu")


# --- out of memory --------------------------------------------------------------------------------

class ResourceExhaustedError(Exception):
    """Stands in for a backend's error class, recognised by its name."""


@pytest.mark.parametrize("error", [
    tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape"),
    ResourceExhaustedError("boom"),
    RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 4.0GiB"),
    MemoryError(),
])
def test_out_of_memory_becomes_advice(error):
    with pytest.raises(hw.OutOfMemory) as info, hw.explain_oom(16, (256, 256), "float32"):
        raise error
    text = str(info.value)
    assert "--batch-size 8" in text and "--image-size 192 192" in text
    assert "mixed precision" in text and "How to fix" in text


def test_other_errors_pass_through():
    with pytest.raises(KeyError), hw.explain_oom(8):
        raise KeyError("not memory")
    assert not hw.is_out_of_memory(ValueError("shapes do not match"))


# --- small helpers --------------------------------------------------------------------------------

def tiny_model(seed: int = 0, lr: float = 1e-2):
    keras.utils.set_random_seed(seed)
    model = unet_mini(N_CLASSES, base_filters=4, dropout=0.0)
    return recipe.compile_model(model, learning_rate=lr, jit_compile=False)


def arrays(n: int = 16, size: int = 16, seed: int = 0):
    """Images whose colour gives the class: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, N_CLASSES, (n, size, size)).astype(np.int32)
    masks[:, :2] = 255  # an ignored band
    palette = np.array([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9]], np.float32)
    images = palette[np.where(masks == 255, 0, masks)] + rng.normal(0, 0.05, (n, size, size, 3))
    return images.astype(np.float32), masks


def datasets(batch: int = 4, nan_batch: int | None = None):
    images, masks = arrays()
    if nan_batch is not None:
        images[nan_batch * batch: (nan_batch + 1) * batch] = np.nan
    train = tf.data.Dataset.from_tensor_slices((images, masks)).batch(batch)
    val = tf.data.Dataset.from_tensor_slices(arrays(8, seed=1)).batch(batch)
    return train, val


# --- compile and fit ------------------------------------------------------------------------------

def test_compile_model_adds_the_streaming_mean_iou():
    model = tiny_model()
    names = [m.name for m in model.metrics]
    assert "compile_metrics" in names or "mean_iou" in names
    with pytest.raises(ConfigError, match="optimizer"):
        recipe.compile_model(unet_mini(N_CLASSES, base_filters=4), optimizer="rmsprop2")
    with pytest.raises(ConfigError, match="class_weights"):
        recipe.compile_model(unet_mini(N_CLASSES, base_filters=4), loss="mse",
                             class_weights=[1, 2, 3])


@pytest.mark.slow
def test_fit_writes_a_complete_run(tmp_path):
    train, val = datasets()
    images, masks = arrays(4, seed=2)
    model = tiny_model()
    report = recipe.fit(model, train, val, epochs=3, run_dir=tmp_path, verbose=0, batch_size=4,
                        preview=(images, masks), classes=_classes())
    for name in (cb.BEST, cb.BEST_INFO, cb.LAST, cb.HISTORY, cb.REPORT, cb.PROGRESS):
        assert (tmp_path / name).is_file(), name
    # The class table travels with the run, for predict and evaluate.
    assert ClassInfo.load(tmp_path / CLASSES_FILE).names == _classes().names
    assert not list(tmp_path.rglob(".*partial*")), "temporary files left behind"
    rows = cb.read_history(tmp_path / cb.HISTORY)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and {r["session"] for r in rows} == {0}
    val_iou = [r["val_mean_iou"] for r in rows]
    assert report.best_value == pytest.approx(max(val_iou))
    assert report.best_epoch == int(np.argmax(val_iou)) + 1
    assert report.images_per_second and report.images_per_second > 0
    assert json.loads((tmp_path / cb.REPORT).read_text())["epochs_done"] == 3
    assert cb.resume_point(tmp_path) == 3
    # Cosine schedule by epoch: 1e-2 at epoch 1, then lower.
    assert rows[0]["learning_rate"] == pytest.approx(1e-2)
    assert rows[2]["learning_rate"] < rows[1]["learning_rate"] < rows[0]["learning_rate"]
    # TensorBoard scalars and prediction pictures.
    assert list((tmp_path / cb.LOGS).rglob("events.out.tfevents*"))
    assert list((tmp_path / cb.LOGS / "predictions").glob("events*"))
    # best.keras reloads as it is and scores as logged.
    best = recipe.load_model(tmp_path / cb.BEST)
    assert best.evaluate(val, verbose=0, return_dict=True)["mean_iou"] == pytest.approx(
        report.best_value, abs=1e-6)
    # Validation covered the whole set: 8 images, not a slice.
    assert report.final["val_mean_iou"] == pytest.approx(val_iou[-1])


def _classes():
    from segutils import viz

    return viz.default_classes(N_CLASSES)


@pytest.mark.slow
@pytest.mark.backend_independent
def test_a_finished_run_is_not_trained_again_and_can_be_extended(tmp_path):
    train, val = datasets()
    recipe.fit(tiny_model(), train, val, epochs=2, run_dir=tmp_path, verbose=0,
               tensorboard=False)
    again = recipe.fit(tiny_model(seed=5), train, val, epochs=2, run_dir=tmp_path, verbose=0,
                       tensorboard=False)
    assert again.initial_epoch == 2 and again.epochs_done == 2
    more = recipe.fit(tiny_model(seed=5), train, val, epochs=3, run_dir=tmp_path, verbose=0,
                      tensorboard=False)
    rows = cb.read_history(tmp_path / cb.HISTORY)
    assert [(r["epoch"], r["session"]) for r in rows] == [(1, 0), (2, 0), (3, 1)]
    assert more.epochs_done == 3
    wider = recipe.compile_model(unet_mini(N_CLASSES, base_filters=8), jit_compile=False)
    with pytest.raises(SegutilsError, match="does not fit this model"):
        recipe.fit(wider, train, val, epochs=4, run_dir=tmp_path, verbose=0, tensorboard=False)
    (tmp_path / "notes.txt").write_text("mine")
    run_folder.clear_run(tmp_path)  # what resume=False does first
    assert cb.resume_point(tmp_path) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_validation_data_must_not_repeat(tmp_path):
    train, val = datasets()
    with pytest.raises(ConfigError, match="whole set"):
        recipe.fit(tiny_model(), train, val.repeat(), epochs=1, run_dir=tmp_path)


@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_good_checkpoint(tmp_path):
    images, masks = arrays()
    bad = images.copy()
    bad[:4] = np.nan
    # Epoch 1 sees clean data, epoch 2 starts with a NaN batch.
    x = np.concatenate([images, bad])
    y = np.concatenate([masks, masks])
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    val = tf.data.Dataset.from_tensor_slices(arrays(8, seed=1)).batch(4)
    with pytest.raises(cb.TrainingDiverged) as info:
        recipe.fit(tiny_model(), train, val, epochs=3, run_dir=tmp_path, steps_per_epoch=4,
                   verbose=0, tensorboard=False)
    text = str(info.value)
    assert "epoch 2, batch 1" in text and "nan" in text.lower()
    assert "learning rate" in text and "How to fix" in text
    # The backup and best.keras hold epoch 1; nothing was saved from the broken weights.
    assert cb.resume_point(tmp_path) == 1
    assert json.loads((tmp_path / cb.BEST_INFO).read_text())["epoch"] == 1
    best = recipe.load_model(tmp_path / cb.BEST)
    assert all(np.isfinite(w).all() for w in best.get_weights())
    assert not (tmp_path / cb.LAST).exists()


def test_oom_inside_fit_names_a_smaller_batch(tmp_path):
    class Explode(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")

    train, val = datasets()
    with pytest.raises(hw.OutOfMemory, match="--batch-size 2"):
        recipe.fit(tiny_model(), train, val, epochs=1, run_dir=tmp_path, batch_size=4,
                   image_size=(16, 16), verbose=0, tensorboard=False,
                   extra_callbacks=[Explode()])


# --- callbacks ------------------------------------------------------------------------------------

def test_cosine_schedule_matches_the_formula():
    sched = cb.CosineSchedule(0.1, epochs=10, warmup=2, floor=0.0)
    assert [sched.rate(e) for e in (0, 1)] == pytest.approx([0.1 / 3, 0.2 / 3])
    for e in range(2, 12):
        t = min(1.0, (e - 2) / 8)
        assert sched.rate(e) == pytest.approx(0.05 * (1 + math.cos(math.pi * t)))
    assert cb.CosineSchedule(1.0, 4, floor=0.1).rate(4) == pytest.approx(0.1)


def test_history_drops_rows_of_epochs_to_be_repeated(tmp_path):
    path = tmp_path / cb.HISTORY
    path.write_text("epoch,session,seconds,loss\n1,0,1.0,0.9\n2,0,1.0,0.8\n3,0,1.0,0.7\n")
    hist = cb.HistoryCSV(path, initial_epoch=2)
    hist.on_train_begin()
    assert [r["epoch"] for r in hist.rows] == [1, 2] and hist.session == 1


def test_a_resumed_run_does_not_overwrite_a_better_checkpoint(tmp_path):
    model = tiny_model()
    cb.save_model(model, tmp_path / cb.BEST)
    cb.write_json(tmp_path / cb.BEST_INFO, {"epoch": 4, "monitor": "val_mean_iou",
                                            "value": 0.9})
    before = (tmp_path / cb.BEST).read_bytes()
    ckpt = cb.Checkpoints(tmp_path)
    ckpt.set_model(model)
    ckpt.on_train_begin()
    ckpt.on_epoch_end(4, {"val_mean_iou": 0.5})
    assert (tmp_path / cb.BEST).read_bytes() == before and ckpt.best_epoch == 4
    ckpt.on_epoch_end(5, {"val_mean_iou": 0.95})
    assert json.loads((tmp_path / cb.BEST_INFO).read_text())["epoch"] == 6
    with pytest.raises(Exception, match="val_mean_iou"):
        ckpt.on_epoch_end(6, {"loss": 1.0})


def test_plot_history_from_a_dict_and_marks_sessions():
    import matplotlib

    matplotlib.use("Agg")
    history = {"epoch": [1, 2, 3], "session": [0, 0, 1], "loss": [1.0, 0.8, 0.7],
               "val_loss": [1.1, 0.9, 0.8], "mean_iou": [0.2, 0.4, 0.5],
               "val_mean_iou": [0.1, 0.3, 0.25]}
    fig = recipe.plot_history(history, title="t")
    assert len(fig.axes) == 2
    assert any("0.300" in t.get_text() for t in fig.axes[1].get_legend().get_texts())


# --- whole runs -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_folder(builtin_dataset):
    return builtin_dataset(40, (32, 32), seed=3)


def quick_run(folder, run_dir, model="unet_mini", epochs=2):
    from segutils import config

    p = config.profile("quick").replace(image_size=(32, 32), batch_size=8, steps_per_epoch=None,
                                        base_filters=4)
    config.seed_everything(7)
    data = runs.load_data(folder, p, seed=7)
    return runs.train_model(model, data, profile=p, epochs=epochs, run_dir=run_dir, verbose=0,
                      tensorboard=False)


@pytest.mark.slow
def test_two_runs_with_the_same_seed_give_identical_metrics(tiny_folder, tmp_path):
    a = quick_run(tiny_folder, tmp_path / "a")
    b = quick_run(tiny_folder, tmp_path / "b")
    for key in ("loss", "mean_iou", "val_loss", "val_mean_iou"):
        assert a.history[key] == b.history[key], key


def test_load_data_without_classes_infers_their_number(tmp_path, tiny_folder):
    import shutil

    import numpy as np

    from segutils import config
    from segutils.data.io import read_mask

    p = config.profile("quick")
    with pytest.raises(DatasetError, match="neither a folder nor a known dataset"):
        runs.load_data(tmp_path / "nowhere", p)
    copy = shutil.copytree(tiny_folder, tmp_path / "copy")
    (copy / "classes.json").unlink()
    ids = np.unique(np.concatenate([read_mask(m).ravel()
                                    for m in sorted((copy / "train" / "masks").iterdir())]))
    largest = int(ids[ids != 255].max())
    assert runs.load_data(copy, p).n_classes == largest + 1  # what the masks show
    assert runs.load_data(copy, p, n_classes=9).n_classes == 9  # a given number wins


@pytest.mark.slow
@pytest.mark.backend_independent
def test_staged_fcn_trains_three_stages_in_one_call(tiny_folder, tmp_path):
    from segutils import config

    p = config.profile("quick").replace(image_size=(32, 32), batch_size=8, steps_per_epoch=2)
    data = runs.load_data(tiny_folder, p)
    reports = runs.train_fcn_staged(data, profile=p, epochs=1, runs_root=tmp_path, verbose=0,
                                    tensorboard=False)
    assert list(reports) == ["fcn32", "fcn16", "fcn8"]
    for stage, report in reports.items():
        assert report.model.startswith(stage[:5]) and report.epochs_done == 1
        assert (tmp_path / stage / cb.BEST).is_file()
    fcn8 = recipe.load_model(tmp_path / "fcn8" / cb.BEST)
    assert fcn8.output_shape[-1] == 7


def test_transfer_starts_the_finer_net_where_the_coarser_ended():
    from segutils.models import registry

    keras.utils.set_random_seed(0)
    fcn32 = registry.build("fcn32", 4, profile="quick")
    fcn16 = registry.build("fcn16", 4, profile="quick")
    copied = runs._transfer(fcn32, fcn16)
    assert "score_fr" in copied
    x = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    # FCN-16s' new score_pool4 starts at zero: same logits as FCN-32s, up to the upsampling
    # route (x2 then x16 instead of x32 bilinear), which differs only near the borders.
    a, b = np.asarray(fcn32(x)), np.asarray(fcn16(x))
    inner = (slice(None), slice(16, -16), slice(16, -16))
    assert np.allclose(a[inner], b[inner], atol=1e-4 * max(1.0, np.abs(a).max()))


def test_cli_refuses_to_overwrite_a_run_by_accident(tmp_path, capsys):
    from segutils import cli

    run = tmp_path / "run"
    run.mkdir()
    (run / cb.HISTORY).write_text("epoch,session\n1,0\n")
    status = cli.main(["train", "--data", str(tmp_path), "--model", "unet_mini",
                       "--profile", "quick", "--out", str(run)])
    err = capsys.readouterr().err
    assert status == 2 and "already holds a training run" in err and "--resume" in err
