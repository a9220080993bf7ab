"""Exercises of notebook 02: label validation."""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX, class_pixel_counts
from segutils.exercises.core import Case, Mistake, exact_arrays, exercise
from segutils.validate import class_presence, fix_binary_mask

# --- 02.1: repair a 0/255 mask ------------------------------------------------------------


def _always_divide(mask):
    return np.asarray(mask) // 255


def _nonzero_is_one(mask):
    return (np.asarray(mask) > 0).astype(np.uint8)


def _replace_255_everywhere(mask):
    mask = np.asarray(mask)
    return np.where(mask == 255, 1, mask)


def _values_within_0_and_255(mask):
    mask = np.asarray(mask)
    return mask // 255 if set(np.unique(mask).tolist()) <= {0, 255} else mask.copy()


@exercise(
    "02.1",
    "Turn a 0/255 binary mask into class IDs 0/1, leaving every other mask unchanged",
    reference=fix_binary_mask,
    compare=exact_arrays,
    hint=(
        "First decide whether the mask is a 0/255 mask: its distinct values "
        "(np.unique(mask)) are exactly [0, 255]. Only then map 255 to 1; otherwise return the "
        "mask as it is."
    ),
    mistakes=[
        Mistake(_values_within_0_and_255, "You accepted any mask whose values lie within "
                "{0, 255}. A mask that is 255 everywhere has no 0: it is not a 0/255 object mask "
                "but an entirely unlabelled one, and must stay 255. Require both values."),
        Mistake(_always_divide, "You divided every mask by 255. In a mask that also holds other "
                "IDs, 255 means 'ignore' and class 1 must stay 1: check the values first."),
        Mistake(_nonzero_is_one, "You turned every non-zero value into 1. That breaks masks with "
                "more than two classes and real ignore regions: change only 0/255 masks."),
        Mistake(_replace_255_everywhere, "You replaced 255 by 1 in every mask. When the mask also "
                "holds other IDs, its 255 pixels are a real ignore region: leave them."),
    ],
)
def _cases_02_1() -> list[Case]:
    rng = np.random.default_rng(201)
    blob = np.zeros((6, 8), np.uint8)
    blob[2:5, 3:7] = 255
    labelled = rng.integers(0, 4, (5, 5)).astype(np.uint8)
    labelled[0, :] = IGNORE_INDEX  # a real ignore region
    return [
        Case("a 6x8 mask with a 0/255 object", (blob,)),
        Case("a random 10x12 0/255 mask", ((rng.random((10, 12)) < 0.3).astype(np.uint8) * 255,)),
        Case("a 5x5 mask with classes 0..3 and an ignored row (unchanged)", (labelled,)),
        Case("edge case: an all-background mask (unchanged)", (np.zeros((3, 4), np.uint8),)),
        Case("edge case: a mask that is 255 everywhere, i.e. all unlabelled (unchanged)",
             (np.full((3, 4), IGNORE_INDEX, np.uint8),)),
    ]


# --- 02.2: in how many images does each class appear? -----------------------------------


def _pixel_counts(masks, n_classes):
    return class_pixel_counts(masks, n_classes)


def _share_of_images(masks, n_classes):
    return class_presence(masks, n_classes) / max(len(masks), 1)


def _unique_over_all(masks, n_classes):
    ids = np.unique(np.concatenate([np.asarray(m).ravel() for m in masks]))
    return np.isin(np.arange(n_classes), ids).astype(np.int64)


@exercise(
    "02.2",
    "Count, for each class, the number of masks in which it appears",
    reference=class_presence,
    compare=exact_arrays,
    hint=(
        "Loop over the masks; for each, find the classes it contains (np.unique, leaving out 255 "
        "and any ID >= n_classes) and add 1 to their counters. Return n_classes integers."
    ),
    mistakes=[
        Mistake(_pixel_counts, "These are pixel counts. Count each class at most once per mask: "
                "the question is in how many masks it appears."),
        Mistake(_share_of_images, "You divided by the number of masks. Return the counts, not "
                "the shares."),
        Mistake(_unique_over_all, "You checked whether each class appears anywhere (0 or 1). "
                "Count the masks one by one."),
    ],
)
def _cases_02_2() -> list[Case]:
    rng = np.random.default_rng(202)
    a = np.array([[0, 0, 1], [1, 1, 1]], np.uint8)
    b = np.array([[2, 2, 0], [0, 255, 255]], np.uint8)
    many = [rng.integers(0, 5, (8, 8)).astype(np.uint8) for _ in range(6)]
    many[2][many[2] == 4] = 0  # class 4 missing from some masks, so counts differ
    many[4][many[4] == 4] = 1
    return [
        Case("two hand-made 2x3 masks, 3 classes", ([a, b], 3)),
        Case("six random 8x8 masks, 5 classes", (many, 5)),
        Case("masks of different sizes with ignored pixels, 4 classes",
             ([np.full((2, 5), 255, np.uint8), np.array([[3, 255, 0]], np.uint8), a], 4)),
        Case("edge case: class 2 never appears, 4 classes", ([a, a, a], 4)),
    ]
