"""Tests of the model registry: every name builds, sized by the profile, any size, saves, learns."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from segutils.config import PROFILES, import_quietly
from segutils.errors import ConfigError

keras = import_quietly()

from segutils.models import registry  # noqa: E402

COURSE = ("per_pixel", "unet_mini", "unet", "vgg_unet", "fcn32", "fcn16", "fcn8")
PRETRAINED = ("resnet50_unet", "mobilenet_unet", "resnet50_fcn8", "mobilenet_fcn8",
              "resnet50_pspnet", "mobilenet_pspnet", "resnet50_deeplabv3plus",
              "mobilenet_deeplabv3plus")
ALL = (*COURSE, "segnet_mini", "segnet", *PRETRAINED)
# On JAX, building a keras.applications encoder traces every one of its layers for shape
# inference (about ten seconds each here), so the JAX run checks the course's own models in
# this file; tests/test_backends.py predicts with mobilenet_fcn8 and reloads mobilenet_pspnet
# on JAX.
NAMES = ALL if keras.config.backend() == "tensorflow" else (*COURSE, "segnet_mini", "segnet")
# Models whose layers a model trained below already contains: they are built, shaped and
# counted like every model, but a training step (seconds each, in every CI environment) would
# test the same code twice. FCN-32s and FCN-16s are FCN-8s without one or two of its skips;
# SegNet is segnet_mini's pooling indices on the VGG encoder that vgg_unet and fcn8 train; the
# ResNet-50 heads are those of the MobileNetV2 versions (resnet50_unet trains and reloads).
SUBSUMED = ("fcn32", "fcn16", "segnet", "resnet50_fcn8", "resnet50_pspnet",
            "resnet50_deeplabv3plus")
TRAINED = [n for n in NAMES if n not in SUBSUMED]


def test_available_lists_every_model_in_course_order():
    assert registry.available() == ALL
    assert registry.COURSE_MODELS == COURSE


@pytest.fixture(scope="module")
def quick_models():
    keras.utils.set_random_seed(0)
    return {name: registry.build(name, 5, profile="quick") for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(97, 131), (33, 7)])
def test_every_model_returns_logits_of_the_input_size(quick_models, name, size):
    x = np.random.default_rng(0).random((1, *size, 3), dtype=np.float32)
    assert tuple(quick_models[name](x).shape) == (1, *size, 5)


@pytest.mark.parametrize("name", NAMES)
def test_output_layer_is_float32_logits_under_mixed_precision(name):
    policy = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        model = registry.build(name, 3, profile="quick")
    finally:
        keras.config.set_dtype_policy(policy)
    assert model.layers[-1].name == "logits"
    assert model.output.dtype == "float32"


#: The registry's profile-sized models that must also show a falling loss (the others learn in
#: their own files: test_models_small.py for per_pixel and unet_mini, test_models_fcn.py for the
#: FCNs).
LEARNERS = ("unet", "vgg_unet")


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINED)
def test_every_model_trains_a_step_at_an_odd_size(quick_models, name):
    rng = np.random.default_rng(1)
    # A dark and a bright noisy image, labelled 0 and 1 all over: learnable pixel by pixel and at
    # stride 32 alike, so the learners' loss must fall within a few steps.
    bright = np.array([0, 1], np.float32)[:, None, None, None]
    x = (0.5 * rng.random((2, 37, 45, 3)) + 0.5 * bright).astype(np.float32)
    y = np.broadcast_to(bright[..., 0], (2, 37, 45)).astype(np.int32)
    y[:, :3] = 255  # ignored pixels
    model = quick_models[name]
    # Tracing a keras.applications encoder's training step takes longer than the step: one
    # step run eagerly shows the layers train (the traced path runs for the course's models).
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
                  run_eagerly=name in PRETRAINED)
    first = float(np.asarray(model.train_on_batch(x, y)))
    assert np.isfinite(first) and first > 0
    if name in LEARNERS:
        for _ in range(10):
            last = float(np.asarray(model.train_on_batch(x, y)))
        assert last < 0.9 * first, (first, last)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in PRETRAINED if n in TRAINED])
def test_pretrained_models_save_and_reload(quick_models, name, tmp_path):
    """In this process: the fresh-process test below covers the course's models, and
    tests/test_backends.py reloads mobilenet_pspnet (nested encoder, bins, resizes) in another
    process and on the other backend."""
    from segutils.train.recipe import load_model

    x = np.random.default_rng(4).random((1, 37, 45, 3), dtype=np.float32)
    quick_models[name].save(tmp_path / "model.keras")
    again = load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(again.predict(x, verbose=0),
                               quick_models[name].predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.backend_independent
def test_parameter_count_equals_the_sum_over_weight_shapes(quick_models, name):
    model = quick_models[name]
    by_shapes = sum(int(np.prod(w.shape)) for layer in model.layers for w in layer.weights)
    assert model.count_params() == by_shapes > 0


@pytest.mark.parametrize(
    "name, profile, expected",
    [
        ("per_pixel", "cpu", {}),
        ("unet_mini", "quick", {"base_filters": 8}),
        ("unet", "cpu", {"base_filters": 16}),
        ("unet", "gpu", {"base_filters": 32}),
        ("vgg_unet", "quick", {"encoder_width": 0.125}),
        ("vgg_unet", "cpu", {"encoder_width": 0.25}),
        ("vgg_unet", "gpu", {"weights": "imagenet"}),
        ("fcn8", "cpu", {"encoder_width": 0.25, "fc_width": 256}),
        ("fcn32", "quick", {"encoder_width": 0.125, "fc_width": 128}),
        ("fcn16", "gpu", {"weights": "imagenet"}),
        ("unet", None, {}),
        ("segnet_mini", "quick", {"filters": 16}),
        ("segnet_mini", "gpu", {"filters": 64}),
        ("segnet", "cpu", {"encoder_width": 0.25}),
        ("segnet", "gpu", {"encoder_weights": "imagenet"}),
        ("resnet50_unet", "cpu", {}),
        ("mobilenet_pspnet", "quick", {}),
        ("resnet50_deeplabv3plus", "gpu", {"encoder_weights": "imagenet"}),
    ],
)
@pytest.mark.backend_independent
def test_profile_options_follow_the_documented_table(name, profile, expected):
    assert registry.profile_options(name, profile) == expected
    if profile is not None:
        assert registry.profile_options(name, PROFILES[profile]) == expected


@pytest.mark.backend_independent
def test_profile_sizes_the_model_and_options_win():
    cpu = registry.build("unet", 3, profile="cpu")
    assert cpu.get_layer("encoder_stage1a_conv").filters == PROFILES["cpu"].base_filters
    small = registry.build("unet", 3, profile="cpu", base_filters=4, depth=2)
    assert small.get_layer("encoder_stage1a_conv").filters == 4
    assert small.get_layer("bottleneckb_conv").filters == 16
    vgg = registry.build("vgg_unet", 3, profile="cpu")
    assert vgg.get_layer("block1_conv1").filters == 16


@pytest.mark.backend_independent
def test_gpu_profile_without_download_builds_the_papers_widths():
    model = registry.build("vgg_unet", 3, profile="gpu", weights=None)
    assert model.get_layer("block5_conv3").filters == 512


def test_fixed_input_shape_is_passed_on():
    model = registry.build("fcn8", 4, profile="quick", input_shape=(45, 61, 3))
    assert model.output_shape == (None, 45, 61, 4)


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ConfigError, match="Available models: per_pixel, unet_mini, unet"):
        registry.build("unet++", 3)


def test_unknown_option_lists_the_models_options():
    with pytest.raises(ConfigError, match="no option 'depht'.*depth, base_filters"):
        registry.build("unet", 3, depht=3)


def test_a_missing_module_fails_at_build_time_not_at_import(monkeypatch):
    monkeypatch.setitem(registry.BUILDERS, "fcn8", "segutils.models.not_written_yet:fcn8")
    assert "fcn8" in registry.available()
    with pytest.raises(ConfigError, match="not_written_yet"):
        registry.build("fcn8", 3)


@pytest.mark.slow
@pytest.mark.backend_independent
def test_every_model_reloads_in_a_fresh_process_with_only_segutils_models(tmp_path,
                                                                          quick_models):
    x = np.random.default_rng(4).random((1, 37, 45, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = {}
    names = [n for n in NAMES if n not in PRETRAINED]  # those: the test above
    for name in names:
        quick_models[name].save(tmp_path / f"{name}.keras")
        expected[name] = quick_models[name].predict(x, verbose=0)
    code = (
        "import json, sys, numpy as np\n"
        "from segutils.config import import_quietly\n"
        "keras = import_quietly()\n"
        "import segutils.models\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "out = {}\n"
        f"for name in {names!r}:\n"
        f"    m = keras.models.load_model({str(tmp_path)!r} + '/' + name + '.keras')\n"
        "    out[name] = m.predict(x, verbose=0).tolist()\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for name in names:
        np.testing.assert_allclose(np.array(got[name]), expected[name], rtol=0, atol=1e-5,
                                   err_msg=name)
