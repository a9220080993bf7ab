"""Tests of the pretrained encoders and the models on them: ResNet-50 and MobileNetV2 encoders,
their U-Net and FCN-8s heads, PSPNet, DeepLabV3+ and SegNet.

Structure is checked against the papers (output strides, pooling bins, atrous rates, layer
widths) and parameter counts against ``keras.applications``' and the papers' figures; the new
layers against NumPy definitions written here. Every registered model's shapes, saving and a
training step are in tests/test_registry.py and tests/test_backends.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from segutils.config import import_quietly
from segutils.errors import ConfigError

keras = import_quietly()

from segutils.evaluate import anatomy  # noqa: E402
from segutils.models import encoders, pretrained, pyramid, registry, segnet  # noqa: E402
from segutils.models.flops import count_flops  # noqa: E402
from segutils.models.layers import (  # noqa: E402
    BinPooling,
    MaxPoolingWithIndices,
    MaxUnpooling,
)

RNG = np.random.default_rng(0)


# --- the new layers against NumPy ---------------------------------------------------------------


def numpy_pool_with_indices(x):
    """2x2 max pooling and the row-major position (0..3) of each maximum, first on ties."""
    b, h, w, c = x.shape
    pooled = np.zeros((b, h // 2, w // 2, c), x.dtype)
    where = np.zeros((b, h // 2, w // 2, c), np.int32)
    for n, i, j, k in itertools.product(range(b), range(h // 2), range(w // 2), range(c)):
        window = [x[n, 2 * i + di, 2 * j + dj, k] for di in (0, 1) for dj in (0, 1)]
        where[n, i, j, k] = int(np.argmax(window))
        pooled[n, i, j, k] = max(window)
    return pooled, where


def numpy_unpool(x, where):
    b, h, w, c = x.shape
    out = np.zeros((b, 2 * h, 2 * w, c), x.dtype)
    for n, i, j, k in itertools.product(range(b), range(h), range(w), range(c)):
        di, dj = divmod(int(where[n, i, j, k]), 2)
        out[n, 2 * i + di, 2 * j + dj, k] = x[n, i, j, k]
    return out


def test_pooling_with_indices_and_unpooling_match_their_definitions():
    x = RNG.integers(0, 4, (2, 6, 8, 3)).astype("float32")  # small integers: many ties
    pooled, where = MaxPoolingWithIndices()(x)
    ref_pooled, ref_where = numpy_pool_with_indices(x)
    np.testing.assert_array_equal(np.asarray(pooled), ref_pooled)
    np.testing.assert_array_equal(np.asarray(where), ref_where)
    values = RNG.random((2, 3, 4, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(MaxUnpooling()([values, ref_where])),
                                  numpy_unpool(values, ref_where))


def test_unpooling_puts_the_maxima_back_where_they_were():
    x = RNG.random((1, 8, 10, 4)).astype("float32")
    back = np.asarray(MaxUnpooling()(MaxPoolingWithIndices()(x)))
    kept = back != 0
    np.testing.assert_array_equal(back[kept], x[kept])  # each maximum at its own place
    assert kept.reshape(1, 4, 2, 5, 2, 4).sum(axis=(2, 4)).max() == 1  # one per window


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_bin_pooling_averages_equal_cells(bins):
    x = RNG.random((2, 12, 18, 5)).astype("float32")
    h, w = 12 // bins, 18 // bins
    expected = np.array([[[x[:, i * h:(i + 1) * h, j * w:(j + 1) * w].mean(axis=(1, 2))
                           for j in range(bins)] for i in range(bins)]]).squeeze(0)
    expected = np.moveaxis(expected, 2, 0)  # (bins, bins, B, C) -> (B, bins, bins, C)
    np.testing.assert_allclose(np.asarray(BinPooling(bins)(x)), expected, rtol=1e-5)


# --- encoders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoder, parameters", [("resnet50", 23_587_712),
                                                 ("mobilenetv2", 2_257_984)])
def test_encoders_are_keras_applications_own_networks(encoder, parameters):
    """keras.applications' counts with include_top=False (Keras 3.15)."""
    model = encoders.build_encoder(encoder)
    assert model.count_params() == parameters == encoders.spec(encoder).parameters
    assert model.name == "encoder"


@pytest.mark.parametrize("encoder", ["resnet50", "mobilenetv2"])
@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_feature_maps_come_at_their_strides_up_to_the_output_stride(encoder, output_stride):
    model = encoders.build_encoder(encoder, output_stride=output_stride)
    maps = model(np.zeros((1, 64, 96, 3), "float32"))
    for stride, feature in zip((2, 4, 8, 16, 32), maps, strict=True):
        effective = min(stride, output_stride)
        assert tuple(feature.shape[1:3]) == (64 // effective, 96 // effective), stride


@pytest.mark.parametrize("encoder, offset", [("resnet50", 0), ("mobilenetv2", 1)])
def test_dilation_keeps_every_output_of_the_original_network(encoder, offset):
    """At output stride 16 the last stage runs on a grid twice as fine with rate-2 filters:
    sampled every second pixel it must give exactly the original stride-32 map. ResNet's stride
    sits in a 1x1 convolution (samples 0, 2, 4, ...); MobileNetV2's stride-2 depthwise
    convolution, padded at the end, is centred on the odd pixels."""
    keras.utils.set_random_seed(1)
    original = encoders.build_encoder(encoder, strides=(32,))
    dilated = encoders.dilate(original, encoder, 16)
    for mine, theirs in zip(dilated.weights, original.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    x = RNG.random((1, 64, 96, 3)).astype("float32")
    coarse = np.asarray(original(x, training=False))
    fine = np.asarray(dilated(x, training=False))
    assert fine.shape[1:3] == (4, 6) and coarse.shape[1:3] == (2, 3)
    np.testing.assert_allclose(fine[:, offset::2, offset::2], coarse, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("encoder, gflops", [("resnet50", 2 * 3.8), ("mobilenetv2", 2 * 0.3)])
def test_encoder_flops_match_the_papers(encoder, gflops):
    """He et al. give ResNet-50 3.8 G multiply-adds at 224x224, Sandler et al. MobileNetV2
    300 M; the count here is 2 operations per multiply-add and leaves out the classifier."""
    counted = count_flops(encoders.build_encoder(encoder), (224, 224)) / 1e9
    assert counted == pytest.approx(gflops, rel=0.1)


# --- weights: None, a file, ImageNet ------------------------------------------------------------


def test_a_saved_encoder_loads_as_encoder_weights(tmp_path):
    keras.utils.set_random_seed(2)
    donor = pretrained.mobilenet_unet(3)
    path = tmp_path / "mobilenet.weights.h5"
    donor.get_layer("encoder").save_weights(path)
    model = pretrained.mobilenet_fcn8(4, encoder_weights=path)
    for theirs, mine in zip(donor.get_layer("encoder").weights,
                            model.get_layer("encoder").weights, strict=True):
        np.testing.assert_array_equal(np.asarray(theirs), np.asarray(mine))


def test_a_weights_file_of_another_network_is_refused_by_name(tmp_path):
    path = tmp_path / "mobilenet.weights.h5"
    encoders.build_encoder("mobilenetv2").save_weights(path)
    with pytest.raises(ConfigError, match=r"mobilenet\.weights\.h5.*ResNet50"):
        encoders.build_encoder("resnet50", encoder_weights=path)


def test_a_missing_weights_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.h5 is not a file"):
        pretrained.resnet50_unet(3, encoder_weights=tmp_path / "nothere.h5")


def test_imagenet_offline_says_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: no route to host")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    expected = tmp_path / "keras" / "models" / encoders.spec("resnet50").weights_file
    with pytest.raises(ConfigError) as error:
        registry.build("resnet50_unet", 3, encoder_weights="imagenet")
    message = str(error.value)
    assert str(expected) in message and encoders.spec("resnet50").weights_url in message
    assert "encoder_weights=None" in message


def test_imagenet_uses_the_cached_file_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / encoders.spec("mobilenetv2").weights_file
    cached.parent.mkdir()
    cached.write_bytes(b"")

    def must_not_download(*args, **kwargs):
        raise AssertionError("downloaded although the file is cached")

    monkeypatch.setattr(keras.utils, "get_file", must_not_download)
    assert encoders.resolve_weights("mobilenet", "imagenet") == str(cached)


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ConfigError, match="resnet50, mobilenetv2"):
        pretrained.encoder_unet(3, encoder="efficientnet")


# --- the models against their papers -------------------------------------------------------------


def test_encoder_unet_joins_the_encoder_maps_at_strides_16_to_2():
    model = pretrained.resnet50_unet(3)
    joined = [model.get_layer(f"decoder_stage{s}_concat").input[1].shape[-1] for s in (1, 2, 3, 4)]
    assert joined == [1024, 512, 256, 64]  # conv4, conv3, conv2 outputs and conv1
    names = {layer.name for layer in model.layers}
    assert "decoder_stage5_concat" not in names and "decoder_stage5b_conv" in names


def test_encoder_fcn8_fuses_scores_at_strides_32_16_8():
    model = pretrained.resnet50_fcn8(5)
    assert model.get_layer("score_fr").input.shape[-1] == 2048
    assert model.get_layer("score_stride16").input.shape[-1] == 1024
    assert model.get_layer("score_stride8").input.shape[-1] == 512
    assert model.get_layer("upscore8").strides == (8, 8)
    assert not np.any(model.get_layer("score_stride8").get_weights()[0])  # starts at zero


def _strides(model, layer_name, size=(96, 144)):
    """The stride of the map that layer ``layer_name`` reads (its first input)."""
    inputs = model.get_layer(layer_name).input
    probe = keras.Model(model.input, inputs[0] if isinstance(inputs, list) else inputs)
    out = probe(np.zeros((1, *size, 3), "float32"))
    return size[0] // out.shape[1], size[1] // out.shape[2]


@pytest.mark.parametrize("encoder, channels", [("resnet50", 2048), ("mobilenetv2", 1280)])
def test_pspnet_pools_bins_1_2_3_6_at_output_stride_8(encoder, channels):
    model = pyramid.pspnet(4, encoder=encoder)
    assert _strides(model, "psp_bin1_pool") == (8, 8)
    for b in (1, 2, 3, 6):
        assert tuple(model.get_layer(f"psp_bin{b}_pool").output.shape[1:3]) == (b, b)
        assert model.get_layer(f"psp_bin{b}_conv").filters == channels // 4
    assert model.get_layer("psp_concat").output.shape[-1] == 2 * channels
    assert model.get_layer("psp_head_conv").filters == 512
    assert model.get_layer("pad").multiple == 48


@pytest.mark.parametrize("output_stride, rates", [(16, (6, 12, 18)), (8, (12, 24, 36))])
def test_deeplabv3plus_aspp_rates_and_decoder(output_stride, rates):
    model = pyramid.deeplabv3plus(4, encoder="mobilenetv2", output_stride=output_stride)
    assert _strides(model, "aspp_1x1_conv") == (output_stride, output_stride)
    assert [model.get_layer(f"aspp_rate{r}_conv").dilation_rate for r in rates] == \
        [(r, r) for r in rates]
    assert model.get_layer("aspp_concat").output.shape[-1] == 5 * 256  # 1x1, 3 rates, pooling
    assert model.get_layer("decoder_low_level_conv").filters == 48
    low = keras.Model(model.input, model.get_layer("decoder_low_level_conv").output)
    assert tuple(low(np.zeros((1, 64, 96, 3), "float32")).shape[1:3]) == (16, 24)  # stride 4


def test_segnet_is_the_papers_size_and_mirrors_vgg16():
    model = segnet.segnet(11)
    assert model.count_params() == pytest.approx(29.5e6, rel=0.005)
    encoder_convs = [layer for layer in model.layers if layer.name.startswith("block")
                     and layer.name.endswith("_conv")]
    decoder_convs = [layer for layer in model.layers if layer.name.startswith("decoder_")
                     and layer.name.endswith("_conv")]
    assert len(encoder_convs) == len(decoder_convs) == 13
    assert [c.filters for c in decoder_convs] == [512, 512, 512, 512, 512, 256, 256, 256, 128,
                                                  128, 64, 64, 64]
    unpools = [layer for layer in model.layers if isinstance(layer, MaxUnpooling)]
    assert len(unpools) == 5 and not any(u.weights for u in unpools)


def test_segnet_starts_from_vgg16_weights_with_the_bias_folded_in():
    keras.utils.set_random_seed(5)
    vgg = keras.applications.VGG16(include_top=False, weights=None)
    model = segnet.segnet(3, encoder_weights=vgg)
    kernel, bias = vgg.get_layer("block3_conv2").get_weights()
    np.testing.assert_array_equal(model.get_layer("block3_conv2_conv").get_weights()[0], kernel)
    np.testing.assert_allclose(model.get_layer("block3_conv2_bn").moving_mean, -bias)


def test_segnet_mini_is_segnet_basic():
    model = segnet.segnet_mini(11)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.kernel_size, c.filters) for c in convs[:-1]] == [((7, 7), 64)] * 8
    assert convs[-1].name == "logits_padded"


@pytest.mark.parametrize("name", ["resnet50_unet", "resnet50_fcn8", "resnet50_pspnet",
                                  "mobilenet_deeplabv3plus", "segnet"])
def test_gpu_profile_starts_from_imagenet(name):
    assert registry.profile_options(name, "gpu") == {"encoder_weights": "imagenet"}
    assert registry.weights_option(name) == "encoder_weights"


def test_a_frozen_encoder_keeps_its_batch_norm_statistics():
    """Freezing the nested encoder freezes its batch normalisation too (inference mode)."""
    keras.utils.set_random_seed(6)
    model = pretrained.mobilenet_fcn8(2, input_shape=(32, 32, 3))
    model.get_layer("encoder").trainable = False
    before = [np.asarray(w).copy() for w in model.get_layer("encoder").weights]
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = RNG.random((2, 32, 32, 3)).astype("float32")
    model.train_on_batch(x, RNG.integers(0, 2, (2, 32, 32)))
    for old, new in zip(before, model.get_layer("encoder").weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))


# --- output stride and receptive field, measured ---------------------------------------------


@pytest.mark.parametrize("layers, field", [
    ([keras.layers.Conv2D(2, 3, padding="same")] * 3, 7),  # 1 + 3 * 2
    ([keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2)], 5),
    ([keras.layers.Conv2D(2, 5, padding="same"), keras.layers.AveragePooling2D(2),
      keras.layers.Conv2D(2, 3, padding="same"), keras.layers.UpSampling2D(2)], 5 + 2 * 2 + 1),
])
def test_receptive_field_of_small_stacks(layers, field):
    inputs = keras.Input((None, None, 3))
    x = inputs
    for layer in layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        x = layer.__class__.from_config(config)(x)  # a fresh layer each time
    model = keras.Model(inputs, x)
    height, width = anatomy.receptive_field(model, (32, 32))
    assert height == width
    assert height in (field, field - 1)  # an even stride may centre the field off by one


@pytest.mark.parametrize("name, stride", [("unet_mini", 4), ("segnet", 32),
                                          ("resnet50_pspnet", 8),
                                          ("mobilenet_deeplabv3plus", 16),
                                          ("mobilenet_unet", 32)])
def test_output_stride_is_measured(name, stride):
    assert anatomy.output_stride(registry.build(name, 3, profile="quick"), (96, 144)) == stride
