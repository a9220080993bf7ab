"""Exercises of notebook 03: joint augmentation of images and masks."""

from __future__ import annotations

import numpy as np

from segutils.augment.core import crop_pair, decode_mask
from segutils.exercises.core import Case, Mistake, exact_arrays, exercise

# segutils.augment.core loads imgaug only when an augmenter is built, so importing these
# exercises stays quick.


def _pair_problem(expected, got) -> str | None:
    """Both parts of an (image, mask) pair, exactly."""
    if not isinstance(got, tuple | list) or len(got) != 2:
        return (f"Expected a pair (image, mask), got {type(got).__name__}"
                + ("" if got is not None else ": a missing `return`?") + ".")
    for name, e, g in zip(("image", "mask"), expected, got, strict=True):
        problem = exact_arrays(e, g)
        if problem:
            return f"The {name}: {problem}"
    return None


# --- 03.1: crop image and mask together ------------------------------------------------------


def _image_only(image, mask, top, left, height, width):
    return crop_pair(image, mask, top, left, height, width)[0], mask


def _x_and_y_swapped(image, mask, top, left, height, width):
    return (image[left:left + width, top:top + height], mask[left:left + width, top:top + height])


def _height_and_width_swapped(image, mask, top, left, height, width):
    return crop_pair(image, mask, top, left, width, height)


def _one_short(image, mask, top, left, height, width):
    return crop_pair(image, mask, top, left, height - 1, width - 1)


@exercise(
    "03.1",
    "Crop an image and its mask with the same window",
    reference=crop_pair,
    compare=_pair_problem,
    hint=(
        "Arrays are indexed [row, column]: rows top .. top + height - 1, columns "
        "left .. left + width - 1, i.e. image[top:top + height, left:left + width]. Cut the "
        "mask with exactly the same slices and return (image, mask)."
    ),
    mistakes=[
        Mistake(_image_only, "You cropped the image but returned the mask as it was: a "
                "geometric change must be applied to the mask too, with the same window."),
        Mistake(_x_and_y_swapped, "Rows and columns are swapped: the first index of an array "
                "is the row (y, counted from `top`), the second the column (x, from `left`)."),
        Mistake(_height_and_width_swapped, "Height and width are swapped: height counts rows "
                "(the first index), width counts columns."),
        Mistake(_one_short, "One row and one column short: a slice a:b stops before b, so "
                "image[top:top + height] already holds `height` rows."),
    ],
)
def _cases_03_1() -> list[Case]:
    rng = np.random.default_rng(301)
    image = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    mask = np.arange(48, dtype=np.uint8).reshape(6, 8)  # every pixel its own ID: shows any shift
    big_image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    big_mask = rng.integers(0, 5, (20, 30)).astype(np.uint8)
    big_mask[:4] = 255
    return [
        Case("a 3x5 window of a 6x8 pair", (image, mask, 1, 2, 3, 5)),
        Case("a 12x7 window of a 20x30 pair with ignored rows", (big_image, big_mask, 2, 20,
                                                                   12, 7)),
        Case("the bottom-right 2x2 corner", (image, mask, 4, 6, 2, 2)),
        Case("edge case: the whole 6x8 pair", (image, mask, 0, 0, 6, 8)),
    ]


# --- 03.2: pixels added by a warp become 'ignore' ---------------------------------------------


def _added_as_background(warped):
    warped = np.asarray(warped)
    return np.where(warped == 0, 0, warped - 1)


def _not_shifted_back(warped):
    warped = np.asarray(warped)
    return np.where(warped == 0, 255, warped)


def _minus_one_only(warped):
    return np.asarray(warped).astype(np.int64) - 1


@exercise(
    "03.2",
    "Turn a warped, shifted mask back into class IDs with 255 for added pixels",
    reference=decode_mask,
    compare=exact_arrays,
    hint=(
        "Before the warp every class c was stored as c + 1, so a 0 in the warped array can "
        "only be a pixel the warp added. Map 0 to 255 and every other value v to v - 1: "
        "np.where(warped == 0, 255, warped - 1)."
    ),
    mistakes=[
        Mistake(_added_as_background, "Added pixels became class 0. Nothing was seen there, so "
                "they must be 255 (ignore); as class 0 they would teach the model that black "
                "corners are background."),
        Mistake(_not_shifted_back, "The classes are still shifted by one: subtract 1 from every "
                "value that is not 0."),
        Mistake(_minus_one_only, "0 - 1 = -1 is not a label: the added pixels (0) must become "
                "255."),
    ],
)
def _cases_03_2() -> list[Case]:
    rng = np.random.default_rng(302)
    hand = np.array([[0, 1, 1, 2], [0, 3, 3, 2], [0, 0, 4, 4]], np.int32)
    rotated = rng.integers(1, 8, (10, 12)).astype(np.int32)
    rotated[:3, :3] = 0  # a corner uncovered by a rotation
    rotated[-2:, -4:] = 0
    with_ignore = rng.integers(1, 4, (6, 6)).astype(np.int32)
    with_ignore[2, :] = 256  # pixels that were ignored (255) before the warp
    with_ignore[:, 0] = 0
    return [
        Case("a hand-made 3x4 warped mask", (hand,)),
        Case("a 10x12 mask with two uncovered corners", (rotated,)),
        Case("a 6x6 mask whose ignored row (stored as 256) must stay 255", (with_ignore,)),
        Case("edge case: nothing was added", (np.array([[1, 2], [3, 1]], np.int32),)),
        Case("edge case: everything was added", (np.zeros((2, 3), np.int32),)),
    ]
