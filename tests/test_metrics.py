"""Metrics against the FCN paper's definitions, written out independently with loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.metrics import confusion_matrix, scores


def reference_scores(y_true, y_pred, n):
    pairs = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t != 255]
    n_ij = [[sum(1 for t, p in pairs if t == i and p == j) for j in range(n)] for i in range(n)]
    t = [sum(row) for row in n_ij]
    col = [sum(n_ij[j][i] for j in range(n)) for i in range(n)]
    ious, accs, fw = [], [], 0.0
    for i in range(n):
        union = t[i] + col[i] - n_ij[i][i]
        if union:
            ious.append(n_ij[i][i] / union)
            fw += t[i] * n_ij[i][i] / union
        if t[i]:
            accs.append(n_ij[i][i] / t[i])
    total = sum(t)
    return {
        "pixel_accuracy": sum(n_ij[i][i] for i in range(n)) / total,
        "mean_accuracy": sum(accs) / len(accs),
        "mean_iou": sum(ious) / len(ious),
        "freq_weighted_iou": fw / total,
    }


def test_hand_example():
    # truth: 3 road (0), 1 car (1), 1 ignored; prediction gets one road pixel wrong.
    y_true = [0, 0, 0, 1, 255]
    y_pred = [0, 0, 1, 1, 0]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 0], [0, 0, 0]]
    s = scores(cm)
    assert math.isclose(s["pixel_accuracy"], 3 / 4)
    assert math.isclose(s["mean_iou"], (2 / 3 + 1 / 2) / 2)  # class 2 absent: left out
    assert np.isnan(s["per_class_iou"][2])


@settings(max_examples=60)
@given(st.integers(2, 5).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.sampled_from(list(range(n)) + [255]), st.integers(0, n - 1)),
             min_size=1, max_size=60))))
def test_against_loop_definitions(case):
    n, pairs = case
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    if all(t == 255 for t in y_true):
        return
    got = scores(confusion_matrix(np.array(y_true), np.array(y_pred), n))
    ref = reference_scores(y_true, y_pred, n)
    for key, value in ref.items():
        assert math.isclose(got[key], value, rel_tol=1e-12), key


def test_batches_add_up_to_the_dataset_matrix():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, (6, 8, 8))
    p = rng.integers(0, 4, (6, 8, 8))
    whole = confusion_matrix(t, p, 4)
    parts = sum(confusion_matrix(t[i], p[i], 4) for i in range(6))
    assert np.array_equal(whole, parts)


def test_any_prediction_on_ignored_pixels_is_fine_and_dtypes_agree():
    y_true = np.array([[0, 255, 1], [255, 2, 2]], np.int32)
    y_pred = np.array([[0, 900, 1], [-3, 2, 0]], np.int64)  # nonsense only where ignored
    expected = [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert confusion_matrix(y_true, y_pred, 3).tolist() == expected
    clean = np.where(y_pred < 0, 0, y_pred) % 3
    assert confusion_matrix(y_true.astype(np.uint8), clean.astype(np.uint8), 3).tolist() == \
        expected
    assert confusion_matrix(y_true.astype(np.float32), clean, 3).tolist() == expected


def test_many_classes_use_wide_codes():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 300, 5000), rng.integers(0, 300, 5000)
    cm = confusion_matrix(t, p, 300, ignore_index=-1)
    assert cm.sum() == 5000 and cm[t[0], p[0]] >= 1
    assert cm[7, 9] == int(((t == 7) & (p == 9)).sum())


def test_out_of_range_truth_is_an_error():
    with pytest.raises(ValueError, match="y_true holds IDs outside 0..2.*\\[7\\]"):
        confusion_matrix([0, 7, 255], [0, 1, 1], 3)


def test_out_of_range_prediction_is_an_error():
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1], [0, 5], 3)


# --- per-class values, absent classes, properties ---------------------------------------------


def reference_per_class(y_true, y_pred, n):
    """IoU, recall and precision of each class from the loops; None where undefined."""
    pairs = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t != 255]
    out = []
    for c in range(n):
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        out.append((tp / (tp + fn + fp) if tp + fn + fp else None,
                    tp / (tp + fn) if tp + fn else None,
                    tp / (tp + fp) if tp + fp else None))
    return out


def assert_matches(value, expected):
    if expected is None:
        assert np.isnan(value)
    else:
        assert math.isclose(value, expected, rel_tol=1e-12)


@settings(max_examples=60)
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.sampled_from(list(range(n)) + [255]), st.integers(0, n - 1)),
             min_size=1, max_size=80))))
def test_per_class_values_against_loops(case):
    n, pairs = case
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    s = scores(confusion_matrix(y_true, y_pred, n))
    for c, (iou, recall, precision) in enumerate(reference_per_class(y_true, y_pred, n)):
        assert_matches(s["per_class_iou"][c], iou)
        assert_matches(s["per_class_recall"][c], recall)
        assert_matches(s["per_class_accuracy"][c], recall)
        assert_matches(s["per_class_precision"][c], precision)


def test_absent_classes_hand_made():
    # 4 classes. Class 2 is never in the truth but predicted once (a real mistake: IoU 0);
    # class 3 is in neither (undefined: NaN, left out of every mean). One pixel ignored.
    y_true = np.array([[0, 0, 1], [1, 0, 255]])
    y_pred = np.array([[0, 2, 1], [1, 0, 3]])
    s = scores(confusion_matrix(y_true, y_pred, 4))
    assert s["per_class_iou"][:3].tolist() == [2 / 3, 1.0, 0.0]
    assert np.isnan(s["per_class_iou"][3])
    assert math.isclose(s["mean_iou"], (2 / 3 + 1 + 0) / 3)
    assert math.isclose(s["mean_accuracy"], (2 / 3 + 1) / 2)  # classes 2, 3 have no truth
    assert math.isclose(s["pixel_accuracy"], 4 / 5)
    assert math.isclose(s["freq_weighted_iou"], (3 * 2 / 3 + 2 * 1.0) / 5)
    assert s["per_class_precision"][2] == 0.0 and np.isnan(s["per_class_recall"][2])


def test_all_ignored_gives_nan_not_an_error():
    s = scores(confusion_matrix([255, 255], [0, 1], 2))
    assert np.isnan(s["pixel_accuracy"]) and np.isnan(s["mean_iou"])


def masks(n_max=5, side=6):
    return st.integers(2, n_max).flatmap(lambda n: st.tuples(
        st.just(n),
        st.lists(st.sampled_from(list(range(n)) + [255]), min_size=side * side,
                 max_size=side * side),
        st.lists(st.integers(0, n - 1), min_size=side * side, max_size=side * side)))


@settings(max_examples=50)
@given(masks())
def test_perfect_prediction_scores_one(case):
    n, truth, _ = case
    truth = np.array(truth)
    pred = np.where(truth == 255, 0, truth)
    if (truth == 255).all():
        return
    s = scores(confusion_matrix(truth, pred, n))
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "freq_weighted_iou"):
        assert s[key] == 1.0, key


@settings(max_examples=50, deadline=None)  # its first example compiles: timing varies
@given(masks(), st.randoms(use_true_random=False))
def test_renaming_classes_consistently_changes_nothing(case, rnd):
    n, truth, pred = case
    truth, pred = np.array(truth), np.array(pred)
    if (truth == 255).all():
        return
    perm = list(range(n))
    rnd.shuffle(perm)
    table = np.array(perm + [0] * (256 - n))
    table[255] = 255
    a = scores(confusion_matrix(truth, pred, n))
    b = scores(confusion_matrix(table[truth], table[pred], n))
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "freq_weighted_iou"):
        assert math.isclose(a[key], b[key], rel_tol=1e-12), key
    np.testing.assert_allclose(b["per_class_iou"][perm], a["per_class_iou"])


@settings(max_examples=30)
@given(masks(side=8), st.integers(1, 7))
def test_streaming_over_batches_equals_at_once(case, cut):
    n, truth, pred = case
    truth, pred = np.array(truth).reshape(8, 8), np.array(pred).reshape(8, 8)
    parts = confusion_matrix(truth[:cut], pred[:cut], n) + confusion_matrix(
        truth[cut:], pred[cut:], n)
    assert np.array_equal(parts, confusion_matrix(truth, pred, n))


# --- the streaming Keras metric ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    from segutils.config import import_quietly

    return import_quietly()


def one_hot_logits(ids, n, rng):
    """Logits whose argmax is ``ids``, with noise so they are not trivially one-hot."""
    logits = rng.normal(size=(*ids.shape, n)).astype(np.float32)
    np.put_along_axis(logits, ids[..., None], 10.0, axis=-1)
    return logits


def random_batches(seed=0, n=5, shape=(4, 9, 7)):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n, shape).astype(np.uint8)
    truth[:, :, :2][truth[:, :, :2] == 1] = 255  # ignore pixels
    truth[truth == 3] = 2  # class 3 never in the truth...
    pred = rng.integers(0, n, shape)
    pred[pred == 3] = 0  # ...nor predicted: absent, NaN, left out
    return truth, pred, one_hot_logits(pred, n, rng)


def test_mean_iou_streams_to_the_dataset_matrix(keras):
    from segutils.metrics import MeanIoU

    truth, pred, logits = random_batches()
    metric = MeanIoU(5)
    for i in range(len(truth)):  # one image at a time
        metric.update_state(truth[i : i + 1], logits[i : i + 1])
    whole = confusion_matrix(truth, pred, 5)
    assert np.array_equal(metric.confusion_matrix(), whole)
    expected = scores(whole)
    assert np.isnan(expected["per_class_iou"][3])
    assert math.isclose(float(metric.result()), expected["mean_iou"], rel_tol=1e-6)
    ref = reference_scores(truth.ravel().tolist(), pred.ravel().tolist(), 5)
    assert math.isclose(float(metric.result()), ref["mean_iou"], rel_tol=1e-6)
    np.testing.assert_allclose(metric.scores()["per_class_iou"], expected["per_class_iou"])
    metric.reset_state()
    assert metric.confusion_matrix().sum() == 0 and float(metric.result()) == 0.0


def test_mean_iou_input_forms(keras):
    from segutils.metrics import ClassIoU, MeanIoU

    truth, pred, logits = random_batches(seed=1)
    whole = confusion_matrix(truth, pred, 5)
    for y_true, y_pred in ((truth[..., None], logits), (truth, pred),
                           (truth, keras.ops.softmax(logits))):
        metric = MeanIoU(5)
        metric.update_state(y_true, y_pred)
        assert np.array_equal(metric.confusion_matrix(), whole)
    # sample_weight is a mask: zero-weight pixels and images are left out, others count once
    weights = np.ones(truth.shape, np.float32) * 3.5
    weights[0] = 0.0
    metric = MeanIoU(5)
    metric.update_state(truth, logits, sample_weight=weights)
    assert np.array_equal(metric.confusion_matrix(), confusion_matrix(truth[1:], pred[1:], 5))
    metric = MeanIoU(5)
    metric.update_state(truth, logits, sample_weight=np.array([0.0, 1.0, 2.0, 1.0]))
    assert np.array_equal(metric.confusion_matrix(), confusion_matrix(truth[1:], pred[1:], 5))
    one = ClassIoU(5, 2)
    one.update_state(truth, logits)
    assert one.name == "iou_2"
    assert math.isclose(float(one.result()), scores(whole)["per_class_iou"][2], rel_tol=1e-6)


def test_mean_iou_config_round_trip(keras):
    from segutils.metrics import ClassIoU, MeanIoU

    metric = MeanIoU(7, ignore_index=0, name="miou")
    clone = MeanIoU.from_config(metric.get_config())
    assert (clone.n_classes, clone.ignore_index, clone.name) == (7, 0, "miou")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(ClassIoU(4, 3, name="iou_car")))
    assert isinstance(restored, ClassIoU) and restored.class_id == 3
    with pytest.raises(ValueError, match="class_id"):
        ClassIoU(4, 4)


def test_mean_iou_in_compile_fit_evaluate_and_reload(keras, tmp_path):
    from segutils.metrics import ClassIoU, MeanIoU

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.random((12, 8, 8, 3)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)  # learnable from the colour alone
    masks[:, 0, :] = 255
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 1, name="logits")])
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                 ignore_class=255),
                  metrics=[MeanIoU(3), ClassIoU(3, 1, name="iou_one")])
    history = model.fit(images, masks, batch_size=4, epochs=3, verbose=0)
    assert {"mean_iou", "iou_one"} <= set(history.history)
    results = model.evaluate(images, masks, batch_size=5, verbose=0, return_dict=True)
    pred = np.argmax(model.predict(images, verbose=0), -1)
    expected = scores(confusion_matrix(masks, pred, 3))
    assert math.isclose(results["mean_iou"], expected["mean_iou"], rel_tol=1e-5)
    assert math.isclose(results["iou_one"], expected["per_class_iou"][1], rel_tol=1e-5)

    path = tmp_path / "tiny.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    again = reloaded.evaluate(images, masks, batch_size=5, verbose=0, return_dict=True)
    assert math.isclose(again["mean_iou"], results["mean_iou"], rel_tol=1e-6)
