"""Exercises of notebook 07: class frequencies, median-frequency weights, a weighted loss."""

from __future__ import annotations

import warnings

import numpy as np

from segutils.balancing import class_statistics, median_frequency_weights
from segutils.data.classes import IGNORE_INDEX
from segutils.exercises.core import Case, Mistake, close_arrays, exercise


def _close_or_both_non_finite(atol: float):
    """``close_arrays``, except that NaN or inf matches NaN or inf at the same place.

    The references never return NaN or inf; the loosening only lets a mistaken solution that
    gives NaN be recognised when the learner's answer gives NaN (or inf) too.
    """
    close = close_arrays(atol)

    def compare(expected, got):
        try:
            e = np.asarray(expected, np.float64)
            g = np.asarray(got, np.float64)
        except (TypeError, ValueError):
            return close(expected, got)
        if e.shape == g.shape and (~np.isfinite(e)).any():
            bad_e, bad_g = ~np.isfinite(e), ~np.isfinite(g)
            if (bad_e == bad_g).all():
                return close(np.where(bad_e, 0.0, e), np.where(bad_g, 0.0, g))
        problem = close(expected, got)
        if problem and e.shape == g.shape and not np.isfinite(g).all():
            problem += "\n  (NaN or inf: an overflow in np.exp, or a division 0/0?)"
        return problem

    return compare

# --- 07.1: Eigen & Fergus frequencies ------------------------------------------------------------


def image_frequencies(masks, n_classes):
    """Reference: pixels of c / labelled pixels of the images that contain c (0 if absent)."""
    return class_statistics(masks, n_classes).frequencies("image")


def _labelled(mask):
    mask = np.asarray(mask)
    return mask[mask != IGNORE_INDEX].astype(np.int64)


def _pixel_definition(masks, n_classes):
    counts = sum(np.bincount(_labelled(m), minlength=n_classes)[:n_classes] for m in masks)
    return counts / counts.sum()


def _ignored_in_totals(masks, n_classes):
    counts = np.zeros(n_classes)
    totals = np.zeros(n_classes)
    for m in masks:
        c = np.bincount(_labelled(m), minlength=n_classes)[:n_classes]
        counts += c
        totals[c > 0] += np.asarray(m).size  # counts the 255 pixels as well
    return np.divide(counts, totals, out=np.zeros(n_classes), where=totals > 0)


def _per_image_mean(masks, n_classes):
    """The mean over images of each image's share: pools nothing, so a small image weighs as
    much as a large one."""
    shares = [[] for _ in range(n_classes)]
    for m in masks:
        c = np.bincount(_labelled(m), minlength=n_classes)[:n_classes]
        for k in np.flatnonzero(c):
            shares[k].append(c[k] / c.sum())
    return np.array([np.mean(s) if s else 0.0 for s in shares])


def _nan_for_absent(masks, n_classes):
    counts = np.zeros(n_classes)
    totals = np.zeros(n_classes)
    for m in masks:
        c = np.bincount(_labelled(m), minlength=n_classes)[:n_classes]
        counts += c
        totals[c > 0] += c.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / totals


@exercise(
    "07.1",
    "Compute the class frequencies of Eigen and Fergus",
    reference=image_frequencies,
    compare=_close_or_both_non_finite(1e-9),
    hint=(
        "freq(c) = (pixels of class c over all masks) / (labelled pixels of the masks in which "
        "class c appears at least once). Pixels equal to 255 count nowhere. A class that never "
        "appears gets 0."
    ),
    mistakes=[
        Mistake(_pixel_definition, "That is the other definition (the share of all pixels). "
                "Divide by the labelled pixels of only those masks in which class c appears."),
        Mistake(_ignored_in_totals, "Ignored pixels (255) must not count in the totals either: "
                "add only the labelled pixels of each mask."),
        Mistake(_per_image_mean, "Pool the pixels first, then divide once: sum the counts and "
                "the totals over the masks, instead of averaging each mask's share."),
        Mistake(_nan_for_absent, "A class that never appears has 0/0 = NaN here; return 0 "
                "for it (np.divide(..., where=totals > 0) or a test on the total)."),
    ],
)
def _cases_07_1() -> list[Case]:
    a = np.array([[0, 0, 1], [1, 255, 0]], np.uint8)
    b = np.array([[2, 2, 2], [2, 0, 255]], np.uint8)
    c = np.array([[0, 0, 0, 0]], np.uint8)
    rng = np.random.default_rng(7)
    sizes = [rng.choice([0, 1, 2, 255], p=[0.5, 0.3, 0.1, 0.1], size=s).astype(np.uint8)
             for s in ((4, 6), (9, 3), (2, 2))]
    rare = [np.zeros((8, 8), np.uint8) for _ in range(3)]
    rare[1][2:6, 2:6] = 1  # class 1 covers a quarter of one image only
    only_ignored = [np.full((3, 3), 255, np.uint8), np.array([[0, 1], [1, 1]], np.uint8)]
    return [
        Case("three hand-made masks, class 3 never appears", ([a, b, c], 4)),
        Case("three random masks of different sizes with ignored pixels", (sizes, 3)),
        Case("a class that is large in the one image it appears in", (rare, 2)),
        Case("edge case: a mask whose pixels are all ignored", (only_ignored, 2)),
    ]


# --- 07.2: median-frequency weights --------------------------------------------------------------


def median_weights(frequencies):
    """Reference, without the warning the library gives for absent classes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return median_frequency_weights(frequencies)


def _median_with_zeros(frequencies):
    f = np.asarray(frequencies, np.float64)
    return np.divide(np.median(f), f, out=np.zeros_like(f), where=f > 0)


def _inverted(frequencies):
    f = np.asarray(frequencies, np.float64)
    return f / np.median(f[f > 0])


def _infinite_for_absent(frequencies):
    f = np.asarray(frequencies, np.float64)
    with np.errstate(divide="ignore"):
        return np.median(f[f > 0]) / f


def _lower_middle(frequencies):
    f = np.asarray(frequencies, np.float64)
    present = np.sort(f[f > 0])
    return np.divide(present[len(present) // 2], f, out=np.zeros_like(f), where=f > 0)


def _mean_not_median(frequencies):
    f = np.asarray(frequencies, np.float64)
    return np.divide(f[f > 0].mean(), f, out=np.zeros_like(f), where=f > 0)


@exercise(
    "07.2",
    "Turn class frequencies into median-frequency weights",
    reference=median_weights,
    compare=_close_or_both_non_finite(1e-9),
    hint=(
        "w_c = median(freq) / freq(c), the median taken over the classes whose frequency is "
        "above 0 (np.median, which averages the two middle values for an even count). A class "
        "with frequency 0 gets weight 0."
    ),
    mistakes=[
        Mistake(_median_with_zeros, "Take the median over the classes that occur only: the "
                "zeros of absent classes drag the median down."),
        Mistake(_inverted, "Upside down: rare classes must get large weights, "
                "w_c = median / freq(c)."),
        Mistake(_infinite_for_absent, "A class that never occurs gets an infinite weight here; "
                "give it 0 (an infinite weight would turn the loss into inf or NaN)."),
        Mistake(_lower_middle, "With an even number of classes the median is the mean of the "
                "two middle values (np.median does it for you)."),
        Mistake(_mean_not_median, "Use the median, not the mean: one huge class pulls the "
                "mean up, the median stays in the middle."),
    ],
)
def _cases_07_2() -> list[Case]:
    four = 1 / np.array([0.80, 0.18, 1.33, 2.28])
    return [
        Case("five classes (odd count)", (np.array([0.40, 0.25, 0.20, 0.10, 0.05]),)),
        Case("four classes (even count: the median lies between two)", (four / four.sum(),)),
        Case("a class that never occurs", (np.array([0.5, 0.0, 0.3, 0.2]),)),
        Case("frequencies of the image definition (no need to sum to 1)",
             (np.array([0.9, 0.6, 0.35, 0.3, 0.02, 0.2]),)),
        Case("edge case: a single class", (np.array([1.0]),)),
    ]


# --- 07.3: weighted cross-entropy with an ignore label ------------------------------------------


def weighted_cross_entropy(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    """Reference: segutils.losses.WeightedCrossEntropy (imports Keras on first use)."""
    from segutils.losses import WeightedCrossEntropy

    loss = WeightedCrossEntropy(class_weights, ignore_index)
    return float(loss(np.asarray(labels), np.asarray(logits, np.float32)))


def _parts(logits, labels, class_weights, ignore_index, stable=True):
    z = np.asarray(logits, np.float64)
    if stable:
        z = z - z.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    labels = np.asarray(labels)
    valid = labels != ignore_index
    y = np.where(valid, labels, 0)
    nll = -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    w = np.asarray(class_weights, np.float64)[y] * valid
    return nll, w, valid


def _divide_by_count(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    nll, w, valid = _parts(logits, labels, class_weights, ignore_index)
    return (w * nll).sum() / max(valid.sum(), 1)


def _divide_by_all_pixels(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    nll, w, valid = _parts(logits, labels, class_weights, ignore_index)
    return (w * nll).sum() / valid.size


def _unweighted(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    nll, _, valid = _parts(logits, labels, class_weights, ignore_index)
    return (nll * valid).sum() / max(valid.sum(), 1)


def _unstable(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    nll, w, _ = _parts(logits, labels, class_weights, ignore_index, stable=False)
    with np.errstate(invalid="ignore"):
        return (w * nll).sum() / w.sum()


def _ignored_as_class_0(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    labels = np.where(np.asarray(labels) == ignore_index, 0, labels)
    nll, w, _ = _parts(logits, labels, class_weights, ignore_index=-1)
    return (w * nll).sum() / w.sum()


def _nan_when_empty(logits, labels, class_weights, ignore_index=IGNORE_INDEX):
    nll, w, _ = _parts(logits, labels, class_weights, ignore_index)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * nll).sum() / w.sum()


@exercise(
    "07.3",
    "Write the weighted cross-entropy with an ignore label in NumPy",
    reference=weighted_cross_entropy,
    compare=_close_or_both_non_finite(1e-4),
    hint=(
        "log p = z - log(sum exp z) with z = logits minus their maximum over the class axis; "
        "for every pixel with label != ignore_index take -log p[label] times "
        "class_weights[label]; return the sum divided by the sum of those weights "
        "(0 when there are no valid pixels)."
    ),
    mistakes=[
        Mistake(_ignored_as_class_0, "The ignored pixels were counted as class 0: they added "
                "their loss and class 0's weight. Leave every pixel whose label is ignore_index "
                "out of both sums (a mask labels != ignore_index does it)."),
        Mistake(_divide_by_count, "Divide by the sum of the weights of the valid pixels, not "
                "by their number: otherwise the loss grows with the overall size of the weights."),
        Mistake(_divide_by_all_pixels, "Ignored pixels must not count in the denominator; "
                "divide by the sum of the weights of the valid pixels."),
        Mistake(_unweighted, "Multiply each pixel's loss by the weight of its true class, "
                "class_weights[label], and divide by the sum of those weights."),
        Mistake(_unstable, "Large logits overflow np.exp: subtract the maximum logit of each "
                "pixel before exponentiating (it cancels out of the softmax)."),
        Mistake(_nan_when_empty, "When every pixel is ignored the weights sum to 0: return 0 "
                "instead of 0/0 = NaN (a NaN loss would ruin the model's weights)."),
    ],
)
def _cases_07_3() -> list[Case]:
    rng = np.random.default_rng(70)
    logits = rng.normal(size=(2, 3, 4, 3)) * 2
    labels = rng.integers(0, 3, size=(2, 3, 4))
    labels[0, 0] = 255
    weights = [0.5, 1.0, 4.0]
    big = logits.copy()
    big[1, 2, 3] = [800.0, -5.0, 790.0]  # exp(800) overflows without the max trick
    return [
        Case("2 images of 3x4 pixels, 3 classes, one ignored row", (logits, labels, weights)),
        Case("the same with weights 10x larger (only ratios matter)",
             (logits, labels, [5.0, 10.0, 40.0])),
        Case("one pixel with logits of several hundreds", (big, labels, weights)),
        Case("ignore label 0 instead of 255", (logits, labels % 3, [1.0, 2.0, 3.0]),
             {"ignore_index": 0}),
        Case("edge case: every pixel ignored", (logits, np.full((2, 3, 4), 255), weights)),
    ]
