"""Exercises of notebook 08: a learning-rate schedule and the early-stopping rule."""

from __future__ import annotations

import math

import numpy as np

from segutils.exercises.core import Case, Mistake, close_arrays, exercise

# --- 08.1: cosine schedule with warm-up ----------------------------------------------------------


def cosine_rate(epoch, epochs, base_lr, warmup=0, floor=0.02):
    """Reference: the schedule segutils.train.fit uses (``CosineSchedule.rate``)."""
    from segutils.train.callbacks import CosineSchedule

    return CosineSchedule(base_lr, epochs, warmup, floor).rate(epoch)


def _cosine(epoch, epochs, base_lr, warmup, floor, *, clamp=True, span_from_zero=False,
            warm=lambda e, w: (e + 1) / (w + 1)):
    if epoch < warmup:
        return base_lr * warm(epoch, warmup)
    span = max(1, epochs if span_from_zero else epochs - warmup)
    t = (epoch - warmup) / span
    t = min(1.0, t) if clamp else t
    return base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def _no_floor(epoch, epochs, base_lr, warmup=0, floor=0.02):
    return _cosine(epoch, epochs, base_lr, warmup, 0.0)


def _floor_added(epoch, epochs, base_lr, warmup=0, floor=0.02):
    return _cosine(epoch, epochs, base_lr, warmup, 0.0) + floor * base_lr


def _not_clamped(epoch, epochs, base_lr, warmup=0, floor=0.02):
    return _cosine(epoch, epochs, base_lr, warmup, floor, clamp=False)


def _span_from_zero(epoch, epochs, base_lr, warmup=0, floor=0.02):
    return _cosine(epoch, epochs, base_lr, warmup, floor, span_from_zero=True)


def _warmup_from_zero(epoch, epochs, base_lr, warmup=0, floor=0.02):
    return _cosine(epoch, epochs, base_lr, warmup, floor, warm=lambda e, w: e / w)


@exercise(
    "08.1",
    "Write the cosine learning-rate schedule with warm-up",
    reference=cosine_rate,
    compare=close_arrays(1e-12),
    hint=(
        "For epoch < warmup: base_lr * (epoch + 1) / (warmup + 1). Afterwards "
        "t = min(1, (epoch - warmup) / (epochs - warmup)) and the rate is "
        "base_lr * (floor + (1 - floor) * (1 + cos(pi * t)) / 2)."
    ),
    mistakes=[
        Mistake(_no_floor, "The rate should end at floor * base_lr, not at 0: mix the cosine "
                "with the floor as floor + (1 - floor) * (1 + cos(pi t)) / 2."),
        Mistake(_floor_added, "Adding the floor on top starts above base_lr: scale the cosine "
                "part by (1 - floor) so that epoch `warmup` gives exactly base_lr."),
        Mistake(_not_clamped, "After the last epoch the cosine rises again: clamp t to 1 "
                "(training may be extended past the planned epochs)."),
        Mistake(_span_from_zero, "The decay spans the epochs after the warm-up: divide by "
                "(epochs - warmup), not by epochs."),
        Mistake(_warmup_from_zero, "Warm-up epoch 0 would get rate 0 (a wasted epoch): use "
                "(epoch + 1) / (warmup + 1)."),
    ],
)
def _cases_08_1() -> list[Case]:
    return [
        Case("first epoch, no warm-up", (0, 10, 1e-3)),
        Case("half way", (5, 10, 1e-3)),
        Case("last planned epoch", (9, 10, 0.1)),
        Case("after the planned epochs (extended run)", (14, 10, 0.1)),
        Case("warm-up epoch 0 of 2", (0, 10, 0.01), {"warmup": 2}),
        Case("first epoch after a warm-up of 2", (2, 10, 0.01), {"warmup": 2}),
        Case("late epoch with warm-up, floor 0.1", (7, 12, 0.5), {"warmup": 3, "floor": 0.1}),
        Case("one epoch only (edge case)", (0, 1, 1e-3)),
    ]


# --- 08.2: when early stopping stops -------------------------------------------------------------


class _Trainer:
    """The two attributes EarlyStopping touches on a model."""

    stop_training = False


def early_stop_epoch(val_scores, patience):
    """Reference: Keras' own ``EarlyStopping`` (mode "max") fed the scores one epoch at a time.

    Returns the 1-based epoch after which training stops, or None when it runs to the end.
    """
    import keras

    stopper = keras.callbacks.EarlyStopping(monitor="val_mean_iou", mode="max",
                                            patience=int(patience))
    trainer = _Trainer()
    stopper.set_model(trainer)
    stopper.on_train_begin()
    for epoch, score in enumerate(val_scores):
        stopper.on_epoch_end(epoch, {"val_mean_iou": float(score)})
        if trainer.stop_training:
            return epoch + 1
    return None


def _rule(val_scores, patience, *, previous=False, ties=False, strict_wait=False):
    best, wait, last = None, 0, None
    for epoch, score in enumerate(val_scores, 1):
        wait += 1
        reference = last if previous else best
        better = reference is None or (score >= reference if ties else score > reference)
        last = score
        if better:
            best, wait = score, 0
            continue
        if (wait > patience if strict_wait else wait >= patience) and epoch > 1:
            return epoch
    return None


def _off_by_one(val_scores, patience):
    return _rule(val_scores, patience, strict_wait=True)


def _ties_count(val_scores, patience):
    return _rule(val_scores, patience, ties=True)


def _versus_previous(val_scores, patience):
    return _rule(val_scores, patience, previous=True)


def _same_epoch(expected, got):
    if expected is None or got is None:
        if expected is None and got is None:
            return None
        return f"Expected {expected}, got {got}."
    if isinstance(got, float | np.floating) and not float(got).is_integer():
        return f"Expected the epoch number {expected}, got {got}."
    return None if int(got) == int(expected) else f"Expected epoch {expected}, got {got}."


@exercise(
    "08.2",
    "Find the epoch after which early stopping ends training",
    reference=early_stop_epoch,
    compare=_same_epoch,
    hint=(
        "Keep the best score so far and a counter of epochs since it improved. A score strictly "
        "above the best resets the counter; otherwise training stops as soon as the counter "
        "reaches `patience`. Epochs are numbered from 1; return None if training never stops."
    ),
    mistakes=[
        Mistake(_off_by_one, "You wait one epoch too long: stop when the number of epochs "
                "without improvement *reaches* patience."),
        Mistake(_ties_count, "A score equal to the best is not an improvement: only a strictly "
                "higher score resets the counter."),
        Mistake(_versus_previous, "Compare with the best score so far, not with the previous "
                "epoch: a small rise after a drop is not a new best."),
    ],
)
def _cases_08_2() -> list[Case]:
    return [
        Case("always improving", ([0.1, 0.2, 0.3, 0.4, 0.5], 2)),
        Case("peak at epoch 2, patience 2", ([0.3, 0.5, 0.4, 0.45, 0.42, 0.6], 2)),
        Case("ties with the best", ([0.3, 0.5, 0.5, 0.5, 0.5, 0.5], 2)),
        Case("a rise that is not a new best", ([0.6, 0.3, 0.4, 0.5, 0.55, 0.58], 4)),
        Case("patience longer than the run", ([0.5, 0.4, 0.3], 5)),
        Case("patience 1", ([0.2, 0.1, 0.3], 1)),
        Case("a single epoch (edge case)", ([0.4], 1)),
    ]
