"""segutils.upsampling against independent definitions and against keras.ops.image.resize.

The reference for "bilinear" is written here from scratch in NumPy: half-pixel-centred linear
interpolation (output ``o`` samples input coordinate ``(o + 0.5) / f - 0.5``), separable, with a
choice of what lies outside the image: the edge pixel (what resizing does) or zero (what a
transposed convolution's padding does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.errors import ConfigError
from segutils.upsampling import (
    BilinearInitializer,
    bilinear_kernel,
    bilinear_profile,
    bilinear_upsampling,
    border_width,
    conv_transpose_output_size,
    upsampling_kernel_size,
)

FACTORS = list(range(2, 33))
TOL = 1e-5

# --- independent references --------------------------------------------------------------------


def ramp_profile(k: int) -> np.ndarray:
    """The 1-D bilinear taps from their shape alone: a symmetric ramp, peak 1 in the middle.

    Even k = 2f: tap m steps in from either end weighs (2m + 1) / (2f).
    Odd k = 2f - 1: tap m steps in weighs (m + 1) / f (the middle tap, m = f - 1, weighs 1).
    """
    f = (k + 1) // 2
    out = []
    for t in range(k):
        m = min(t, k - 1 - t)
        out.append((2 * m + 1) / (2 * f) if k % 2 == 0 else (m + 1) / f)
    return np.array(out)


def upsample_1d(v: np.ndarray, f: int, axis: int, outside: str, shift: float = 0.5) -> np.ndarray:
    """Linear interpolation along ``axis``: output o samples (o + shift) / f - 0.5."""
    v = np.moveaxis(np.asarray(v, np.float64), axis, 0)
    n = v.shape[0]
    pad = v[:1] if outside == "edge" else np.zeros_like(v[:1])
    end = v[-1:] if outside == "edge" else np.zeros_like(v[:1])
    padded = np.concatenate([pad, v, end])  # padded[i + 1] is input i
    out = np.empty((n * f,) + v.shape[1:])
    for o in range(n * f):
        x = (o + shift) / f - 0.5
        i0 = int(np.floor(x))
        a = x - i0
        out[o] = (1 - a) * padded[i0 + 1] + a * padded[i0 + 2]
    return np.moveaxis(out, 0, axis)


def upsample_2d(x: np.ndarray, f: int, outside: str, shift: float = 0.5) -> np.ndarray:
    """(batch, H, W, C) -> (batch, H f, W f, C), separable."""
    return upsample_1d(upsample_1d(x, f, 1, outside, shift), f, 2, outside, shift)


def distance_to_edge(h: int, w: int) -> np.ndarray:
    rows, cols = np.indices((h, w))
    return np.minimum.reduce([rows, h - 1 - rows, cols, w - 1 - cols])


def run_layer(layer, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(layer(x)), np.float64)


def resize(x: np.ndarray, f: int, **kw) -> np.ndarray:
    size = (x.shape[1] * f, x.shape[2] * f)
    return np.asarray(keras.ops.image.resize(x, size, "bilinear", **kw), np.float64)


def random_images(seed: int, h: int, w: int, c: int = 3) -> np.ndarray:
    # Bounded away from 0 so that every border pixel visibly differs.
    return (0.1 + np.random.default_rng(seed).random((2, h, w, c))).astype(np.float32)


# --- the kernel --------------------------------------------------------------------------------


def test_profile_for_k4_is_the_textbook_one():
    np.testing.assert_array_equal(bilinear_profile(4), [0.25, 0.75, 0.75, 0.25])
    np.testing.assert_array_equal(bilinear_profile(3), [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(bilinear_profile(1), [1.0])


@pytest.mark.parametrize("k", range(1, 65))
def test_kernel_equals_independent_formula(k):
    expected = np.array([[a * b for b in ramp_profile(k)] for a in ramp_profile(k)])
    got = bilinear_kernel(k)
    assert got.shape == (k, k)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("f", range(1, 33))
def test_taps_of_each_phase_sum_to_one(f):
    """Every output pixel gets weights summing to 1: a constant image stays constant inside."""
    for k in (upsampling_kernel_size(f), 2 * f):
        phases = [bilinear_profile(k)[r::f].sum() for r in range(f)]
        np.testing.assert_allclose(phases, 1.0, atol=1e-12)


def test_kernel_size_and_border_width():
    assert [upsampling_kernel_size(f) for f in range(1, 9)] == [1, 4, 5, 8, 9, 12, 13, 16]
    assert [border_width(f) for f in range(1, 9)] == [0, 1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "4", None])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ConfigError, match="positive integer"):
        bilinear_kernel(bad)
    with pytest.raises(ConfigError, match="positive integer"):
        bilinear_upsampling(bad, 3)


# --- the initializer ---------------------------------------------------------------------------


def test_initializer_puts_the_kernel_on_the_channel_diagonal_only():
    w = np.asarray(BilinearInitializer()((6, 6, 4, 4)))
    assert w.dtype == np.float32 and w.shape == (6, 6, 4, 4)
    for out_c in range(4):
        for in_c in range(4):
            want = bilinear_kernel(6) if out_c == in_c else np.zeros((6, 6))
            np.testing.assert_allclose(w[:, :, out_c, in_c], want, atol=1e-7)


def test_initializer_other_shapes_and_dtypes():
    w = np.asarray(BilinearInitializer()((3, 5, 2, 2), dtype="float16"))
    assert w.dtype == np.float16
    np.testing.assert_allclose(w[:, :, 1, 1], np.outer(ramp_profile(3), ramp_profile(5)), atol=1e-3)
    w1 = np.asarray(BilinearInitializer()((4, 1, 1)))  # Conv1DTranspose
    np.testing.assert_allclose(w1[:, 0, 0], [0.25, 0.75, 0.75, 0.25])


@pytest.mark.parametrize("shape", [(4, 4, 3, 2), (4,), (4, 4)])
def test_initializer_refuses_shapes_it_cannot_fill(shape):
    with pytest.raises(ConfigError, match="BilinearInitializer"):
        BilinearInitializer()(shape)


def test_initializer_is_registered_and_serializable():
    config = keras.saving.serialize_keras_object(BilinearInitializer())
    assert config["registered_name"] == "segutils>BilinearInitializer"
    again = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert isinstance(again, BilinearInitializer)
    assert isinstance(keras.initializers.get(config), BilinearInitializer)


def test_layer_configuration():
    layer = bilinear_upsampling(4, 5)
    assert (layer.filters, layer.kernel_size, layer.strides) == (5, (8, 8), (4, 4))
    assert layer.padding == "same" and not layer.use_bias and not layer.trainable
    assert bilinear_upsampling(3, 5).kernel_size == (5, 5)
    layer.build((None, 7, 9, 5))
    assert layer.trainable_weights == [] and len(layer.weights) == 1
    assert bilinear_upsampling(2, 1, trainable=True).trainable


# --- agreement with keras.ops.image.resize ------------------------------------------------------


@pytest.mark.parametrize("f", FACTORS)
def test_interior_matches_resize_and_border_band_is_zero_padding(f):
    h, w = (5, 7) if f <= 16 else (3, 4)
    x = random_images(f, h, w)
    got = run_layer(bilinear_upsampling(f, 3), x)
    want = resize(x, f)
    assert got.shape == want.shape == (2, h * f, w * f, 3)

    band = border_width(f)
    dist = distance_to_edge(h * f, w * f)
    diff = np.abs(got - want).max(axis=(0, 3))
    assert diff[dist >= band].max() < TOL, f"x{f}: interior differs from resize"
    # Inside the band every pixel differs, and by exactly what zero padding predicts.
    assert (diff[dist < band] > 1e-3).all(), f"x{f}: a border pixel agrees with resize"
    np.testing.assert_allclose(got, upsample_2d(x, f, "zero"), atol=TOL)


@pytest.mark.parametrize("f", [2, 3, 8, 17, 32])
def test_border_band_is_resize_times_a_positive_factor(f):
    """In the band the layer equals resize times (1 - d_row)(1 - d_col), the same factor for
    every channel (d: how far outside the input the sample lies), so class scores keep their
    argmax and only shrink towards zero."""
    h, w, c = 3, 4, 7
    x = np.random.default_rng(f).normal(size=(2, h, w, c)).astype(np.float32)
    got, want = run_layer(bilinear_upsampling(f, c), x), resize(x, f)

    def shrink(n):
        pos = (np.arange(n * f) + 0.5) / f - 0.5
        return 1 - np.maximum.reduce([np.zeros_like(pos), -pos, pos - (n - 1)])

    factor = np.outer(shrink(h), shrink(w))
    assert factor.min() > 0.25 and (factor < 1).sum() > 0
    np.testing.assert_allclose(got, want * factor[None, :, :, None], atol=TOL)
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))


def test_resize_reference_is_half_pixel_bilinear_with_edge_clamping():
    x = random_images(0, 4, 6)
    for f in (2, 3, 8):
        np.testing.assert_allclose(resize(x, f), upsample_2d(x, f, "edge"), atol=TOL)


@pytest.mark.parametrize("f", [2, 3, 8, 32])
def test_antialias_makes_no_difference_when_upsampling(f):
    x = random_images(1, 3, 4)
    np.testing.assert_allclose(resize(x, f, antialias=True), resize(x, f), atol=1e-6)


@pytest.mark.parametrize("f", [3, 5, 7, 9, 15, 31])
def test_odd_factor_with_even_kernel_is_shifted_half_an_output_pixel(f):
    """Why odd factors use k = 2f - 1: with k = 2f, output o samples o / f - 0.5 instead."""
    x = random_images(f, 4, 5)
    layer = keras.layers.Conv2DTranspose(
        3, 2 * f, strides=f, padding="same", use_bias=False,
        kernel_initializer=BilinearInitializer(),
    )
    got = run_layer(layer, x)
    np.testing.assert_allclose(got, upsample_2d(x, f, "zero", shift=0.0), atol=TOL)
    interior = distance_to_edge(4 * f, 5 * f) >= f
    assert np.abs(got - resize(x, f)).max(axis=(0, 3))[interior].max() > 1e-3


@settings(max_examples=20, deadline=None)
@given(
    f=st.integers(1, 12),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_property_layer_is_zero_padded_bilinear_and_exact_inside(f, h, w, c, seed):
    x = random_images(seed, h, w, c)
    got = run_layer(bilinear_upsampling(f, c), x)
    np.testing.assert_allclose(got, upsample_2d(x, f, "zero"), atol=TOL)
    inside = distance_to_edge(h * f, w * f) >= border_width(f)
    if inside.any():
        assert np.abs(got - resize(x, f)).max(axis=(0, 3))[inside].max() < TOL


# --- output sizes ------------------------------------------------------------------------------


def test_output_size_matches_keras_layers():
    for n in (1, 3):
        for k in range(1, 6):
            for s in (1, 2, 3):
                for padding in ("valid", "same"):
                    layer = keras.layers.Conv2DTranspose(1, k, strides=s, padding=padding)
                    out = layer.compute_output_shape((None, n, n + 1, 1))
                    assert tuple(out[1:3]) == (
                        conv_transpose_output_size(n, k, s, padding),
                        conv_transpose_output_size(n + 1, k, s, padding),
                    ), (n, k, s, padding)
    y = keras.layers.Conv2DTranspose(1, 1, strides=2, padding="valid")(np.ones((1, 3, 3, 1)))
    assert y.shape[1] == conv_transpose_output_size(3, 1, 2, "valid") == 6


def test_output_size_refuses_unknown_padding():
    with pytest.raises(ConfigError, match="padding"):
        conv_transpose_output_size(4, 4, 2, "full")


# --- saving ------------------------------------------------------------------------------------


def _model(trainable: bool) -> keras.Model:
    inputs = keras.Input((5, 6, 2))
    return keras.Model(inputs, bilinear_upsampling(4, 2, trainable=trainable, name="up")(inputs))


@pytest.mark.parametrize("trainable", [False, True])
def test_model_saves_and_reloads_without_custom_objects(tmp_path, trainable):
    model = _model(trainable)
    if trainable:  # a trained layer must come back with its trained weights
        model.get_layer("up").set_weights([model.get_layer("up").get_weights()[0] * 0.5 + 0.01])
    path = tmp_path / "up.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert "segutils>BilinearInitializer" in archive.read("config.json").decode()
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("up")
    assert isinstance(layer.kernel_initializer, BilinearInitializer)
    assert layer.trainable == trainable
    x = random_images(3, 5, 6, 2)
    np.testing.assert_allclose(run_layer(loaded, x), run_layer(model, x), atol=1e-6)


@pytest.mark.slow
def test_model_reloads_in_a_fresh_process(tmp_path):
    path = tmp_path / "up.keras"
    _model(False).save(path)
    code = (
        "import keras, numpy as np, segutils.upsampling\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        "print(m.get_layer('up').kernel_initializer.__class__.__name__)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("BilinearInitializer")
