"""segutils.evaluate: dataset-level report, plots, prediction at the original size, latency,
export, and the ``evaluate`` / ``predict`` commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from segutils.config import import_quietly

keras = import_quietly()
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from segutils import evaluate as E  # noqa: E402
from segutils.cli import main  # noqa: E402
from segutils.data.classes import ClassInfo  # noqa: E402
from segutils.data.io import read_mask, write_image, write_mask  # noqa: E402
from segutils.errors import DatasetError  # noqa: E402
from segutils.metrics import confusion_matrix, scores  # noqa: E402

N = 4
STEP = 30  # an image's red value is STEP * (the class the oracle model predicts)
CLASSES = ClassInfo(("sky", "road", "car", "tree"),
                    ((70, 130, 180), (128, 64, 128), (0, 0, 142), (107, 142, 35)))


@keras.saving.register_keras_serializable(package="segutils_tests")
class RedToClass(keras.layers.Layer):
    """An 'oracle' model: logits are 10 * one-hot of round(red * 255 / STEP)."""

    def call(self, x):
        ids = keras.ops.clip(keras.ops.round(x[..., 0] * 255.0 / STEP), 0, N - 1)
        return 10.0 * keras.ops.one_hot(keras.ops.cast(ids, "int32"), N)


def oracle(input_shape=(None, None, 3)):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, RedToClass(name="logits")(inputs), name="oracle")


def encode(pred_ids, rng):
    """Images that make the oracle predict ``pred_ids``."""
    image = rng.integers(0, 256, (*pred_ids.shape, 3)).astype(np.uint8)
    image[..., 0] = pred_ids * STEP
    return image


def random_set(seed=0, n=7, size=(10, 12)):
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, N, (n, *size)).astype(np.uint8)
    masks[:, 0, :3] = 255
    masks[masks == 3] = 1  # "tree" is never in the truth ...
    pred = np.where(rng.random(masks.shape) < 0.7, masks, rng.integers(0, N, masks.shape))
    pred = np.where(pred == 255, 0, pred)
    pred[pred == 3] = 2  # ... nor predicted: absent
    return encode(pred, rng), masks, pred


def reference_image_iou(mask, pred):
    ious = []
    for c in range(N):
        t, p = (mask == c), (pred == c) & (mask != 255)
        union = (t | p).sum()
        if union:
            ious.append((t & p).sum() / union)
    return sum(ious) / len(ious)


# --- evaluate and the report ------------------------------------------------------------------


def test_evaluate_scores_the_whole_set_at_once():
    images, masks, pred = random_set()
    report = E.evaluate(oracle(), (images, masks), CLASSES, batch_size=3, worst_k=3)
    assert np.array_equal(report.confusion, confusion_matrix(masks, pred, N))
    batches = [(images[i:i + 2], masks[i:i + 2, ..., None]) for i in range(0, 7, 2)]
    assert np.array_equal(E.evaluate(oracle(), batches, CLASSES).confusion, report.confusion)
    assert report.n_images == 7 and report.n_pixels == int((masks != 255).sum())
    assert math.isclose(report.mean_iou, scores(report.confusion)["mean_iou"])
    assert np.isnan(report.scores["per_class_iou"][3])  # absent class: left out
    # the mean of per-batch IoUs is a different (wrong) number
    per_batch = [scores(confusion_matrix(masks[i:i + 3], pred[i:i + 3], N))["mean_iou"]
                 for i in (0, 3, 6)]
    assert not math.isclose(np.mean(per_batch), report.mean_iou, rel_tol=1e-9)
    expected = [reference_image_iou(m, p) for m, p in zip(masks, pred, strict=True)]
    np.testing.assert_allclose(report.per_image_iou, expected)
    assert [c.index for c in report.worst] == list(np.argsort(expected, kind="stable")[:3])
    case = report.worst[0]
    assert np.array_equal(case.prediction, pred[case.index])
    assert np.array_equal(case.image, images[case.index])


def test_report_table_json_markdown(tmp_path):
    images, masks, _ = random_set(seed=1)
    report = E.evaluate(oracle(), (images, masks), CLASSES, meta={"split": "val"})
    table = report.table()
    assert "tree" in table and "mean IoU" in table and "3 of 4 classes present" in table
    tree_row = next(line for line in table.splitlines() if "tree" in line)
    assert tree_row.split()[2:5] == ["-", "-", "-"]
    json_path, md_path = report.save(tmp_path, "eval")
    doc = json.loads(json_path.read_text(),
                     parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))
    assert doc["per_class"][3]["iou"] is None and doc["split"] == "val"
    assert math.isclose(doc["mean_iou"], report.mean_iou)
    assert doc["confusion_matrix"] == report.confusion.tolist()
    markdown = md_path.read_text()
    assert "| 2 | car |" in markdown and "pixel accuracy" in markdown
    assert str(report) == table and "mean_iou=" in repr(report)


def test_evaluate_resizes_logits_to_the_mask_size_and_reads_tf_datasets():
    import tensorflow as tf

    images, masks, pred = random_set(seed=2, size=(16, 16))
    model = oracle((8, 8, 3))  # runs at 8x8: images shrink, logits grow back to 16x16
    ds = tf.data.Dataset.from_tensor_slices((images.astype(np.float32) / 255, masks)).batch(4)
    report = E.evaluate(model, ds, [*CLASSES.names])
    assert report.confusion.sum() == (masks != 255).sum()
    assert report.classes.names == CLASSES.names
    with pytest.raises(ValueError, match="4 classes but 2"):
        E.evaluate(model, ds, ["a", "b"])


def test_plots_draw_and_normalise():
    images, masks, _ = random_set(seed=3)
    report = E.evaluate(oracle(), (images, masks), CLASSES, worst_k=2)
    rows = E.normalise_confusion(report.confusion, "true")
    present = report.confusion.sum(1) > 0
    np.testing.assert_allclose(rows[present].sum(1), 1.0)
    assert (rows[~present] == 0).all()
    cols = E.normalise_confusion(report.confusion, "pred")
    np.testing.assert_allclose(np.diag(cols)[:3], report.scores["per_class_precision"][:3])
    for fig in (report.plot_confusion_matrix(), report.plot_per_class_iou(sort=True),
                report.plot_worst()):
        assert fig.axes
        plt.close(fig)
    assert len(report.plot_worst(k=1).axes) == 4
    plt.close("all")
    errors = E.error_map(np.array([[0, 1, 255]]), np.array([[0, 2, 1]]))
    assert errors[0].tolist() == [[200, 200, 200], [0, 255, 255], [0, 0, 0]]


def test_the_error_colour_is_no_class_colour_of_any_course_dataset():
    """A wrong pixel must not look like a class: far (RGB distance > 100) from every palette."""
    from segutils.data import label_tables, scenes

    tables = [scenes.CLASSES, label_tables.VOC_CLASSES, label_tables.CAMVID_CLASSES,
              label_tables.CITYSCAPES_CLASSES, label_tables.KITTI_ROAD_CLASSES]
    tables += [classes for classes, _ in label_tables.PET_VARIANTS.values()]
    colours = np.array([c for t in tables for c in t.colors], float)
    distance = np.sqrt(((colours - np.array(E.ERROR_COLOR)) ** 2).sum(axis=1))
    assert len(colours) > 40 and distance.min() > 100


# --- predict ----------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path):
    """Three images of odd sizes whose left half is class 2 and right half class 1."""
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (37, 53), "b": (20, 31), "c": (64, 9)}.items():
        ids = np.ones((h, w), np.int64)
        ids[:, : w // 2] = 2
        write_image(folder / f"{name}.png", encode(ids, rng))
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.mark.parametrize("input_shape", [(None, None, 3), (32, 32, 3)])
def test_predict_writes_masks_at_each_inputs_size(photos, tmp_path, input_shape):
    results = E.predict(oracle(input_shape), photos, tmp_path / "out", CLASSES)
    assert [r.source.name for r in results] == ["a.png", "b.png", "c.png"]
    for r in results:
        mask = read_mask(r.mask)
        h, w = {"a": (37, 53), "b": (20, 31), "c": (64, 9)}[r.source.stem]
        assert mask.shape == (h, w) == r.size
        assert set(np.unique(mask)) <= {1, 2}  # labels are never interpolated (no 1.5)
        assert (mask[:, 0] == 2).all() and (mask[:, -1] == 1).all()
        from PIL import Image

        with Image.open(r.overlay) as im:
            assert im.size == (w, h)
        with Image.open(r.mask) as im:  # palette PNG: viewers show the class colours
            assert im.mode == "P" and tuple(im.getpalette()[6:9]) == CLASSES.colors[2]


def test_predict_mask_at_own_size_is_the_argmax():
    rng = np.random.default_rng(4)
    image = rng.random((13, 17, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(N, 3,
                                                                                padding="same")])
    expected = np.argmax(np.asarray(model(image[None])), -1)[0]
    assert np.array_equal(E.predict_mask(model, image), expected)
    assert E.predict_logits(model, image[None], out_size=(26, 34)).shape == (1, 26, 34, N)


def test_find_images_errors_name_the_path(tmp_path, photos):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no images") as err:
        E.find_images(empty)
    assert err.value.path == empty
    with pytest.raises(DatasetError, match="no such file"):
        E.find_images([photos / "a.png", tmp_path / "missing.png"])
    with pytest.raises(DatasetError, match="not an image"):
        E.find_images(photos / "notes.txt")
    assert len(E.find_images([photos, photos / "a.png"])) == 4


# --- load_model, latency, export --------------------------------------------------------------


def test_load_model_errors(tmp_path):
    with pytest.raises(DatasetError, match="model file not found") as err:
        E.load_model(tmp_path / "nope.keras")
    assert "nope.keras" in str(err.value) and "How to fix" in str(err.value)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"x")
    with pytest.raises(DatasetError, match="not a .keras model file"):
        E.load_model(h5)
    with pytest.raises(DatasetError, match="folder without best.keras"):
        E.load_model(tmp_path)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="cannot be loaded"):
        E.load_model(broken)


def test_latency_reports_batch1_and_batched():
    model = oracle()
    result = E.latency(model, (16, 16), batch_size=4, warmup=1, repeats=3)
    assert result["input_shape"] == [16, 16, 3]
    assert result["ms_per_image"] > 0
    assert math.isclose(result["images_per_s_batch1"], 1000 / result["ms_per_image"])
    assert math.isclose(result["images_per_s"], 4000 / result["ms_per_batch"])
    one = E.latency(model, (16, 16, 3), warmup=0, repeats=1)
    assert one["images_per_s"] == one["images_per_s_batch1"]
    with pytest.raises(ValueError):
        E.latency(model, (16,))


def test_export_keras_and_savedmodel_give_the_same_outputs(tmp_path):
    import tensorflow as tf

    from segutils.models.unet import unet_mini

    keras.utils.set_random_seed(0)
    model = unet_mini(N, base_filters=4)
    paths = E.export(model, tmp_path, "mini")
    batch = np.random.default_rng(0).random((2, 20, 24, 3)).astype(np.float32)
    expected = np.asarray(model(batch, training=False))
    reloaded = E.load_model(paths["keras"])
    np.testing.assert_allclose(np.asarray(reloaded(batch, training=False)), expected, atol=1e-5)
    loaded = tf.saved_model.load(str(paths["savedmodel"]))  # keep it alive while serving
    np.testing.assert_allclose(loaded.serve(tf.constant(batch)).numpy(), expected, atol=1e-5)


# --- the commands -----------------------------------------------------------------------------


@pytest.fixture
def dataset(tmp_path):
    images, masks, _ = random_set(seed=5, n=5, size=(12, 16))
    root = tmp_path / "data"
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        write_image(root / "val" / "images" / f"s{i}.png", image)
        write_mask(root / "val" / "masks" / f"s{i}.png", mask)
    CLASSES.save(root)
    return root, images, masks


@pytest.fixture
def saved_oracle(tmp_path):
    path = tmp_path / "run" / "best.keras"
    path.parent.mkdir()
    oracle().save(path)
    return path


def test_cli_evaluate_prints_and_writes_the_report(dataset, saved_oracle, capsys):
    root, images, masks = dataset
    assert main(["evaluate", "--model", str(saved_oracle.parent), "--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "car" in out and "road" in out and "mean IoU" in out
    doc = json.loads((saved_oracle.parent / "evaluation_val.json").read_text())
    expected = scores(confusion_matrix(masks, images[..., 0] // STEP, N))
    assert math.isclose(doc["mean_iou"], expected["mean_iou"], rel_tol=1e-12)
    assert doc["n_images"] == 5 and doc["split"] == "val"
    assert (saved_oracle.parent / "evaluation_val.md").is_file()


def test_cli_predict_writes_masks(photos, saved_oracle, tmp_path, capsys):
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(saved_oracle), str(photos / "a.png"),
                 str(photos / "b.png"), "--out", str(out), "--no-overlays"]) == 0
    assert "Wrote 2 mask(s)" in capsys.readouterr().out
    assert read_mask(out / "masks" / "b.png").shape == (20, 31)
    assert not (out / "overlays").exists()


@pytest.mark.parametrize("case", ["missing_model", "not_keras", "no_images"])
def test_cli_bad_input_names_the_path_and_the_fix(case, photos, saved_oracle, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    model, inputs, named = {
        "missing_model": (tmp_path / "gone.keras", photos, "gone.keras"),
        "not_keras": (photos / "a.png", photos, "a.png"),
        "no_images": (saved_oracle, empty, "empty"),
    }[case]
    assert main(["predict", "--model", str(model), str(inputs), "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert named in err and "How to fix" in err
