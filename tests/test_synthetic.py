"""Tests of the built-in street-scene dataset (segutils.data.synthetic).

Besides layout and determinism, these tests hold the dataset to what it is for: realistic class
imbalance, colours that do not give the classes away, and a U-Net that clearly beats a per-pixel
classifier.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segutils.config import PROFILES
from segutils.data import synthetic
from segutils.data.classes import ClassInfo
from segutils.errors import DatasetError
from segutils.metrics import confusion_matrix, scores

N_CLASSES = synthetic.CLASSES.n_classes

# SHA-256 of image.tobytes() + mask.tobytes() of a few scenes. They change only when the drawing
# changes: then check the new pictures, bump GENERATOR_VERSION and update these values. (A new
# NumPy or Pillow release that changes random streams or polygon filling changes them too.)
GOLDEN = {
    (0, 0, (128, 128)): "899df530febc67bf6a33308ec54bbf8a11307b5ddd44a11c2c7670a015ed80e4",
    (0, 1, (128, 128)): "1de6de3c7dc41db45b7ace4700bbfc15eb012f605c79a57e15bde7ac2b8691ef",
    (7, 3, (48, 80)): "a94fa30ee85881b7dea9d7efb177ecfd8cadc2275431172e1ac32623ff94170b",
}


def _digest(image, mask):
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()
                          + np.ascontiguousarray(mask).tobytes()).hexdigest()


def _read(path):
    return np.asarray(Image.open(path))


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A few hundred full-size images, written and read back like a learner would."""
    folder = synthetic.generate(tmp_path_factory.mktemp("study") / "street", n=300,
                                size=(128, 128), seed=11, progress=False)

    def load(split):
        paths = sorted((folder / split / "images").glob("*.png"))
        return (np.stack([_read(p) for p in paths]),
                np.stack([_read(folder / split / "masks" / p.name) for p in paths]))

    return {split: load(split) for split in synthetic.SPLITS}


def test_classes():
    assert synthetic.CLASSES.n_classes >= 6
    assert len(set(synthetic.CLASSES.colors)) == N_CLASSES
    assert {"sky", "road", "car", "person"} <= set(synthetic.CLASSES.names)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), h=st.integers(8, 96), w=st.integers(8, 96))
def test_render_scene_shapes_and_valid_ids(seed, h, w):
    image, mask = synthetic.render_scene(seed, size=(h, w))
    assert image.shape == (h, w, 3) and image.dtype == np.uint8
    assert mask.shape == (h, w) and mask.dtype == np.uint8
    assert mask.max() < N_CLASSES


def test_render_scene_is_deterministic():
    a = synthetic.render_scene((3, 4))
    b = synthetic.render_scene(np.random.default_rng((3, 4)))
    c = synthetic.render_scene((3, 5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("key", list(GOLDEN))
def test_golden_scenes(key):
    seed, index, size = key
    assert _digest(*synthetic.render_scene((seed, index), size)) == GOLDEN[key]


def test_generate_layout_counts_and_files(tmp_path):
    out = synthetic.generate(tmp_path / "ds", n=20, size=(32, 48), seed=5, progress=False)
    assert out == tmp_path / "ds"
    assert sorted(p.name for p in out.iterdir()) == ["classes.json", "manifest.json", "test",
                                                     "train", "val"]
    assert ClassInfo.load(out) == synthetic.CLASSES
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 16, "val": 2, "test": 2}
    assert manifest["generator_version"] == synthetic.GENERATOR_VERSION
    assert (manifest["n"], manifest["seed"], manifest["size"]) == (20, 5, [32, 48])
    stems = []
    for split, count in manifest["counts"].items():
        images = sorted((out / split / "images").iterdir())
        masks = sorted((out / split / "masks").iterdir())
        assert [p.name for p in images] == [p.name for p in masks] and len(images) == count
        for p in images:
            assert Image.open(p).mode == "RGB" and Image.open(p).size == (48, 32)
        for p in masks:
            m = Image.open(p)
            assert m.mode == "L" and m.size == (48, 32)
            assert np.asarray(m).max() < N_CLASSES
        stems += [p.stem for p in images]
    # Train takes the first images, then val, then test.
    assert stems == [f"street_{i:05d}" for i in range(20)]
    assert not list(tmp_path.glob(".*partial"))


def test_generate_is_byte_identical_and_matches_render_scene(tmp_path):
    a = synthetic.generate(tmp_path / "a", n=12, size=(40, 56), seed=2, progress=False)
    b = synthetic.generate(tmp_path / "b", n=12, size=(40, 56), seed=2, progress=False)
    assert _files(a) == _files(b)
    image, mask = synthetic.render_scene((2, 3), (40, 56))
    np.testing.assert_array_equal(_read(a / "train/images/street_00003.png"), image)
    np.testing.assert_array_equal(_read(a / "train/masks/street_00003.png"), mask)


def test_image_i_does_not_depend_on_n(tmp_path):
    small = synthetic.generate(tmp_path / "small", n=10, size=(24, 24), seed=1, progress=False)
    large = synthetic.generate(tmp_path / "large", n=30, size=(24, 24), seed=1, progress=False)
    # street_00008 is in val for n=10 and in train for n=30: same pixels either way.
    for sub in ("images", "masks"):
        np.testing.assert_array_equal(_read(small / f"val/{sub}/street_00008.png"),
                                      _read(large / f"train/{sub}/street_00008.png"))


@given(n=st.integers(1, 5000))
def test_split_counts_add_up(n):
    counts = synthetic.split_counts(n)
    assert sum(counts.values()) == n and min(counts.values()) >= 0
    assert abs(counts["train"] - 0.8 * n) <= 1 and abs(counts["val"] - 0.1 * n) <= 1


def test_split_counts_examples_and_errors():
    assert synthetic.split_counts(1000) == {"train": 800, "val": 100, "test": 100}
    assert synthetic.split_counts(600) == {"train": 480, "val": 60, "test": 60}
    with pytest.raises(ValueError, match="splits"):
        synthetic.split_counts(10, (0.8, 0.2))


def test_generate_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="does not hold a generated dataset"):
        synthetic.generate(tmp_path / "mine", n=3, size=(16, 16), progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob(".*partial"))


def test_ensure_dataset_reuses_and_regenerates(tmp_path, monkeypatch):
    profile = PROFILES["quick"].replace(image_size=(24, 32), n_images=10)
    first = synthetic.ensure_dataset(profile, root=tmp_path, seed=3, progress=False)
    assert first == tmp_path / "street_24x32_n10_s3"
    assert len(list((first / "train" / "images").iterdir())) == 8

    calls = []
    real_generate = synthetic.generate
    monkeypatch.setattr(synthetic, "generate", lambda *a, **k: calls.append(a) or
                        real_generate(*a, **k))
    assert synthetic.ensure_dataset(profile, root=tmp_path, seed=3, progress=False) == first
    assert calls == []  # reused: only the manifest was read and the files counted

    (first / "val" / "masks" / "street_00008.png").unlink()  # a missing file
    synthetic.ensure_dataset(profile, root=tmp_path, seed=3, progress=False)
    assert len(calls) == 1 and (first / "val" / "masks" / "street_00008.png").is_file()

    manifest = json.loads((first / "manifest.json").read_text())
    manifest["generator_version"] = -1  # made by an older generator
    (first / "manifest.json").write_text(json.dumps(manifest))
    synthetic.ensure_dataset(profile, root=tmp_path, seed=3, progress=False)
    assert len(calls) == 2
    assert json.loads((first / "manifest.json").read_text())["generator_version"] == \
        synthetic.GENERATOR_VERSION

    manifest["generator_version"] = synthetic.GENERATOR_VERSION
    manifest["fingerprint"] = "0" * 16  # drawn differently (e.g. another Pillow release)
    (first / "manifest.json").write_text(json.dumps(manifest))
    synthetic.ensure_dataset(profile, root=tmp_path, seed=3, progress=False)
    assert len(calls) == 3

    other = synthetic.ensure_dataset(profile.replace(n_images=12), root=tmp_path, seed=3,
                                     progress=False)
    assert other.name == "street_24x32_n12_s3" and len(calls) == 4
    quick = PROFILES["quick"]  # a profile may also be given by name
    assert synthetic.ensure_dataset("quick", root=tmp_path, progress=False).name == \
        f"street_{quick.image_size[0]}x{quick.image_size[1]}_n{quick.n_images}_s0"


@pytest.mark.slow
def test_class_imbalance_is_realistic(study):
    counts = sum(np.bincount(masks.ravel(), minlength=N_CLASSES) for _, masks in study.values())
    share = counts / counts.sum()
    assert share.min() <= 0.03, share  # a rare class, as pedestrians are in real street scenes
    assert share.max() >= 0.25, share
    assert (share > 0).all(), share


def _best_colour_rule(train_images, train_masks, bins=16):
    """Each of bins**3 RGB cells predicts the class most often seen with it in training."""
    def codes(images):
        q = images.astype(np.int64) * bins // 256
        return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]

    table = np.zeros((bins**3, N_CLASSES), np.int64)
    np.add.at(table, (codes(train_images).ravel(), train_masks.ravel().astype(np.int64)), 1)
    rule = table.argmax(axis=1)
    return lambda images: rule[codes(images)]


@pytest.mark.slow
def test_colour_alone_does_not_separate_the_classes(study):
    rule = _best_colour_rule(*study["train"])
    for split in ("train", "val"):  # on train it is the best any per-pixel colour rule can do
        images, masks = study[split]
        miou = scores(confusion_matrix(masks, rule(images), N_CLASSES))["mean_iou"]
        assert miou < 0.5, (split, miou)


@pytest.mark.slow
def test_unet_clearly_beats_the_per_pixel_classifier():
    """The quality floor of the dataset: context (a small U-Net) beats colour (a 1x1 conv).

    A few dozen seconds of training on 64x64 images: here the 1x1 convolution reaches a mean IoU
    of about 0.10 and the U-Net about 0.44; the margin is set well below that gap.
    """
    from segutils.config import import_quietly, seed_everything

    keras = import_quietly()
    from segutils.models import per_pixel_classifier, unet_mini

    scenes = [synthetic.render_scene((21, i), (64, 64)) for i in range(130)]
    x = np.stack([s[0] for s in scenes]).astype(np.float32) / 255
    y = np.stack([s[1] for s in scenes])
    (x_train, y_train), (x_val, y_val) = (x[:110], y[:110]), (x[110:], y[110:])

    def fit_and_score(model, lr, epochs):
        model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=255))
        model.fit(x_train, y_train, batch_size=8, epochs=epochs, verbose=0)
        pred = np.argmax(model.predict(x_val, batch_size=32, verbose=0), axis=-1)
        return scores(confusion_matrix(y_val, pred, N_CLASSES))["mean_iou"]

    seed_everything(0)
    colour_only = fit_and_score(per_pixel_classifier(N_CLASSES), 5e-2, 4)
    seed_everything(0)
    context = fit_and_score(unet_mini(N_CLASSES, base_filters=16, batch_norm=True), 3e-3, 5)
    assert colour_only < 0.3, colour_only
    assert context > colour_only + 0.25, (context, colour_only)
