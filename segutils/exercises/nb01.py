"""Exercises of notebook 01: masks and classes."""

from __future__ import annotations

import numpy as np

from segutils.data.classes import (
    IGNORE_INDEX,
    class_frequencies,
    class_pixel_counts,
    colors_to_ids,
)
from segutils.exercises.core import Case, Mistake, close_arrays, exact_arrays, exercise

# --- notebook 01: masks and classes ----------------------------------------------------------

# The first colours of the PASCAL VOC palette: several share a red value, so an answer that looks
# at one channel only cannot pass.
_VOC7 = [
    (0, 0, 0),
    (128, 0, 0),
    (0, 128, 0),
    (128, 128, 0),
    (0, 0, 128),
    (128, 0, 128),
    (0, 128, 128),
]


def _paint(ids: np.ndarray, colors) -> np.ndarray:
    return np.asarray(colors, np.uint8)[np.asarray(ids)]


def _first_channel(rgb, colors):
    return np.asarray(rgb)[..., 0]


def _red_only(rgb, colors):
    rgb = np.asarray(rgb)
    ids = np.zeros(rgb.shape[:2], np.uint8)
    for i, c in reversed(list(enumerate(colors))):  # the first colour with this red wins
        ids[rgb[..., 0] == c[0]] = i
    return ids


def _unique_colour_order(rgb, colors):
    flat = np.asarray(rgb).reshape(-1, 3)
    return np.unique(flat, axis=0, return_inverse=True)[1].reshape(np.asarray(rgb).shape[:2])


@exercise(
    "01.1",
    "Convert a colour-coded mask to class IDs",
    reference=colors_to_ids,
    compare=exact_arrays,
    hint=(
        "Pixel (r, g, b) gets ID i when it equals colors[i] in all three channels; "
        "np.all(rgb_mask == color, axis=-1) marks the pixels of one colour. "
        "Return an (H, W) array with one ID per pixel."
    ),
    mistakes=[
        Mistake(
            _first_channel,
            "You returned the red channel. A class is a colour: compare all "
            "three channels with colors[i] and write i where they match.",
        ),
        Mistake(
            _red_only,
            "Only the red channel was compared, but classes can share a red "
            "value (black (0, 0, 0) and green (0, 255, 0) both have red 0). Compare all "
            "three channels.",
        ),
        Mistake(
            lambda rgb, colors: colors_to_ids(rgb, colors).astype(np.int64) + 1,
            "Your IDs are one too high: colors[0] is ID 0.",
        ),
        Mistake(
            _unique_colour_order,
            "The IDs number the colours found in the mask (as np.unique "
            "sorts them). The ID is the colour's position in `colors`, whether or not every colour "
            "occurs.",
        ),
    ],
)
def _cases_01_1() -> list[Case]:
    rng = np.random.default_rng(101)
    three = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]
    hand = np.array([[0, 0, 1, 1], [0, 2, 2, 1], [2, 2, 0, 0]])
    return [
        Case("a hand-made 3x4 mask with 3 colours", (_paint(hand, three), three)),
        Case(
            "a random 16x16 mask over 7 VOC colours",
            (_paint(rng.integers(0, 7, (16, 16)), _VOC7), _VOC7),
        ),
        Case("a non-square 5x9 mask", (_paint(rng.integers(0, 7, (5, 9)), _VOC7), _VOC7)),
        Case(
            "edge case: a 1x1 mask whose only colour is the last one, other colours absent",
            (_paint(np.array([[6]]), _VOC7), _VOC7),
        ),
    ]


def _with_ignore_in_total(masks, n_classes):
    counts = np.zeros(n_classes)
    total = 0
    for m in masks:
        m = np.asarray(m)
        counts += np.bincount(m[m != IGNORE_INDEX].ravel(), minlength=n_classes)[:n_classes]
        total += m.size
    return counts / total


def _mean_of_images(masks, n_classes):
    return np.mean([class_frequencies([m], n_classes) for m in masks], axis=0)


@exercise(
    "01.2",
    "Compute each class's share of the labelled pixels",
    reference=class_frequencies,
    compare=close_arrays(1e-6),
    hint=(
        "Count the pixels of each class over all masks together (np.bincount with "
        "minlength=n_classes), leave out pixels equal to 255, then divide by the number of "
        "labelled pixels. The result has n_classes entries and sums to 1."
    ),
    mistakes=[
        Mistake(
            _with_ignore_in_total,
            "Ignored pixels (255) are counted in the denominator. "
            "Divide by the number of labelled pixels only, so the shares sum to 1.",
        ),
        Mistake(
            _mean_of_images,
            "You averaged per-image shares. Pool the pixels of all masks "
            "first, then divide once: a small image must weigh less than a large one.",
        ),
        Mistake(
            class_pixel_counts,
            "These are pixel counts; divide them by the number of labelled pixels.",
        ),
    ],
)
def _cases_01_2() -> list[Case]:
    rng = np.random.default_rng(102)
    a = np.array([[0, 0, 1], [1, 1, 2]], np.uint8)
    b = np.array([[2, 2, 2], [0, 1, 2]], np.uint8)
    with_ignore = rng.integers(0, 4, (2, 12, 12)).astype(np.uint8)
    with_ignore[0, :3] = IGNORE_INDEX  # 36 ignored pixels in one mask, 5 in the other
    with_ignore[1, 5, :5] = IGNORE_INDEX
    sizes = [rng.integers(0, 3, s).astype(np.uint8) for s in [(4, 4), (10, 7), (1, 3)]]
    sizes[1][sizes[1] == 1] = 0  # shares that differ between images, so pooling matters
    return [
        Case("two hand-made 2x3 masks, 3 classes", ([a, b], 3)),
        Case("two 12x12 masks with ignored pixels (255), 4 classes", (list(with_ignore), 4)),
        Case("three masks of different sizes, 3 classes", (sizes, 3)),
        Case(
            "edge case: classes 3 and 4 never occur, 5 classes",
            ([np.array([[0, 1], [2, IGNORE_INDEX]], np.uint8)], 5),
        ),
    ]
