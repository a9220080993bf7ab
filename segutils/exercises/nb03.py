"""Exercises of notebook 03: joint augmentation of images and masks."""

from __future__ import annotations

import numpy as np

from segutils.augment.core import crop_pair
from segutils.data.classes import IGNORE_INDEX
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


# --- 03.2: a crop window that reaches past the border ---------------------------------------


def padded_crop(image, mask, top, left, height, width, ignore_index=IGNORE_INDEX):
    """Reference: the window may leave the image; outside it the image is 0, the mask 255."""
    image, mask = np.asarray(image), np.asarray(mask)
    out_image = np.zeros((height, width) + image.shape[2:], image.dtype)
    out_mask = np.full((height, width), ignore_index, mask.dtype)
    # the part of the window inside the image, in image and in window coordinates
    r0, r1 = max(top, 0), min(top + height, mask.shape[0])
    c0, c1 = max(left, 0), min(left + width, mask.shape[1])
    if r0 < r1 and c0 < c1:
        out_image[r0 - top:r1 - top, c0 - left:c1 - left] = image[r0:r1, c0:c1]
        out_mask[r0 - top:r1 - top, c0 - left:c1 - left] = mask[r0:r1, c0:c1]
    return out_image, out_mask


def _inside(mask, top, left, height, width):
    """1 where the window lies inside the image, 0 outside."""
    ones = np.ones_like(mask)
    return padded_crop(ones, ones, top, left, height, width)[0]


def _outside_as_background(image, mask, top, left, height, width):
    out_image, out_mask = padded_crop(image, mask, top, left, height, width)
    inside = _inside(mask, top, left, height, width)
    return out_image, np.where(inside == 1, out_mask, 0).astype(out_mask.dtype)


def _clipped(image, mask, top, left, height, width):
    rows = slice(max(top, 0), max(top + height, 0))
    cols = slice(max(left, 0), max(left + width, 0))
    return np.asarray(image)[rows, cols], np.asarray(mask)[rows, cols]


def _image_padded_with_255(image, mask, top, left, height, width):
    out_image, out_mask = padded_crop(image, mask, top, left, height, width)
    inside = _inside(mask, top, left, height, width)
    if out_image.ndim == 3:
        inside = inside[..., None]
    return np.where(inside == 1, out_image, 255).astype(out_image.dtype), out_mask


def _negative_index_wraps(image, mask, top, left, height, width):
    image, mask = np.asarray(image), np.asarray(mask)
    rows = np.arange(top, top + height) % mask.shape[0]
    cols = np.arange(left, left + width) % mask.shape[1]
    return image[np.ix_(rows, cols)], mask[np.ix_(rows, cols)]


@exercise(
    "03.2",
    "Crop a window that may reach past the image's border: outside the image, image 0 and "
    "mask 255",
    reference=padded_crop,
    compare=_pair_problem,
    hint=(
        "Make the outputs first: np.zeros((height, width, ...)) for the image and np.full(..., "
        "255) for the mask. Then work out the rows and columns the window shares with the image "
        "(max of the starts, min of the ends) and copy that part, shifted by (top, left), into "
        "both outputs."
    ),
    mistakes=[
        Mistake(_outside_as_background, "The pixels outside the image became class 0 in the "
                "mask. Nothing was seen there: they must be 255 (ignore), or the model learns "
                "that black borders are road or sky."),
        Mistake(_clipped, "You returned only the part inside the image: the window must keep "
                "its size (height, width), so batches keep one shape. Fill the rest."),
        Mistake(_image_padded_with_255, "The image was padded with 255 (white). The mask's 255 "
                "means 'ignore'; the image's padding is plain black, 0."),
        Mistake(_negative_index_wraps, "The window wrapped around: a negative index counts from "
                "the other side of the array, so pixels from the opposite border came in. Copy "
                "only the rows and columns that really are inside the image."),
    ],
)
def _cases_03_2() -> list[Case]:
    rng = np.random.default_rng(302)
    image = rng.integers(1, 256, (5, 6, 3)).astype(np.uint8)
    mask = np.arange(30, dtype=np.uint8).reshape(5, 6)  # every pixel its own ID: shows any shift
    gray = rng.integers(1, 256, (8, 7)).astype(np.uint8)
    labels = rng.integers(0, 4, (8, 7)).astype(np.uint8)
    return [
        Case("a 4x4 window hanging 2 rows below and 1 column right of a 5x6 pair",
             (image, mask, 3, 3, 4, 4)),
        Case("a 3x5 window starting above and left of the image (top -2, left -3)",
             (image, mask, -2, -3, 3, 5)),
        Case("a 10x9 window larger than the 8x7 grey image on every side",
             (gray, labels, -1, -1, 10, 9)),
        Case("edge case: a window inside the image (nothing to pad)", (image, mask, 1, 1, 3, 4)),
        Case("edge case: a window entirely outside the image", (image, mask, 6, -5, 2, 2)),
    ]
