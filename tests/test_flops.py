"""Tests of the analytic FLOP count against counts made by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.config import import_quietly
from segutils.errors import ConfigError

keras = import_quietly()

from segutils.models.flops import (  # noqa: E402
    conv2d_flops,
    conv2d_transpose_flops,
    count_flops,
    dense_flops,
    flops_by_layer,
)
from segutils.models.unet import unet  # noqa: E402


def tiny_model(input_shape=(8, 10, 3)):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)  # ignored: per value, not per weight
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="strided")(x)
    x = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same", name="up")(x)
    x = keras.layers.Dense(6, name="dense")(x)
    return keras.Model(inputs, x)


def test_tiny_model_by_hand():
    counts = flops_by_layer(tiny_model())
    assert counts == {
        "conv": 2 * (8 * 10) * (3 * 3 * 3) * 4,  # every output pixel: 27 multiply-adds x 4
        "strided": 2 * (4 * 5) * (3 * 3 * 4) * 5,  # 4x5 outputs after stride 2
        "up": 2 * (4 * 5) * (4 * 4 * 5) * 2,  # every *input* pixel stamps a 4x4x2 kernel
        "dense": 2 * (8 * 10) * 2 * 6,  # Dense on a map: at every position
    }
    assert count_flops(tiny_model()) == 17280 + 7200 + 6400 + 1920


def test_size_is_needed_for_models_of_any_size_and_overrides_a_fixed_one():
    model = tiny_model((None, None, 3))
    with pytest.raises(ConfigError, match="image_size"):
        count_flops(model)
    assert count_flops(model, (8, 10)) == count_flops(tiny_model())
    assert count_flops(tiny_model(), (16, 20)) == 4 * count_flops(tiny_model())


def test_counting_leaves_the_model_untouched():
    model = tiny_model((None, None, 3))
    weights = [w.copy() for w in model.get_weights()]
    count_flops(model, (32, 32))
    assert model.input.shape == (None, None, None, 3)
    assert all((a == b).all() for a, b in zip(weights, model.get_weights(), strict=True))


def unet_flops_by_hand(h, w, n_classes, depth, f):
    """Classic U-Net at an input of h x w (a multiple of 2**depth), stage by stage."""
    total, c = 0, 3
    for i in range(depth):
        px = (h >> i) * (w >> i)
        total += 2 * px * 9 * (c * f * 2**i + (f * 2**i) ** 2)
        c = f * 2**i
    px = (h >> depth) * (w >> depth)
    total += 2 * px * 9 * (c * f * 2**depth + (f * 2**depth) ** 2)
    c = f * 2**depth
    for i in range(depth - 1, -1, -1):
        out = f * 2**i
        total += 2 * (h >> (i + 1)) * (w >> (i + 1)) * 4 * c * out  # 2x2 up-convolution
        px = (h >> i) * (w >> i)
        total += 2 * px * 9 * (2 * out * out + out * out)  # conv on the concat, then conv
        c = out
    return total + 2 * h * w * c * n_classes


@pytest.mark.parametrize("size, padded", [((64, 64), (64, 64)), ((97, 131), (112, 144))])
def test_unet_count_matches_hand_count_at_the_padded_size(size, padded):
    model = unet(3, depth=4, base_filters=8)
    assert count_flops(model, size) == unet_flops_by_hand(*padded, 3, 4, 8)


def test_transpose_and_bilinear_decoders_cost_the_same():
    # 2x2 stride-2 transposed conv on h x w == 1x1 conv on the 2h x 2w resized map.
    a = unet(3, depth=3, base_filters=8, upsampling="transpose")
    b = unet(3, depth=3, base_filters=8, upsampling="bilinear")
    assert count_flops(a, (64, 48)) == count_flops(b, (64, 48))


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), k=st.sampled_from([1, 3, 5]),
       s=st.integers(1, 3), cin=st.integers(1, 8), cout=st.integers(1, 8))
def test_conv_formula_equals_a_loop_over_outputs(h, w, k, s, cin, cout):
    h_out = len(range(0, h, s))  # 'same' padding: one output per stride step
    w_out = len(range(0, w, s))
    by_loop = sum(2 * k * k * cin * cout for _ in range(h_out) for _ in range(w_out))
    assert conv2d_flops(h, w, k, cin, cout, strides=s) == by_loop


def test_helper_formulas():
    assert conv2d_transpose_flops(4, 5, 4, 5, 2) == 6400
    assert dense_flops(25088, 4096) == 2 * 25088 * 4096
    assert dense_flops(2, 6, positions=80) == 1920


@pytest.mark.slow
def test_vgg16_at_224_is_the_textbook_15_5_giga_multiply_adds():
    model = keras.applications.VGG16(weights=None, include_top=True)
    flops = count_flops(model)
    convs = sum(2 * (224 >> b) ** 2 * 9 * cin * cout for b, cin, cout in [
        (0, 3, 64), (0, 64, 64), (1, 64, 128), (1, 128, 128), (2, 128, 256), (2, 256, 256),
        (2, 256, 256), (3, 256, 512), (3, 512, 512), (3, 512, 512), (4, 512, 512),
        (4, 512, 512), (4, 512, 512)])
    dense = 2 * (25088 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert flops == convs + dense
    assert 15.4e9 < flops / 2 < 15.6e9
