"""Exercises of notebook 10: what half resolution costs thin classes, and scoring a model that
ran at a smaller size against the labels at their own size."""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX
from segutils.exercises.core import Case, Mistake, close_arrays, exercise
from segutils.metrics import confusion_matrix, scores

# --- 10.1: the share of a class that a nearest-neighbour round trip loses -------------------


def _round_trip(mask, factor):
    """Keep every factor-th pixel from (0, 0), repeat each factor x factor times, crop back."""
    mask = np.asarray(mask)
    small = mask[::factor, ::factor]
    back = np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)
    return back[: mask.shape[0], : mask.shape[1]]


def lost_share(mask, class_id, factor):
    """Reference: the share of ``class_id``'s pixels that no longer carry it after the round
    trip (NaN when the class is absent)."""
    mask = np.asarray(mask)
    where = mask == class_id
    if not where.any():
        return float("nan")
    return float((where & (_round_trip(mask, factor) != class_id)).sum() / where.sum())


def _share_of_all_pixels(mask, class_id, factor):
    mask = np.asarray(mask)
    where = mask == class_id
    return float((where & (_round_trip(mask, factor) != class_id)).sum() / mask.size)


def _share_kept(mask, class_id, factor):
    return 1.0 - lost_share(mask, class_id, factor)


def _pole_scene(width=2):
    """A 12x16 street: sky above road, a pole of ``width`` px at column 5, a sign on it."""
    mask = np.zeros((12, 16), np.uint8)  # 0 sky
    mask[7:] = 3  # road
    mask[2:10, 5:5 + width] = 2  # pole
    mask[2:4, 4:8] = 6  # sign
    return mask


def _close_or_both_nan(expected, got):
    if isinstance(expected, float) and np.isnan(expected):
        try:
            if np.isnan(float(got)):
                return None
        except (TypeError, ValueError):
            pass
        return f"expected NaN (the class does not occur: there is nothing to lose), got {got!r}."
    return close_arrays(1e-9)(expected, got)


@exercise(
    "10.1", "Write lost_share(mask, class_id, factor): the share of a class's pixels that a "
    "nearest-neighbour shrink by factor and enlarge back no longer label as that class",
    reference=lost_share, compare=_close_or_both_nan,
    hint="Shrink with mask[::factor, ::factor], enlarge with np.repeat along both axes and crop "
         "to the original size; then count the pixels that were class_id and are not any more, "
         "and divide by the number of pixels that were class_id. Return NaN for an absent class.",
    mistakes=[
        Mistake(_share_of_all_pixels, "You divided by all pixels of the mask. The question is "
                "what share of *this class* is lost: divide by the class's own pixel count."),
        Mistake(_share_kept, "You returned the share that survives; the task asks for the share "
                "that is lost (1 minus yours)."),
    ],
)
def _cases_10_1():
    rng = np.random.default_rng(10)
    noisy = rng.integers(0, 4, (9, 14)).astype(np.uint8)
    return [
        Case("a 1-pixel-wide pole, halved", (_pole_scene(1), 2, 2)),
        Case("a 2-pixel-wide pole, halved", (_pole_scene(2), 2, 2)),
        Case("the road of the same street, halved", (_pole_scene(2), 3, 2)),
        Case("a random 9x14 mask (odd size), factor 3", (noisy, 1, 3)),
        Case("a class that does not occur (answer NaN)", (_pole_scene(2), 9, 2)),
    ]


# --- 10.2: mean IoU at the label's size -----------------------------------------------------


def _bilinear(logits, size):
    from keras import ops

    out = ops.image.resize(np.asarray(logits, np.float32)[None], size, interpolation="bilinear",
                           antialias=False)
    return np.asarray(ops.convert_to_numpy(out))[0]


def iou_at_label_size(logits, mask):
    """Reference: resize the (h, w, C) logits bilinearly to the mask's (H, W), take the argmax
    and return the mean IoU of that prediction against the mask (255 ignored)."""
    mask = np.asarray(mask)
    n_classes = np.asarray(logits).shape[-1]
    prediction = np.argmax(_bilinear(logits, mask.shape), axis=-1)
    return float(scores(confusion_matrix(mask, prediction, n_classes, IGNORE_INDEX))["mean_iou"])


def _mask_shrunk_instead(logits, mask):
    mask = np.asarray(mask)
    h, w = np.asarray(logits).shape[:2]
    rows = (np.arange(h) * mask.shape[0] // h)
    cols = (np.arange(w) * mask.shape[1] // w)
    small = mask[rows][:, cols]
    prediction = np.argmax(logits, axis=-1)
    return float(scores(confusion_matrix(small, prediction, np.asarray(logits).shape[-1]))
                 ["mean_iou"])


def _argmax_then_nearest(logits, mask):
    mask = np.asarray(mask)
    labels = np.argmax(logits, axis=-1)
    h, w = labels.shape
    rows = np.arange(mask.shape[0]) * h // mask.shape[0]
    cols = np.arange(mask.shape[1]) * w // mask.shape[1]
    prediction = labels[rows][:, cols]
    return float(scores(confusion_matrix(mask, prediction, np.asarray(logits).shape[-1]))
                 ["mean_iou"])


def _ignore_counted(logits, mask):
    mask = np.asarray(mask).copy()
    mask[mask == IGNORE_INDEX] = 0
    return iou_at_label_size(logits, mask)


def _scalar(expected, got):
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"expected a number, got {type(got).__name__}."
    if abs(value - expected) <= 1e-5:
        return None
    return f"expected {expected:.4f}, got {value:.4f}."


def _logits_for(mask, size, seed, noise=1.5):
    """Logits at ``size`` of a model that mostly agrees with ``mask`` (C = max ID + 1)."""
    rng = np.random.default_rng(seed)
    labelled = np.where(mask == IGNORE_INDEX, 0, mask)
    n = int(labelled.max()) + 1
    onehot = np.eye(n, dtype=np.float32)[labelled] * 3.0
    small = _bilinear(onehot, size)
    return small + rng.normal(0, noise, small.shape).astype(np.float32)


@exercise(
    "10.2", "Write iou_at_label_size(logits, mask): enlarge (h, w, C) logits bilinearly to the "
    "mask's size, take the argmax, and return the mean IoU against the mask (255 ignored)",
    reference=iou_at_label_size, compare=_scalar,
    hint="keras.ops.image.resize(logits[None], mask.shape, interpolation='bilinear') enlarges "
         "the scores; np.argmax(..., axis=-1) then gives labels at the mask's size; "
         "segutils.metrics.confusion_matrix(mask, prediction, C) leaves out 255, and "
         "scores(cm)['mean_iou'] is the mean IoU.",
    mistakes=[
        Mistake(_mask_shrunk_instead, "You shrank the mask to the logits' size. The labels are "
                "the ground truth at their own resolution: enlarge the logits to them instead."),
        Mistake(_argmax_then_nearest, "You took the argmax first and enlarged the labels with "
                "nearest neighbour, which gives blocky edges. Enlarge the logits (scores), then "
                "take the argmax."),
        Mistake(_ignore_counted, "You counted the ignored pixels (255) as class 0. Leave them "
                "out: confusion_matrix does so when you give it the mask as it is."),
    ],
)
def _cases_10_2():
    street = np.zeros((24, 32), np.int64)
    street[12:] = 2  # road below sky
    street[6:18, 10:13] = 1  # a pole
    with_void = street.copy()
    with_void[-3:] = IGNORE_INDEX
    with_void[:2, :5] = IGNORE_INDEX
    return [
        Case("a 24x32 street scored from 12x16 logits", (_logits_for(street, (12, 16), 1),
                                                        street)),
        Case("the same street with unlabelled (255) pixels", (_logits_for(with_void, (12, 16), 2),
                                                             with_void)),
        Case("odd sizes: 25x33 labels from 9x11 logits",
             (_logits_for(np.pad(street, ((0, 1), (0, 1)), mode="edge"), (9, 11), 3),
              np.pad(street, ((0, 1), (0, 1)), mode="edge"))),
    ]
