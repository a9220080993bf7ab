"""Class frequencies and class weights: how rare each class is, and how much to up-weight it.

Street scenes are mostly road, sky and buildings. A network trained with a plain per-pixel loss
spends almost all of its effort on those classes, and a model that never predicts a pedestrian
still reaches a high pixel accuracy. Class weights scale each pixel's loss by a number that
depends on its true class, so that rare classes count for more.

Two definitions of a class's frequency are in use, and they give different weights:

``"pixel"``
    The probability that a random labelled pixel of the dataset belongs to class c:
    ``pixels of c / all labelled pixels``. The frequencies sum to 1. (Seed 000 used this.)
``"image"``
    Eigen & Fergus (2015), the definition behind SegNet's median-frequency balancing:
    ``pixels of c / labelled pixels of the images in which c appears``. A class that is rare
    because it appears in few images, but is large when it does, is not treated as rare.

Median-frequency balancing sets ``w_c = median(freq) / freq(c)``: the class of median frequency
gets weight 1, rarer classes more, common classes less. Ignored pixels (255) are counted in
neither the class counts nor the totals. A class that never occurs has no frequency; it gets
weight 0 and a warning, because up-weighting a class with no examples is meaningless and an
infinite weight would break training.

Statistics are accumulated one mask (or one batch) at a time, so they work on datasets that do
not fit in memory: pass a generator of masks, or the ``tf.data`` dataset itself.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from segutils.data.classes import IGNORE_INDEX, class_pixel_counts

#: The two frequency definitions, see the module docstring.
DEFINITIONS = ("pixel", "image")


class AbsentClassWarning(UserWarning):
    """A class never occurs in the data, so it gets weight 0 (the model cannot learn it)."""


@dataclasses.dataclass(frozen=True)
class ClassStatistics:
    """Pixel counts of a dataset, enough for both frequency definitions.

    Attributes
    ----------
    pixel_counts: (C,) labelled pixels of each class.
    image_pixels: (C,) labelled pixels of all images that contain class c (at least one pixel).
    image_counts: (C,) number of images that contain class c.
    n_images: number of masks seen.
    """

    pixel_counts: np.ndarray
    image_pixels: np.ndarray
    image_counts: np.ndarray
    n_images: int

    @property
    def n_classes(self) -> int:
        return len(self.pixel_counts)

    @property
    def total_pixels(self) -> int:
        """Labelled (not ignored) pixels over all images."""
        return int(self.pixel_counts.sum())

    @property
    def present(self) -> np.ndarray:
        """(C,) bool: the classes that occur at least once."""
        return self.pixel_counts > 0

    def frequencies(self, definition: str = "image") -> np.ndarray:
        """(C,) float64 class frequencies; 0 for a class that never occurs.

        ``definition="pixel"``: share of all labelled pixels (sums to 1).
        ``definition="image"``: Eigen & Fergus, pixels of c over the labelled pixels of the
        images containing c (does not sum to 1).
        """
        if definition not in DEFINITIONS:
            raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
        if self.total_pixels == 0:
            raise ValueError("no labelled pixels: every pixel is ignored or there are no masks")
        counts = self.pixel_counts.astype(np.float64)
        totals = self.total_pixels if definition == "pixel" else self.image_pixels
        totals = np.broadcast_to(np.asarray(totals, np.float64), counts.shape)
        return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _masks_of(item) -> np.ndarray:
    """The mask part of a dataset element: a mask, a batch, or an (image, mask, ...) tuple."""
    if isinstance(item, tuple | list):
        if len(item) < 2:
            raise ValueError("a dataset element must be (image, mask) or (image, mask, weight)")
        item = item[1]
    return np.asarray(item)


def class_statistics(
    masks: Iterable, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> ClassStatistics:
    """Count the pixels of every class, streaming over ``masks``.

    ``masks`` yields (H, W) masks, (B, H, W) batches of masks, or dataset elements
    ``(images, masks)`` / ``(images, masks, weights)``, so a ``tf.data`` dataset from
    :func:`segutils.data.pipeline.make_dataset` can be passed as it is (iterate it without
    shuffling or augmentation if the numbers must be reproducible). Only one element is held in
    memory at a time. Ignored pixels are not counted; an ID that is neither a class nor
    ``ignore_index`` is an error.
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    pixel_counts = np.zeros(n_classes, np.int64)
    image_pixels = np.zeros(n_classes, np.int64)
    image_counts = np.zeros(n_classes, np.int64)
    n_images = 0
    for item in masks:
        batch = _masks_of(item)
        if batch.ndim == 2:
            batch = batch[None]
        if batch.ndim != 3:
            raise ValueError(
                f"expected (H, W) masks or (B, H, W) batches of masks, got shape {batch.shape}; "
                "masks hold one class ID per pixel (no channel axis)"
            )
        for mask in batch:
            try:
                counts = class_pixel_counts([mask], n_classes, ignore_index)
            except ValueError as err:  # name the mask by its position in the whole stream
                raise ValueError(f"mask {n_images}: {err}".replace("mask 0 holds", "it holds")) \
                    from None
            present = counts > 0
            pixel_counts += counts
            image_pixels[present] += counts.sum()
            image_counts[present] += 1
            n_images += 1
    return ClassStatistics(pixel_counts, image_pixels, image_counts, n_images)


def _check_frequencies(frequencies) -> np.ndarray:
    freq = np.asarray(frequencies, np.float64)
    if freq.ndim != 1 or freq.size == 0:
        raise ValueError(f"frequencies must be a 1-D array with one value per class, "
                         f"got shape {freq.shape}")
    if not np.isfinite(freq).all() or (freq < 0).any():
        raise ValueError(f"frequencies must be finite and >= 0, got {freq.tolist()}")
    if not (freq > 0).any():
        raise ValueError("every frequency is 0: no class occurs, so there is nothing to balance")
    return freq


def _warn_absent(freq: np.ndarray, names: Sequence[str] | None) -> None:
    absent = np.flatnonzero(freq == 0)
    if absent.size:
        listed = ", ".join(repr(names[i]) if names is not None else str(i) for i in absent)
        subject = f"class {listed} never occurs" if absent.size == 1 else \
            f"classes {listed} never occur"
        warnings.warn(
            f"{subject} in the data: weight 0 (the model cannot learn what it never sees; "
            "check the class list, or add examples)",
            AbsentClassWarning,
            stacklevel=3,
        )


def median_frequency_weights(
    frequencies, names: Sequence[str] | None = None
) -> np.ndarray:
    """Median-frequency balancing: ``w_c = median(freq) / freq(c)``.

    ``frequencies`` come from :meth:`ClassStatistics.frequencies` (either definition). The
    median is taken over the classes that occur; with an even number of them it is the mean of
    the two middle values (as ``np.median``), so no class gets exactly 1. A class with frequency
    0 gets weight 0 and an :class:`AbsentClassWarning` (naming it by ``names`` when given).
    The weights do not depend on the scale of the frequencies.
    """
    freq = _check_frequencies(frequencies)
    _warn_absent(freq, names)
    present = freq > 0
    median = np.median(freq[present])
    return np.divide(median, freq, out=np.zeros_like(freq), where=present)


def inverse_frequency_weights(
    frequencies, power: float = 1.0, names: Sequence[str] | None = None
) -> np.ndarray:
    """Inverse-frequency weights ``w_c ∝ freq(c) ** -power``, scaled to a mean pixel weight of 1.

    The scale makes ``sum_c freq(c) * w_c = sum_c freq(c)``: with pixel frequencies, an average
    pixel keeps weight 1, so the loss keeps its usual size. ``power=0.5`` (inverse square root)
    is a gentler version often used when plain inverse frequency over-weights tiny classes.
    Absent classes get weight 0 and an :class:`AbsentClassWarning`.
    """
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    freq = _check_frequencies(frequencies)
    _warn_absent(freq, names)
    present = freq > 0
    raw = np.zeros_like(freq)
    raw[present] = freq[present] ** -power
    return raw * freq.sum() / (freq * raw).sum()


def weights_table(
    stats: ClassStatistics, names: Sequence[str] | None = None
) -> list[dict]:
    """One row per class with both frequencies and both median-frequency weights.

    Handy for printing side by side; absent classes get weight 0 (with one warning each way).
    """
    names = list(names) if names is not None else [str(i) for i in range(stats.n_classes)]
    rows = []
    freqs = {d: stats.frequencies(d) for d in DEFINITIONS}
    weights = {d: median_frequency_weights(freqs[d], names) for d in DEFINITIONS}
    for c, name in enumerate(names):
        rows.append({
            "class": name,
            "pixels": int(stats.pixel_counts[c]),
            "images": int(stats.image_counts[c]),
            "freq_pixel": float(freqs["pixel"][c]),
            "freq_image": float(freqs["image"][c]),
            "weight_pixel": float(weights["pixel"][c]),
            "weight_image": float(weights["image"][c]),
        })
    return rows


def with_sample_weights(dataset, class_weights, ignore_index: int = IGNORE_INDEX):
    """Add a per-pixel weight map to every ``(images, masks)`` batch of a ``tf.data`` dataset.

    Keras's ``fit(class_weight=...)`` does not work for dense targets (keras issue #14126); a
    third element ``sample_weight`` of shape (B, H, W) does. Each pixel gets the weight of its
    true class, ignored pixels 0. Use it with a loss that honours ``sample_weight``, e.g.
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)``.
    """
    import tensorflow as tf  # only here: tf.data needs it, the rest of the module does not

    table = np.zeros(256, np.float32)
    weights = np.asarray(class_weights, np.float32)
    if weights.ndim != 1 or weights.size >= 256 or (weights < 0).any():
        raise ValueError("class_weights must be a 1-D array of up to 255 values >= 0")
    table[: weights.size] = weights
    table[ignore_index] = 0.0
    lookup = tf.constant(table)

    def add(images, masks):
        ids = tf.clip_by_value(tf.cast(masks, tf.int32), 0, 255)
        return images, masks, tf.gather(lookup, ids)

    return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE)
