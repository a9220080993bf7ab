"""Class frequencies and weights, checked against hand-computed numbers and plain definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.balancing import (
    AbsentClassWarning,
    class_statistics,
    inverse_frequency_weights,
    median_frequency_weights,
    weights_table,
)

# --- a small label set whose counts are known by hand -------------------------------------------
# Four classes; class 3 never occurs; 255 is ignored.
#   m1: class 0 x3, class 1 x2, one ignored -> 5 labelled pixels
#   m2: class 2 x4, class 0 x1, one ignored -> 5 labelled pixels
#   m3: class 0 x4                          -> 4 labelled pixels
M1 = np.array([[0, 0, 1], [1, 255, 0]], np.uint8)
M2 = np.array([[2, 2, 2], [2, 0, 255]], np.uint8)
M3 = np.array([[0, 0, 0, 0]], np.uint8)
MASKS = [M1, M2, M3]


def as_float(fractions):
    return np.array([float(f) for f in fractions])


def test_counts_of_the_hand_example():
    stats = class_statistics(MASKS, 4)
    assert stats.pixel_counts.tolist() == [8, 2, 4, 0]
    assert stats.image_counts.tolist() == [3, 1, 1, 0]
    # class 0 is in every image (5 + 5 + 4), class 1 only in m1, class 2 only in m2
    assert stats.image_pixels.tolist() == [14, 5, 5, 0]
    assert stats.n_images == 3 and stats.total_pixels == 14
    assert stats.present.tolist() == [True, True, True, False]


def test_pixel_definition_of_the_hand_example():
    """Seed 000: probability that a random labelled pixel is of class c."""
    freq = class_statistics(MASKS, 4).frequencies("pixel")
    expected = [Fraction(8, 14), Fraction(2, 14), Fraction(4, 14), 0]
    np.testing.assert_allclose(freq, as_float(expected), rtol=1e-12)
    assert freq.sum() == pytest.approx(1.0)


def test_image_definition_of_the_hand_example():
    """Eigen & Fergus: pixels of c / labelled pixels of the images that contain c."""
    freq = class_statistics(MASKS, 4).frequencies("image")
    expected = [Fraction(8, 14), Fraction(2, 5), Fraction(4, 5), 0]
    np.testing.assert_allclose(freq, as_float(expected), rtol=1e-12)


def test_median_frequency_weights_of_the_hand_example():
    stats = class_statistics(MASKS, 4)
    with pytest.warns(AbsentClassWarning, match="3"):
        w_pixel = median_frequency_weights(stats.frequencies("pixel"))
    # present frequencies 8/14, 2/14, 4/14 -> median 4/14
    np.testing.assert_allclose(w_pixel, [0.5, 2.0, 1.0, 0.0], rtol=1e-12)
    with pytest.warns(AbsentClassWarning):
        w_image = median_frequency_weights(stats.frequencies("image"))
    # present frequencies 8/14, 2/5, 4/5 -> median 8/14
    median = Fraction(8, 14)
    expected = [1, median / Fraction(2, 5), median / Fraction(4, 5), 0]
    np.testing.assert_allclose(w_image, as_float(expected), rtol=1e-12)


def test_absent_class_is_named_in_the_warning():
    with pytest.warns(AbsentClassWarning, match="boat"):
        w = median_frequency_weights([0.5, 0.0, 0.25], names=["sea", "boat", "sky"])
    assert w[1] == 0.0 and np.isfinite(w).all()


def test_even_number_of_classes_uses_the_mean_of_the_middle_two():
    """Seed 000's four facade classes: weights [0.80, 0.18, 1.33, 2.28] imply frequencies
    proportional to 1 / w; the median of four values is the mean of the middle two."""
    seed_weights = np.array([0.80, 0.18, 1.33, 2.28])
    freq = (1 / seed_weights) / (1 / seed_weights).sum()
    np.testing.assert_allclose(median_frequency_weights(freq), seed_weights, atol=0.005)


def test_inverse_frequency_weights_by_hand():
    freq = np.array([0.5, 0.25, 0.25, 0.0])
    with pytest.warns(AbsentClassWarning):
        w = inverse_frequency_weights(freq)
    # raw 1/f = [2, 4, 4]; sum f * raw = 3 -> divide by 3 to keep the mean pixel weight at 1
    np.testing.assert_allclose(w, [2 / 3, 4 / 3, 4 / 3, 0.0])
    with pytest.warns(AbsentClassWarning):
        w_sqrt = inverse_frequency_weights(freq, power=0.5)
    raw = np.array([2**0.5, 2.0, 2.0])
    np.testing.assert_allclose(w_sqrt[:3], raw / (freq[:3] * raw).sum())


def test_streaming_accepts_batches_tuples_and_generators():
    """The same numbers whether masks come one by one, in batches, or as dataset elements."""
    same_size = [M1, M2, M1[::-1]]
    one_by_one = class_statistics(iter(same_size), 4)
    batch = class_statistics([np.stack(same_size)], 4)
    elements = class_statistics([(np.zeros((2, 2, 3, 3)), np.stack(same_size[:2])),
                                 (None, same_size[2][None], np.ones((1, 2, 3)))], 4)
    for other in (batch, elements):
        for field in ("pixel_counts", "image_pixels", "image_counts"):
            assert getattr(other, field).tolist() == getattr(one_by_one, field).tolist()
        assert other.n_images == 3


def test_tf_data_dataset_streams():
    tf = pytest.importorskip("tensorflow")
    masks = np.stack([M1, M2, M1])
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((3, 2, 3, 3), np.float32), masks)).batch(2)
    stats = class_statistics(ds, 4)
    assert stats.pixel_counts.tolist() == [7, 4, 4, 0]
    assert stats.image_counts.tolist() == [3, 2, 1, 0]


def test_bad_ids_and_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"mask 2: it holds IDs \[7\]"):
        class_statistics([M1, M2, np.array([[7, 0]])], 4)
    with pytest.raises(ValueError, match="no channel axis"):
        class_statistics([np.zeros((1, 2, 2, 1))], 4)
    with pytest.raises(ValueError, match="no labelled pixels"):
        class_statistics([np.full((2, 2), 255)], 4).frequencies()
    with pytest.raises(ValueError, match="definition"):
        class_statistics(MASKS, 4).frequencies("median")
    with pytest.raises(ValueError, match="every frequency is 0"):
        median_frequency_weights([0.0, 0.0])
    with pytest.raises(ValueError, match=">= 0"):
        median_frequency_weights([0.5, -0.1])


def test_weights_table_lists_both_definitions():
    with pytest.warns(AbsentClassWarning):
        rows = weights_table(class_statistics(MASKS, 4), ["a", "b", "c", "d"])
    assert [r["class"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[1]["weight_pixel"] == pytest.approx(2.0)
    assert rows[1]["weight_image"] == pytest.approx((8 / 14) / (2 / 5))
    assert rows[3]["pixels"] == 0 and rows[3]["weight_image"] == 0.0


def test_with_sample_weights_maps_each_pixel_to_its_class_weight():
    tf = pytest.importorskip("tensorflow")
    from segutils.balancing import with_sample_weights

    masks = np.stack([M1, M2]).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 2, 3, 3), np.float32), masks)).batch(2)
    weights = [0.5, 2.0, 1.0, 3.0]
    (_, got_masks, got_w), = list(with_sample_weights(ds, weights).as_numpy_iterator())
    table = {0: 0.5, 1: 2.0, 2: 1.0, 3: 3.0, 255: 0.0}
    expected = np.vectorize(table.get)(masks)
    np.testing.assert_array_equal(got_masks, masks)
    np.testing.assert_allclose(got_w, expected)


# --- properties ---------------------------------------------------------------------------------

mask_lists = st.lists(
    st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1)),
    min_size=1, max_size=6,
).map(lambda specs: [
    np.random.default_rng(s).choice([0, 1, 2, 3, 4, 255], size=(h, w)).astype(np.uint8)
    for h, w, s in specs
])


@settings(max_examples=60, deadline=None)
@given(mask_lists)
def test_statistics_match_plain_loops(masks):
    stats = class_statistics(masks, 5)
    for c in range(5):
        pixels = sum(int((m == c).sum()) for m in masks)
        containing = [m for m in masks if (m == c).any()]
        assert stats.pixel_counts[c] == pixels
        assert stats.image_counts[c] == len(containing)
        assert stats.image_pixels[c] == sum(int((m != 255).sum()) for m in containing)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=9), st.floats(1e-3, 1e3))
def test_median_weights_ignore_the_scale_and_give_the_median_class_one(freq, scale):
    freq = np.array(freq)
    w = median_frequency_weights(freq)
    np.testing.assert_allclose(median_frequency_weights(freq * scale), w, rtol=1e-9)
    np.testing.assert_allclose(w * freq, np.median(freq), rtol=1e-9)  # w_c * f_c = median
    if len(freq) % 2:  # odd count: the median class itself gets exactly 1
        assert np.isclose(w, 1.0).any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=9), st.floats(0.0, 2.0))
def test_inverse_weights_keep_the_mean_pixel_weight(freq, power):
    freq = np.array(freq)
    w = inverse_frequency_weights(freq, power=power)
    assert (freq * w).sum() == pytest.approx(freq.sum(), rel=1e-9)
    order = np.argsort(freq)  # rarer classes never get less weight
    assert (np.diff(w[order]) <= 1e-9 * w.max()).all()
