"""Segmentation losses: NumPy references, the ignore label, finite gradients, save and reload."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.config import import_quietly

keras = import_quietly()

from segutils import losses  # noqa: E402
from segutils.evaluate.anatomy import value_and_grad as value_and_gradient  # noqa: E402

C = 4
WEIGHTS = [0.5, 2.0, 1.0, 3.0]


def random_case(seed=0, shape=(2, 5, 6), ignore_fraction=0.2, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=(*shape, C)) * scale).astype(np.float32)
    labels = rng.integers(0, C, size=shape)
    labels[rng.random(shape) < ignore_fraction] = 255
    return logits, labels


# --- independent NumPy references (float64, written from the formulas) --------------------------


def np_log_softmax(logits):
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_cross_entropy(logits, labels, class_weights=None, gamma=0.0, sample_weight=None):
    log_p = np_log_softmax(logits)
    total = weight_sum = 0.0
    for idx in np.ndindex(labels.shape):
        y = labels[idx]
        if y == 255:
            continue
        w = 1.0 if class_weights is None else class_weights[y]
        if sample_weight is not None:
            w *= sample_weight[idx]
        lp = log_p[idx][y]
        total += -w * (1 - np.exp(lp)) ** gamma * lp
        weight_sum += w
    return total / weight_sum if weight_sum else 0.0


def np_dice(logits, labels, class_weights=None, smooth=1.0):
    p = np.exp(np_log_softmax(logits))
    valid = labels != 255
    dice = []
    for c in range(C):
        g = (labels == c) & valid
        inter = (p[..., c] * g)[valid].sum()
        total = p[..., c][valid].sum() + g.sum()
        dice.append((2 * inter + smooth) / (total + smooth))
    cw = np.ones(C) if class_weights is None else np.asarray(class_weights)
    return 1 - (cw * np.array(dice)).sum() / cw.sum()


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_cross_entropy_matches_numpy(seed):
    logits, labels = random_case(seed)
    got = float(losses.WeightedCrossEntropy(WEIGHTS)(labels, logits))
    assert got == pytest.approx(np_cross_entropy(logits, labels, WEIGHTS), rel=1e-5)
    got = float(losses.WeightedCrossEntropy()(labels, logits))
    assert got == pytest.approx(np_cross_entropy(logits, labels), rel=1e-5)


def test_unweighted_equals_keras_with_ignore_class():
    logits, labels = random_case(3)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    assert float(losses.WeightedCrossEntropy()(labels, logits)) == pytest.approx(
        float(keras_loss(labels, logits)), rel=1e-5)


def test_probabilities_instead_of_logits():
    logits, labels = random_case(4, scale=1.0)
    probs = np.exp(np_log_softmax(logits)).astype(np.float32)
    loss = losses.WeightedCrossEntropy(WEIGHTS, from_logits=False)
    assert float(loss(labels, probs)) == pytest.approx(np_cross_entropy(logits, labels, WEIGHTS),
                                                       rel=1e-4)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_matches_numpy_and_reduces_to_cross_entropy(gamma):
    logits, labels = random_case(5)
    got = float(losses.FocalLoss(gamma, WEIGHTS)(labels, logits))
    assert got == pytest.approx(np_cross_entropy(logits, labels, WEIGHTS, gamma), rel=1e-5)
    if gamma == 0:
        assert got == pytest.approx(float(losses.WeightedCrossEntropy(WEIGHTS)(labels, logits)))


@pytest.mark.parametrize("class_weights", [None, WEIGHTS])
def test_dice_matches_numpy(class_weights):
    logits, labels = random_case(6)
    got = float(losses.DiceLoss(class_weights)(labels, logits))
    assert got == pytest.approx(np_dice(logits, labels, class_weights), rel=1e-5)


def test_dice_of_a_confident_right_answer_is_near_zero():
    _, labels = random_case(7, ignore_fraction=0.3)
    logits = np.where(np.eye(C)[np.where(labels == 255, 0, labels)] > 0, 20.0, -20.0)
    assert float(losses.DiceLoss()(labels, logits.astype(np.float32))) < 1e-6


def test_combined_loss_is_the_weighted_sum():
    logits, labels = random_case(8)
    ce, dice = losses.WeightedCrossEntropy(WEIGHTS), losses.DiceLoss()
    both = losses.CombinedLoss([ce, dice], [1.0, 0.5])
    expected = float(ce(labels, logits)) + 0.5 * float(dice(labels, logits))
    assert float(both(labels, logits)) == pytest.approx(expected, rel=1e-6)


def test_sample_weight_maps_are_the_other_route_to_the_same_loss():
    logits, labels = random_case(9)
    weight_map = losses.sample_weight_map(labels, WEIGHTS)
    expected = np.vectorize({0: 0.5, 1: 2.0, 2: 1.0, 3: 3.0, 255: 0.0}.get)(labels)
    np.testing.assert_allclose(np.asarray(weight_map), expected)
    via_map = losses.WeightedCrossEntropy()(labels, logits, sample_weight=weight_map)
    via_class = losses.WeightedCrossEntropy(WEIGHTS)(labels, logits)
    assert float(via_map) == pytest.approx(float(via_class), rel=1e-6)


def test_sample_weight_multiplies_class_weights_per_pixel_and_per_image():
    logits, labels = random_case(10)
    per_pixel = np.random.default_rng(0).uniform(0.1, 2, labels.shape).astype(np.float32)
    got = float(losses.WeightedCrossEntropy(WEIGHTS)(labels, logits, sample_weight=per_pixel))
    assert got == pytest.approx(np_cross_entropy(logits, labels, WEIGHTS, 0.0, per_pixel),
                                rel=1e-5)
    per_image = np.array([1.0, 3.0], np.float32)
    got = float(losses.WeightedCrossEntropy()(labels, logits, sample_weight=per_image))
    broadcast = np.broadcast_to(per_image[:, None, None], labels.shape)
    assert got == pytest.approx(np_cross_entropy(logits, labels, None, 0.0, broadcast), rel=1e-5)


def test_float16_logits_and_channel_axis_masks():
    logits, labels = random_case(11)
    loss = losses.WeightedCrossEntropy(WEIGHTS)
    assert float(loss(labels[..., None], logits.astype(np.float16))) == pytest.approx(
        np_cross_entropy(logits, labels, WEIGHTS), rel=2e-3)


def test_bad_arguments_are_clear_errors():
    logits, labels = random_case(12)
    with pytest.raises(ValueError, match="one weight per class"):
        losses.WeightedCrossEntropy([1.0, 2.0])(labels, logits)
    with pytest.raises(ValueError, match="finite values >= 0"):
        losses.WeightedCrossEntropy([1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="gamma"):
        losses.FocalLoss(-1.0)
    with pytest.raises(ValueError, match="smooth"):
        losses.DiceLoss(smooth=0.0)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 100.0))
def test_only_the_ratios_of_the_class_weights_matter(seed, scale):
    logits, labels = random_case(seed, shape=(1, 3, 4), ignore_fraction=0.3)
    a = float(losses.WeightedCrossEntropy(WEIGHTS)(labels, logits))
    b = float(losses.WeightedCrossEntropy(np.array(WEIGHTS) * scale)(labels, logits))
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


# --- the all-ignore batch -----------------------------------------------------------------------

ALL_LOSSES = {
    "cross_entropy": lambda: losses.WeightedCrossEntropy(WEIGHTS),
    "focal": lambda: losses.FocalLoss(0.5, WEIGHTS),
    "dice": lambda: losses.DiceLoss(WEIGHTS),
    "combined": lambda: losses.CombinedLoss(
        [losses.WeightedCrossEntropy(WEIGHTS), losses.DiceLoss()], [1.0, 1.0]),
}


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_all_ignored_batch_gives_zero_and_finite_gradients(name):
    logits, _ = random_case(13)
    labels = np.full(logits.shape[:-1], 255)
    value, grad = value_and_gradient(lambda x: ALL_LOSSES[name]()(labels, x), logits)
    assert value == 0.0
    assert np.isfinite(grad).all() and not grad.any()


def test_classes_with_weight_zero_only_give_zero_not_nan():
    logits, labels = random_case(14, ignore_fraction=0.0)
    labels[:] = 1
    value, grad = value_and_gradient(
        lambda x: losses.WeightedCrossEntropy([1.0, 0.0, 1.0, 1.0])(labels, x), logits)
    assert value == 0.0 and np.isfinite(grad).all()


def test_training_on_an_all_ignored_batch_changes_nothing():
    model = tiny_model()
    model.compile(keras.optimizers.Adam(1e-2), losses.WeightedCrossEntropy(WEIGHTS))
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype(np.float32)
    loss = model.train_on_batch(x, np.full((2, 4, 4), 255))
    assert loss == 0.0
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# --- saving -------------------------------------------------------------------------------------


def tiny_model():
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(C, 1, name="logits")(inputs))


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_compiled_model_saves_and_reloads_without_custom_objects(name, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((4, 6, 6, 3)).astype(np.float32)
    _, y = random_case(15, shape=(4, 6, 6))
    model = tiny_model()
    loss = ALL_LOSSES[name]()
    model.compile(keras.optimizers.Adam(1e-2), loss)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded.loss) is type(loss)
    assert reloaded.loss.get_config() == loss.get_config()
    before = model.evaluate(x, y, batch_size=4, verbose=0)
    assert reloaded.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx(before, rel=1e-6)
    reloaded.fit(x, y, epochs=1, batch_size=4, verbose=0)  # training goes on after reloading


def test_configs_round_trip():
    for make in ALL_LOSSES.values():
        loss = make()
        config = keras.saving.serialize_keras_object(loss)
        again = keras.saving.deserialize_keras_object(config)
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    focal = losses.FocalLoss(1.5, None, 7, name="f")
    assert losses.FocalLoss.from_config(focal.get_config()).get_config() == focal.get_config()


@pytest.mark.slow
def test_reloads_in_a_fresh_process(tmp_path):
    """A fresh Python that only imports segutils.losses loads the model and its loss."""
    model = tiny_model()
    model.compile("adam", ALL_LOSSES["combined"]())
    model.save(tmp_path / "m.keras")
    code = (
        "from segutils.config import import_quietly; keras = import_quietly()\n"
        "import segutils.losses\n"
        f"m = keras.models.load_model({str(tmp_path / 'm.keras')!r})\n"
        "print(type(m.loss).__name__, [type(p).__name__ for p in m.loss.losses])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "CombinedLoss ['WeightedCrossEntropy', 'DiceLoss']"
