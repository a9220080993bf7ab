"""Tests of the U-Net family: any input size, parameter counts, saving, learning."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segutils.config import import_quietly
from segutils.errors import ConfigError

keras = import_quietly()

from segutils.models.baseline import per_pixel_classifier  # noqa: E402
from segutils.models.unet import padded_size, unet, unet_mini, vgg_unet  # noqa: E402

RGB_MEAN_01 = np.array([123.68, 116.779, 103.939], np.float32) / 255  # ImageNet mean, RGB


# --- independent parameter counts, from the architecture as the papers describe it ----------------


def conv3x3(c_in, c_out, bn):
    # Batch norm replaces the bias and has 4 vectors (gamma, beta, moving mean and variance).
    return 9 * c_in * c_out + (4 * c_out if bn else c_out)


def block(c_in, c_out, bn):
    return conv3x3(c_in, c_out, bn) + conv3x3(c_out, c_out, bn)


def classic_unet_params(n_classes, depth, f, bn, upsampling, in_channels=3):
    total, c = 0, in_channels
    for i in range(depth):
        total += block(c, f * 2**i, bn)
        c = f * 2**i
    total += block(c, f * 2**depth, bn)
    c = f * 2**depth
    for i in range(depth - 1, -1, -1):
        w = f * 2**i
        # 2x2 transposed conv (4 taps) or a 1x1 conv after the bilinear resize; both with bias.
        total += (4 if upsampling == "transpose" else 1) * c * w + w
        total += block(2 * w, w, bn)  # the upsampled w channels + the skip's w channels
        c = w
    return total + c * n_classes + n_classes


def mini_unet_params(n_classes, f, bn):
    enc = block(3, f, bn) + block(f, 2 * f, bn) + block(2 * f, 4 * f, bn)
    # Nearest-neighbour upsampling has no weights; the concat widens the blocks' inputs.
    dec = block(4 * f + 2 * f, 2 * f, bn) + block(2 * f + f, f, bn)
    return enc + dec + f * n_classes + n_classes


def vgg_unet_params(n_classes, width, bn):
    layout = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    total, c, skips = 0, 3, []
    for channels, n in layout:
        w = max(1, round(channels * width))
        for _ in range(n):
            total += 9 * c * w + w  # VGG convolutions have biases and no batch norm
            c = w
        skips.append(w)
    for w in reversed(skips[:4]):  # decoder stages as wide as the skip they join
        total += 4 * c * w + w + block(2 * w, w, bn)
        c = w
    return total + c * n_classes + n_classes


@pytest.mark.parametrize(
    "depth, f, bn, upsampling",
    [(4, 16, False, "transpose"), (3, 8, True, "bilinear"), (1, 5, False, "bilinear"),
     (2, 16, True, "transpose")],
)
@pytest.mark.backend_independent
def test_unet_parameter_count(depth, f, bn, upsampling):
    model = unet(3, depth=depth, base_filters=f, batch_norm=bn, upsampling=upsampling)
    assert model.count_params() == classic_unet_params(3, depth, f, bn, upsampling)


@pytest.mark.backend_independent
def test_paper_unet_has_31_million_parameters():
    # Ronneberger et al.'s network (no batch norm, 2 classes) is known as "the 31M U-Net".
    n = unet(2, batch_norm=False).count_params()
    assert n == classic_unet_params(2, 4, 64, False, "transpose")
    assert 31.0e6 < n < 31.1e6


@pytest.mark.parametrize("f, bn", [(16, True), (16, False), (4, True)])
@pytest.mark.backend_independent
def test_unet_mini_parameter_count(f, bn):
    assert unet_mini(7, base_filters=f, batch_norm=bn).count_params() == mini_unet_params(7, f, bn)


@pytest.mark.parametrize("width, bn", [(1.0, True), (0.25, False), (0.125, True)])
@pytest.mark.backend_independent
def test_vgg_unet_parameter_count(width, bn):
    model = vgg_unet(21, encoder_width=width, batch_norm=bn)
    assert model.count_params() == vgg_unet_params(21, width, bn)


# --- any input size -------------------------------------------------------------------------------

SMALL = {
    "unet depth 4": lambda: unet(4, base_filters=4),
    "unet depth 3 bilinear": lambda: unet(4, depth=3, base_filters=4, upsampling="bilinear"),
    "unet depth 1": lambda: unet(4, depth=1, base_filters=4, batch_norm=False),
    "unet_mini": lambda: unet_mini(4, base_filters=4),
    "vgg_unet": lambda: vgg_unet(4, encoder_width=0.125),
}


@pytest.fixture(scope="module")
def small_models():
    keras.utils.set_random_seed(0)
    return {name: build() for name, build in SMALL.items()}


@pytest.mark.parametrize("name", list(SMALL))
@pytest.mark.parametrize("size", [(97, 131), (1, 1), (17, 64), (33, 15)])
def test_output_shape_equals_input_shape(small_models, name, size):
    x = np.random.default_rng(0).random((2, *size, 3), dtype=np.float32)
    assert tuple(small_models[name](x).shape) == (2, *size, 4)


@pytest.mark.parametrize("name, size, fill", [("unet depth 4", (112, 144), 0.0),
                                              ("unet_mini", (100, 132), 0.0),
                                              ("vgg_unet", (112, 144), RGB_MEAN_01)])
def test_padding_inside_equals_padding_outside(small_models, name, size, fill):
    """The model on a 97x131 image = the top-left crop of the model on that image padded by hand.

    Padding the image ourselves to the next multiple of 2**depth (16 here; 4 for the mini U-Net)
    with what the model pads with (zeros; the ImageNet mean colour for VGG) leaves the model
    nothing to pad, so both runs see the same numbers: the crop must be aligned, with no shift.
    (Padding further would change the result near the bottom and right borders: after the first
    convolution the padded area is no longer zero, unlike the convolutions' own 'same' padding.)
    """
    x = np.random.default_rng(1).random((1, 97, 131, 3), dtype=np.float32)
    padded = np.empty((1, *size, 3), np.float32)
    padded[:] = fill
    padded[:, :97, :131] = x
    model = small_models[name]
    inside = keras.ops.convert_to_numpy(model(x))
    outside = keras.ops.convert_to_numpy(model(padded))[:, :97, :131]
    np.testing.assert_allclose(inside, outside, atol=1e-4)


@given(size=st.integers(1, 2000), depth=st.integers(1, 6))
def test_padded_size_is_the_next_multiple(size, depth):
    m = 2**depth
    p = padded_size(size, depth)
    assert p % m == 0 and size <= p < size + m


def test_fixed_input_shape_gives_static_shapes():
    model = unet(3, input_shape=(97, 131, 3), depth=3, base_filters=4)
    assert model.output_shape == (None, 97, 131, 3)
    assert model.get_layer("pad").output.shape[1:3] == (104, 136)  # multiples of 2**3
    assert (padded_size(97, 3), padded_size(131, 3)) == (104, 136)
    assert model.get_layer("bottleneckb_conv").output.shape[1:3] == (13, 17)


# --- structure and names --------------------------------------------------------------------------


@pytest.mark.parametrize("upsampling, up_type", [("transpose", keras.layers.Conv2DTranspose),
                                                 ("bilinear", keras.layers.Conv2D)])
def test_unet_structure(upsampling, up_type):
    model = unet(2, depth=3, base_filters=4, upsampling=upsampling)
    widths = {name: model.get_layer(f"{name}b_conv").filters for name in
              ("encoder_stage1", "encoder_stage2", "encoder_stage3", "bottleneck",
               "decoder_stage1", "decoder_stage2", "decoder_stage3")}
    assert widths == {"encoder_stage1": 4, "encoder_stage2": 8, "encoder_stage3": 16,
                      "bottleneck": 32, "decoder_stage1": 16, "decoder_stage2": 8,
                      "decoder_stage3": 4}
    assert type(model.get_layer("decoder_stage1_up")) is up_type
    assert model.layers[-1].name == "logits"
    assert model.get_layer("logits_padded").activation.__name__ == "linear"  # logits, no softmax


def test_vgg_unet_keeps_vgg_names_and_joins_blocks_1_to_4():
    model = vgg_unet(3, encoder_width=0.25)
    assert model.get_layer("block5_conv3").filters == 128
    concat_inputs = [
        [t.name for t in model.get_layer(f"decoder_stage{i}_concat").input] for i in (1, 2, 3, 4)
    ]
    skips = [model.get_layer(f"block{k}_conv{n}").output.name
             for k, n in ((4, 3), (3, 3), (2, 2), (1, 2))]
    assert [names[1] for names in concat_inputs] == skips
    with pytest.raises(ValueError):  # pool5 is not part of the U-Net
        model.get_layer("block5_pool")


def test_logits_stay_float32_under_mixed_precision():
    policy = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        for model, first_conv in ((unet(3, depth=2, base_filters=4), "encoder_stage1a_conv"),
                                  (unet_mini(3, base_filters=4), "encoder_stage1a_conv"),
                                  (vgg_unet(3, encoder_width=0.125), "block1_conv1")):
            assert model.get_layer(first_conv).compute_dtype == "float16"
            assert model.get_layer("logits").compute_dtype == "float32"
            assert model.output.dtype == "float32"
    finally:
        keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize(
    "build, message",
    [(lambda: unet(3, upsampling="nearest"), "upsampling"),
     (lambda: unet(3, depth=0), "depth"),
     (lambda: unet(0), "n_classes"),
     (lambda: unet_mini(3, dropout=1.0), "dropout"),
     (lambda: vgg_unet(3, encoder_width=0.125, decoder_filters=(8, 4, 2)), "four"),
     (lambda: vgg_unet(3, weights="imagenet", encoder_width=0.5), "width")],
)
def test_bad_options_raise_config_errors(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_imagenet_weights_offline_give_a_clear_error(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(ConfigError, match="vgg16_weights"):
        vgg_unet(3, weights="imagenet")


# --- saving and learning --------------------------------------------------------------------------


@pytest.mark.parametrize("build", [lambda: per_pixel_classifier(3),
                                   lambda: unet_mini(3, base_filters=4, batch_norm=True),
                                   lambda: unet(3, depth=2, base_filters=4),
                                   lambda: unet(3, depth=2, base_filters=4, upsampling="bilinear",
                                                dropout=0.2),
                                   lambda: vgg_unet(3, encoder_width=0.125)])
def test_save_and_reload_gives_identical_predictions(tmp_path, build):
    keras.utils.set_random_seed(1)
    model = build()
    x = np.random.default_rng(2).random((2, 21, 30, 3), dtype=np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects: the layers are registered
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))


@pytest.mark.slow
def test_a_few_training_steps_lower_the_loss():
    # (tests/test_registry.py trains the profile-sized unet, with transposed convolutions, until
    # its loss falls; here the bilinear decoder.)
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((4, 16, 16, 3), dtype=np.float32)
    y = (x[..., 0] > 0.5).astype(np.uint8)  # learnable from the red channel
    y[:, :2] = 255  # ignored pixels must not break training
    model = unet(2, depth=2, base_filters=4, upsampling="bilinear")
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255))
    first = float(model.train_on_batch(x, y))
    for _ in range(15):
        last = float(model.train_on_batch(x, y))
    assert last < 0.9 * first
