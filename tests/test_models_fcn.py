"""Tests of VGG16 as an encoder and of FCN-32s/16s/8s: sizes, parameter count, net surgery,
staged weight transfer, saving, training. Nothing here downloads: ImageNet weights are replaced
by a randomly initialised ``keras.applications.VGG16`` or a monkeypatched failure."""

from __future__ import annotations

import numpy as np
import pytest

from segutils.config import import_quietly

keras = import_quietly()

from segutils.data import synthetic  # noqa: E402
from segutils.errors import ConfigError  # noqa: E402
from segutils.models import fcn as fcn_module  # noqa: E402
from segutils.models.fcn import (  # noqa: E402
    fcn8,
    fcn16,
    fcn32,
    fcn_variant,
    parameter_count,
    transfer_weights,
)
from segutils.models.vgg import (  # noqa: E402
    WEIGHTS_FILE,
    WEIGHTS_FILE_NO_TOP,
    VGGPreprocess,
    dense_to_conv,
    vgg16_encoder,
)
from segutils.upsampling import bilinear_kernel  # noqa: E402

SMALL = {"encoder_width": 0.125, "fc_width": 16}
BUILDERS = {32: fcn32, 16: fcn16, 8: fcn8}
# VGG16's convolutions as (in, out) channel pairs, written out from the paper's table (config D).
VGG16_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]


def np_(x):
    return keras.ops.convert_to_numpy(x)


def randomize(model, names, seed=0):
    """Give zero-initialised layers random weights, as training would."""
    rng = np.random.default_rng(seed)
    for name in names:
        layer = model.get_layer(name)
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                           for w in layer.get_weights()])


def submodel(model, name):
    return keras.Model(model.input, model.get_layer(name).output)


def resize(x, size):
    return np_(keras.ops.image.resize(x, size, interpolation="bilinear"))


# --- any input size ------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [32, 16, 8])
@pytest.mark.parametrize("size", [(97, 131), (375, 500), (1, 1), (64, 64)])
def test_output_has_the_input_size(stride, size):
    keras.utils.set_random_seed(0)
    model = BUILDERS[stride](5, **SMALL)
    x = np.random.default_rng(1).random((1, *size, 3), dtype=np.float32)
    assert tuple(model(x).shape) == (1, *size, 5)


@pytest.mark.parametrize("stride", [32, 8])
def test_fixed_input_shape_gives_static_shapes(stride):
    model = BUILDERS[stride](3, input_shape=(97, 131, 3), **SMALL)
    assert model.output_shape == (None, 97, 131, 3)
    assert model.get_layer("pad").output.shape[1:3] == (128, 160)  # next multiples of 32
    assert model.get_layer("score_fr").output.shape[1:3] == (4, 5)


def test_layer_names_and_trainability():
    model = fcn8(4, **SMALL)
    names = [layer.name for layer in model.layers]
    for name in ("fc6", "fc7", "score_fr", "upscore2", "score_pool4", "fuse_pool4",
                 "upscore_pool4", "score_pool3", "fuse_pool3", "upscore8", "logits"):
        assert name in names
    assert model.get_layer("logits").dtype_policy.compute_dtype == "float32"
    # FCN: the final upsampling is fixed bilinear; the x2 fusion upsamplings learn.
    assert not model.get_layer("upscore8").trainable
    assert model.get_layer("upscore2").trainable and model.get_layer("upscore_pool4").trainable
    kernel = np_(model.get_layer("upscore2").kernel)
    np.testing.assert_allclose(kernel[:, :, 2, 2], bilinear_kernel(4), atol=1e-7)
    assert not kernel[:, :, 1, 2].any()
    for name in ("score_fr", "score_pool4", "score_pool3"):
        assert not any(w.any() for w in model.get_layer(name).get_weights()), name
    assert {layer.name for layer in fcn32(4, **SMALL).layers} < set(names) | {"upscore32"}


def test_at_once_scales_the_skips():
    model = fcn8(4, at_once=True, **SMALL)
    assert model.get_layer("scale_pool4").scale == 0.01
    assert model.get_layer("scale_pool3").scale == 0.0001
    assert not any(layer.name.startswith("scale_") for layer in fcn8(4, **SMALL).layers)


def test_widths():
    model = fcn16(3, encoder_width=0.25, fc_width=32)
    assert model.get_layer("block1_conv1").filters == 16
    assert model.get_layer("block5_conv3").filters == 128
    assert model.get_layer("fc6").filters == model.get_layer("fc7").filters == 32


# --- VGG16 encoder ------------------------------------------------------------------------------

def test_encoder_matches_keras_vgg16_layers():
    reference = keras.applications.VGG16(include_top=False, weights=None)
    inputs = keras.Input((None, None, 3))
    features = vgg16_encoder(inputs, preprocess=False)
    ours = keras.Model(inputs, features["pool5"])
    for layer in reference.layers[1:]:
        mine = ours.get_layer(layer.name)  # same names, so ImageNet weights load by name
        assert [w.shape for w in mine.get_weights()] == [w.shape for w in layer.get_weights()]
    x = np.zeros((1, 64, 96, 3), np.float32)
    shapes = {k: tuple(v.shape) for k, v in keras.Model(inputs, features)(x).items()}
    assert shapes["block1"] == (1, 64, 96, 64) and shapes["pool3"] == (1, 8, 12, 256)
    assert shapes["block5"] == (1, 4, 6, 512) and shapes["pool5"] == (1, 2, 3, 512)


def test_preprocess_equals_keras_preprocess_input():
    x = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    expected = keras.applications.vgg16.preprocess_input(255 * x)
    np.testing.assert_allclose(np_(VGGPreprocess()(x)), expected, atol=1e-4)
    # Independent of Keras: BGR order, ImageNet means.
    np.testing.assert_allclose(np_(VGGPreprocess()(x))[..., 0], 255 * x[..., 2] - 103.939,
                               atol=1e-4)


def test_dense_to_conv_reproduces_flatten_dense():
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)  # (B, 3, 4) map, 5 channels
    dense = rng.normal(size=(3 * 4 * 5, 6)).astype(np.float32)
    expected = fmap.reshape(2, -1) @ dense  # Flatten (row-major, channels last) then Dense
    kernel = dense_to_conv(dense, (3, 4))
    assert kernel.shape == (3, 4, 5, 6)
    conv = np.einsum("bijc,ijco->bo", fmap, kernel)  # a 'valid' conv on a map of kernel size
    np.testing.assert_allclose(conv, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="multiple"):
        dense_to_conv(np.zeros((10, 2)), (3, 3))


# --- the full-size model (VGG16 with random weights stands in for ImageNet) --------------------

@pytest.fixture(scope="module")
def full_pair():
    keras.utils.set_random_seed(7)
    vgg = keras.applications.VGG16(include_top=True, weights=None)
    return vgg, fcn8(21, weights=vgg)


def independent_fcn8_count(n_classes):
    convs = sum(3 * 3 * cin * cout + cout for cin, cout in VGG16_CONVS)
    fc6 = 7 * 7 * 512 * 4096 + 4096
    fc7 = 4096 * 4096 + 4096
    scores = sum(cin * n_classes + n_classes for cin in (4096, 512, 256))  # fr, pool4, pool3
    ups = 2 * (4 * 4 * n_classes * n_classes) + 16 * 16 * n_classes * n_classes  # no biases
    return convs + fc6 + fc7 + scores + ups


@pytest.mark.slow
@pytest.mark.backend_independent
def test_full_fcn8_parameter_count(full_pair):
    _, model = full_pair
    assert independent_fcn8_count(21) == 134_489_759
    assert model.count_params() == independent_fcn8_count(21)
    fixed = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert fixed == 16 * 16 * 21 * 21  # only upscore8


@pytest.mark.parametrize("stride", [32, 16, 8])
@pytest.mark.parametrize("n_classes, widths", [(21, {"encoder_width": 0.125, "fc_width": 16}),
                                               (1, {"encoder_width": 0.3, "fc_width": 5})])
@pytest.mark.backend_independent
def test_parameter_count_matches_built_models(stride, n_classes, widths):
    model = BUILDERS[stride](n_classes, **widths)
    assert parameter_count(stride, n_classes, **widths) == model.count_params()


@pytest.mark.backend_independent
def test_parameter_count_of_the_papers_model_without_building_it():
    assert parameter_count(8, 21) == independent_fcn8_count(21)


@pytest.mark.slow
def test_net_surgery_reproduces_the_dense_classifier(full_pair):
    vgg, model = full_pair
    for layer in vgg.layers:
        if layer.name.startswith("block") and layer.get_weights():
            for a, b in zip(layer.get_weights(), model.get_layer(layer.name).get_weights(),
                            strict=True):
                np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    dense = np_(keras.Model(vgg.input, vgg.get_layer("fc2").output)(
        keras.applications.vgg16.preprocess_input(255 * x)))
    conv = np_(submodel(model, "fc7")(x))
    assert conv.shape == (1, 7, 7, 4096)
    # At the centre of the 7x7 map the 7x7 'same' fc6 sees exactly pool5, like fc1 does.
    centre = conv[0, 3, 3]
    assert np.abs(dense[0]).max() > 0  # a meaningful comparison, not 0 == 0
    np.testing.assert_allclose(centre, dense[0], rtol=1e-4, atol=1e-4 * np.abs(dense).max())


def test_imagenet_offline_gives_a_clear_error(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(ConfigError) as info:
        fcn8(21, weights="imagenet")
    message = str(info.value)
    assert WEIGHTS_FILE in message and ".keras/models" in message and "Colab" in message


def test_encoder_alone_asks_for_the_smaller_file(monkeypatch):
    calls = []

    def offline(**kwargs):
        calls.append(kwargs)
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(ConfigError, match=WEIGHTS_FILE_NO_TOP):
        vgg16_encoder(keras.Input((None, None, 3)), weights="imagenet")
    assert calls == [{"include_top": False, "weights": "imagenet"}]


def test_imagenet_needs_the_papers_widths(monkeypatch):
    def never(**kwargs):
        raise AssertionError("must fail before downloading")

    monkeypatch.setattr(keras.applications, "VGG16", never)
    for options in ({"encoder_width": 0.5}, {"fc_width": 512}):
        with pytest.raises(ConfigError, match="4096"):
            fcn32(21, weights="imagenet", **options)
    with pytest.raises(ConfigError, match="width=1.0"):
        vgg16_encoder(keras.Input((None, None, 3)), width=0.5, weights="imagenet")


@pytest.mark.parametrize("bad", [{"n_classes": 0}, {"weights": "coco"}, {"fc_width": 0},
                                 {"encoder_width": -1.0}, {"dropout": 1.0}])
def test_bad_options_raise_config_error(bad):
    options = {"n_classes": 3, **SMALL, **bad}
    with pytest.raises(ConfigError):
        fcn8(options.pop("n_classes"), **options)


def test_fcn_variant():
    assert fcn_variant(8) is fcn8 and fcn_variant(32) is fcn32
    with pytest.raises(ConfigError):
        fcn_variant(4)


# --- staged training: FCN-32s -> 16s -> 8s ------------------------------------------------------

def bilinear_matrix(n, m):
    """(m, n) matrix of half-pixel bilinear resizing from n to m samples, edges clamped."""
    matrix = np.zeros((m, n))
    for o in range(m):
        c = min(max((o + 0.5) * n / m - 0.5, 0.0), n - 1.0)
        i = int(np.floor(c))
        matrix[o, i] += 1 - (c - i)
        matrix[o, min(i + 1, n - 1)] += c - i
    return matrix


VGG_CONV_NAMES = [f"block{b}_conv{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1)
                  for i in range(1, n + 1)]


@pytest.fixture(scope="module")
def trained32():
    keras.utils.set_random_seed(11)
    model = fcn32(4, **SMALL)
    randomize(model, ["score_fr"])  # zero at the start; pretend training moved it
    return model


def test_transfer_32_to_16_copies_shared_layers_and_keeps_new_ones_at_zero(trained32):
    keras.utils.set_random_seed(12)
    model16 = fcn16(4, **SMALL)
    copied = transfer_weights(trained32, model16)
    assert copied == VGG_CONV_NAMES + ["fc6", "fc7", "score_fr"]
    for name in copied:
        for a, b in zip(trained32.get_layer(name).get_weights(),
                        model16.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not any(w.any() for w in model16.get_layer("score_pool4").get_weights())


def test_fcn16_from_fcn32_predicts_fcn32_up_to_the_interpolation(trained32):
    """FCN-16s started from FCN-32s upsamples the same scores x2 then x16 instead of x32.

    With ``score_pool4`` at zero, the only difference is the interpolation path. Away from the
    borders (where zero padding of the transposed convolutions matters: 24 pixels here) the
    FCN-16s output is exactly bilinear x2 then x16 of FCN-32s's ``score_fr`` (float32 rounding,
    1e-5 of the score range), and FCN-32s's is bilinear x32 of it. Both paths reproduce affine
    score maps exactly, so they differ only where the scores curve: summation by parts bounds
    the difference by ``k * (max |second difference along rows| + ... along columns)``, where
    ``k`` follows from the two 1-D interpolation matrices (15/128 for 8 -> 256).
    """
    model16 = fcn16(4, **SMALL)
    transfer_weights(trained32, model16)
    x = np.random.default_rng(5).random((2, 256, 256, 3), dtype=np.float32)
    scores = np_(submodel(trained32, "score_fr")(x))  # (2, 8, 8, 4)
    y32, y16 = np_(trained32(x)), np_(model16(x))
    inner = slice(24, 232)
    scale = np.abs(scores).max()
    assert scale > 0
    two_stage = resize(resize(scores, (16, 16)), (256, 256))
    np.testing.assert_allclose(y16[:, inner, inner], two_stage[:, inner, inner],
                               atol=1e-5 * scale)
    one_stage = resize(scores, (256, 256))
    np.testing.assert_allclose(y32[:, inner, inner], one_stage[:, inner, inner],
                               atol=1e-5 * scale)

    a = bilinear_matrix(8, 256)
    d = (bilinear_matrix(16, 256) @ bilinear_matrix(8, 16) - a)[inner]
    np.testing.assert_allclose(d @ np.stack([np.ones(8), np.arange(8)], 1), 0, atol=1e-12)
    k = np.abs(np.cumsum(np.cumsum(d, axis=1), axis=1)).sum(axis=1).max()
    assert k == pytest.approx(15 / 128)
    curvature = (np.abs(np.diff(scores, 2, axis=1)).max()
                 + np.abs(np.diff(scores, 2, axis=2)).max())
    gap = np.abs(y16 - y32)[:, inner, inner].max()
    assert 0 < gap <= k * curvature + 1e-5 * scale


def test_transfer_16_to_8_and_fcn8_starts_where_fcn16_ended(trained32):
    model16 = fcn16(4, **SMALL)
    transfer_weights(trained32, model16)
    randomize(model16, ["score_pool4", "upscore2"], seed=1)
    model8 = fcn8(4, **SMALL)
    copied = transfer_weights(model16, model8)
    assert copied == VGG_CONV_NAMES + ["fc6", "fc7", "score_fr", "upscore2", "score_pool4"]
    assert not any(w.any() for w in model8.get_layer("score_pool3").get_weights())
    x = np.random.default_rng(6).random((1, 128, 160, 3), dtype=np.float32)
    fused = np_(submodel(model16, "fuse_pool4")(x))  # (1, 8, 10, 4)
    expected = resize(resize(fused, (16, 20)), (128, 160))
    # x2 then x8: the x2 map's outer pixels (zero padding) reach 12 output pixels in.
    rows, cols = slice(12, 116), slice(12, 148)
    np.testing.assert_allclose(np_(model8(x))[:, rows, cols], expected[:, rows, cols],
                               atol=1e-5 * np.abs(fused).max())


def test_transfer_skips_layers_of_other_shapes():
    copied = transfer_weights(fcn32(4, **SMALL), fcn16(5, **SMALL))
    assert "score_fr" not in copied and "fc7" in copied


# --- saving, mixed precision, training ------------------------------------------------------------

@pytest.mark.parametrize("at_once", [False, True])
def test_save_and_reload_gives_identical_predictions(tmp_path, at_once):
    keras.utils.set_random_seed(2)
    model = fcn8(3, at_once=at_once, **SMALL)
    randomize(model, ["score_fr", "score_pool4", "score_pool3"])
    x = np.random.default_rng(3).random((2, 45, 70, 3), dtype=np.float32)
    path = tmp_path / "fcn8.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # registered layers: no custom_objects
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    assert not reloaded.get_layer("upscore8").trainable


def test_mixed_precision_keeps_float32_logits():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = fcn8(3, **SMALL)
        assert model.get_layer("fc6").compute_dtype == "float16"
        out = model(np.zeros((1, 40, 40, 3), np.float32))
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.slow
def test_a_few_training_steps_on_the_builtin_dataset_lower_the_loss():
    pairs = [synthetic.render_scene((0, i), size=(64, 64)) for i in range(4)]
    x = np.stack([p[0] for p in pairs]).astype(np.float32) / 255
    y = np.stack([p[1] for p in pairs])
    keras.utils.set_random_seed(4)
    model = fcn8(len(synthetic.CLASSES.names), encoder_width=0.125, fc_width=32, dropout=0.0)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255))
    first = float(model.train_on_batch(x, y))
    for _ in range(12):
        last = float(model.train_on_batch(x, y))
    assert last < 0.8 * first


def test_module_exports():
    assert set(fcn_module.__all__) >= {"fcn8", "fcn16", "fcn32", "transfer_weights"}
