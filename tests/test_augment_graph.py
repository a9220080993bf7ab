"""Tests of the in-graph ``light`` augmentation (segutils.augment.tfdata.JointLight).

Expected values come from independent definitions: NumPy flips, SciPy's ``map_coordinates``
(bilinear for the image, nearest for the mask) at the pixel centres that a crop of
``[top, top + height)`` resized back to the full size has by definition, and the pattern of
tests/test_augment.py whose class boundaries are sharp image edges.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from test_augment import IDS, IMAGE, MASK, boundary_on_edges, colour_misses

from segutils.augment.core import AugmentationError
from segutils.config import import_quietly

import_quietly()
import tensorflow as tf  # noqa: E402

from segutils.augment.tfdata import LIGHT, JointLight, graph_augment  # noqa: E402

IMAGES = np.stack([IMAGE, IMAGE[::-1], IMAGE[:, ::-1], IMAGE])
MASKS = np.stack([MASK, MASK[::-1], MASK[:, ::-1], MASK])


def run(layer, images=IMAGES, masks=MASKS, seed=(1, 2)):
    out = layer(tf.constant(images), tf.constant(masks), tf.constant(seed, tf.int64))
    return tuple(np.asarray(t) for t in out)


def test_identity_and_mirror_are_exact():
    images, masks = run(JointLight(flip=0.0, crop=0.0, brightness=0.0, contrast=0.0))
    assert images.dtype == np.float32 and masks.dtype == np.int32
    np.testing.assert_allclose(images, IMAGES / 255.0, atol=1e-6)
    np.testing.assert_array_equal(masks, MASKS)
    images, masks = run(JointLight(flip=1.0, crop=0.0, brightness=0.0, contrast=0.0))
    np.testing.assert_allclose(images, IMAGES[:, :, ::-1] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(masks, MASKS[:, :, ::-1])


def test_crop_matches_an_independent_resampler():
    """Each sample's crop window, resampled by SciPy, gives the layer's image and mask."""
    layer = JointLight(flip=0.0, brightness=0.0, contrast=0.0)
    images, masks = run(layer)
    crop = np.asarray(layer.draw(len(IMAGES), tf.constant((1, 2), tf.int64))[0])
    assert crop.min() >= 0.0 and crop.max() <= LIGHT["crop"] and crop.std() > 0
    h, w = MASK.shape
    for k, (top, left, bottom, right) in enumerate(crop):
        ys = top * h + (np.arange(h) + 0.5) * (1 - top - bottom) - 0.5
        xs = left * w + (np.arange(w) + 0.5) * (1 - left - right) - 0.5
        yy, xx = np.meshgrid(np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1), indexing="ij")
        for c in range(3):
            want = ndimage.map_coordinates(IMAGES[k, ..., c].astype(np.float64), [yy, xx],
                                           order=1)
            np.testing.assert_allclose(images[k, ..., c] * 255, want, atol=0.02)
        near = ndimage.map_coordinates(MASKS[k], [np.floor(yy + 0.5), np.floor(xx + 0.5)],
                                       order=0)
        np.testing.assert_array_equal(masks[k], near)


def test_photometric_change_leaves_the_mask_and_follows_imgaug_order():
    layer = JointLight(flip=0.0, crop=0.0)
    images, masks = run(layer)
    np.testing.assert_array_equal(masks, MASKS)
    _, _, shift, factor = (np.asarray(t) for t in layer.draw(4, tf.constant((1, 2), tf.int64)))
    assert np.abs(shift).max() <= 20 / 255 and np.abs(factor - 1).max() <= 0.2
    centre = 127 / 255
    bright = np.clip(IMAGES / 255.0 + shift[:, None, None, None], 0, 1)
    want = np.clip((bright - centre) * factor[:, None, None, None] + centre, 0, 1)
    np.testing.assert_allclose(images, want, atol=1e-5)


def test_alignment_seeds_and_variety():
    layer = JointLight(brightness=0.0, contrast=0.0)
    outputs = [run(layer, seed=(s, 0)) for s in range(6)]
    for images, masks in outputs:
        for image, mask in zip(images, masks, strict=True):
            pixels = np.round(image * 255).astype(np.uint8)
            assert colour_misses(pixels, mask.astype(np.uint8)) < 0.002
            assert boundary_on_edges(pixels, mask.astype(np.uint8)) > 0.97
    again = run(layer, seed=(0, 0))
    assert all(np.array_equal(a, b) for a, b in zip(outputs[0], again, strict=True))
    assert len({m.tobytes() for _, ms in outputs for m in ms}) > 20  # own draw per sample


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    labels=st.lists(st.sampled_from(list(IDS) + [1, 254, 255]), min_size=1, max_size=4,
                    unique=True),
    shape=st.tuples(st.integers(2, 30), st.integers(2, 30)),
)
def test_masks_only_keep_their_values(seed, labels, shape):
    rng = np.random.default_rng(seed)
    masks = rng.choice(np.array(labels, np.uint8), (3, *shape))
    images = rng.integers(0, 256, (3, *shape, 3), dtype=np.uint8)
    out_images, out_masks = run(JointLight(), images, masks, seed=(seed, 1))
    assert out_images.shape == images.shape and out_masks.shape == masks.shape
    assert set(np.unique(out_masks).tolist()) <= set(labels)
    assert 0.0 <= out_images.min() and out_images.max() <= 1.0


def test_compiled_function_and_errors():
    fn = graph_augment("light", seed=3)
    a = [np.asarray(t) for t in fn(IMAGES, MASKS, tf.constant(7, tf.int64))]
    b = [np.asarray(t) for t in fn(IMAGES, MASKS, tf.constant(7, tf.int64))]
    other = graph_augment("light", seed=4)(IMAGES, MASKS, tf.constant(7, tf.int64))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], np.asarray(other[0]))
    assert set(np.unique(a[1]).tolist()) <= set(np.unique(MASKS).tolist())
    with pytest.raises(AugmentationError, match="augment_backend='imgaug'"):
        graph_augment("medium")
    with pytest.raises(AugmentationError, match="crop"):
        JointLight(crop=0.6)
