"""Exercises 08.1-08.2: right answers pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segutils.config import import_quietly

import_quietly()

import segutils.exercises.nb08 as nb08  # noqa: E402  (registers 08.x until __init__ imports it)
from segutils.exercises import ExerciseFailed, check, get  # noqa: E402

# --- independent right answers --------------------------------------------------------------------


def cosine_by_cases(epoch, epochs, base_lr, warmup=0, floor=0.02):
    if epoch < warmup:
        return base_lr * (epoch + 1) / (warmup + 1)
    if epoch >= epochs:
        return base_lr * floor
    t = (epoch - warmup) / max(1, epochs - warmup)
    return base_lr * floor + base_lr * (1 - floor) * (math.cos(math.pi * t) + 1) / 2


def cosine_numpy(epoch, epochs, base_lr, warmup=0, floor=0.02):
    t = np.clip((epoch - warmup) / max(1, epochs - warmup), 0, 1)
    decay = floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * t))
    warm = (epoch + 1) / (warmup + 1)
    return float(base_lr * (warm if epoch < warmup else decay))


def stop_by_counting(val_scores, patience):
    best, since = -math.inf, 0
    for epoch, score in enumerate(val_scores, 1):
        if score > best:
            best, since = score, 0
        else:
            since += 1
            if since >= patience:
                return epoch
    return None


def stop_by_argmax(val_scores, patience):
    scores = list(val_scores)
    for end in range(1, len(scores) + 1):
        seen = scores[:end]
        first_best = int(np.argmax(seen))  # first occurrence: ties are not improvements
        if end - 1 - first_best >= patience and end > 1 and patience > 0:
            return end
    return None


@pytest.mark.parametrize("answer", [cosine_by_cases, cosine_numpy, nb08.cosine_rate])
def test_right_schedules_pass(answer, capsys):
    check("08.1", answer)
    assert "08.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [stop_by_counting, stop_by_argmax, nb08.early_stop_epoch])
def test_right_early_stopping_passes(answer, capsys):
    check("08.2", answer)
    assert "08.2 passed" in capsys.readouterr().out


def test_the_reference_is_keras_early_stopping():
    # Written out by hand: best 0.5 at epoch 2, epochs 3 and 4 do not beat it, patience 2.
    assert nb08.early_stop_epoch([0.3, 0.5, 0.4, 0.45, 0.42, 0.6], 2) == 4
    assert nb08.early_stop_epoch([0.1, 0.2, 0.3], 1) is None


@pytest.mark.parametrize("exercise_id", ["08.1", "08.2"])
def test_every_known_mistake_fails_with_its_hint(exercise_id):
    ex = get(exercise_id)
    for mistake in ex.mistakes:
        with pytest.raises(ExerciseFailed) as info:
            check(exercise_id, mistake.wrong)
        assert mistake.hint in str(info.value), mistake.wrong.__name__


def test_unsolved_and_broken_answers():
    def unsolved(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not solved yet"):
        check("08.1", unsolved)
    with pytest.raises(ExerciseFailed, match="None"):
        check("08.2", lambda scores, patience: 0)  # 0 is not None
    with pytest.raises(ExerciseFailed):
        check("08.1", lambda epoch, epochs, base_lr, warmup=0, floor=0.02: base_lr)
