"""Tests of segutils.validate: one test per kind of problem, built from a real file on disk.

Each test copies a small clean generated dataset, breaks one thing on purpose and checks that
the report names that file with that kind (and the right severity), and that nothing raises.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from segutils import validate
from segutils.data import synthetic
from segutils.validate import ERROR, KINDS, WARNING, verify_dataset

N_CLASSES = synthetic.CLASSES.n_classes
A = "street_00001"  # a training pair the tests break
B = "street_00002"


@pytest.fixture(scope="module")
def clean(builtin_dataset) -> Path:
    return builtin_dataset(10, (32, 40), seed=3)


@pytest.fixture
def ds(clean, tmp_path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def img(root, stem=A, split="train", ext=".png"):
    return root / split / "images" / f"{stem}{ext}"


def msk(root, stem=A, split="train", ext=".png"):
    return root / split / "masks" / f"{stem}{ext}"


def ids_of(root, stem=A):
    return np.array(Image.open(msk(root, stem)))


def only(report, kind):
    found = report.by_kind(kind)
    assert found, f"{kind} not reported; got:\n{report.table()}"
    assert all(p.severity == KINDS[kind][0] for p in found)
    return found


# --- a clean dataset ----------------------------------------------------------------------


def test_clean_generated_dataset_reports_nothing(clean):
    report = verify_dataset(clean)
    assert report.problems == [] and report.ok
    assert report.n_classes == N_CLASSES  # read from classes.json
    assert report.pairs == {"train": 8, "val": 1, "test": 1}
    assert "No problems found." in report.table()


def test_statistics_match_an_independent_count(clean):
    report = verify_dataset(clean, N_CLASSES)
    masks = [np.asarray(Image.open(p)) for p in sorted((clean / "train/masks").glob("*.png"))]
    stats = report.stats["train"]
    assert stats.n_masks == 8 and stats.sizes == {(32, 40): 8}
    expected = sum(np.bincount(m.ravel(), minlength=N_CLASSES) for m in masks)
    assert stats.pixel_counts.tolist() == expected.tolist()
    assert stats.presence.tolist() == [sum(int((m == c).any()) for m in masks)
                                       for c in range(N_CLASSES)]
    assert stats.frequencies().sum() == pytest.approx(1.0)
    assert stats.size_summary() == "32x40 (8 images)"


# --- one test per kind --------------------------------------------------------------------


def test_image_without_mask(ds):
    msk(ds).unlink()
    (p,) = only(verify_dataset(ds), "missing_mask")
    assert p.path == img(ds) and p.split == "train" and "train/masks" in p.fix


def test_mask_without_image(ds):
    img(ds).unlink()
    (p,) = only(verify_dataset(ds), "missing_image")
    assert p.path == msk(ds)


def test_two_files_with_the_same_stem(ds):
    Image.open(img(ds)).save(img(ds, ext=".jpg"))
    (p,) = only(verify_dataset(ds), "duplicate_stem")
    assert A in p.details and ".jpg" in p.details


def test_size_mismatch(ds):
    Image.fromarray(ids_of(ds)[:30, :36]).save(msk(ds))
    (p,) = only(verify_dataset(ds), "size_mismatch")
    assert p.path == msk(ds) and "30x36" in p.details and "32x40" in p.details


def test_lossy_jpeg_mask_by_extension_and_by_content(ds):
    Image.fromarray(ids_of(ds)).save(msk(ds, ext=".jpg"))
    msk(ds).unlink()
    Image.fromarray(ids_of(ds, B)).save(msk(ds, B), format="JPEG")  # JPEG data, .png name
    found = {p.path for p in only(verify_dataset(ds), "lossy_mask")}
    assert found == {msk(ds, ext=".jpg"), msk(ds, B)}


def test_zero_byte_file(ds):
    msk(ds).write_bytes(b"")
    (p,) = only(verify_dataset(ds), "empty_file")  # reported once, not by every check
    assert p.path == msk(ds)


def test_unreadable_file(ds):
    img(ds).write_bytes(b"this is not an image at all")
    (p,) = only(verify_dataset(ds), "unreadable")
    assert p.path == img(ds)


def test_truncated_file(ds):
    data = img(ds).read_bytes()
    img(ds).write_bytes(data[: len(data) // 2])
    (p,) = only(verify_dataset(ds), "truncated")
    assert p.path == img(ds)


def test_label_out_of_range(ds):
    ids = ids_of(ds)
    ids[:2, :3] = 9
    ids[5, 5] = 255  # the ignore label is fine
    Image.fromarray(ids).save(msk(ds))
    (p,) = only(verify_dataset(ds, N_CLASSES), "label_out_of_range")
    assert p.path == msk(ds) and "IDs 9 (6 pixels)" in p.details and "255" not in p.details[:12]
    # With more classes declared, 9 is a valid ID.
    assert "label_out_of_range" not in verify_dataset(ds, 12).kinds()


def test_rgb_colour_mask_lists_its_colours(ds):
    rgb = np.asarray(synthetic.CLASSES.colors, np.uint8)[ids_of(ds)]
    Image.fromarray(rgb).save(msk(ds))
    (p,) = only(verify_dataset(ds), "color_mask")
    colours, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
    assert f"{len(colours)} distinct colours" in p.details
    for c, n in zip(colours, counts, strict=True):  # grey (70, 70, 70) included
        assert f"{tuple(int(v) for v in c)} {n} px" in p.details
    assert "colors_to_ids" in p.fix


def test_binary_0_255_mask(ds):
    Image.fromarray(np.where(ids_of(ds) == 5, 255, 0).astype(np.uint8)).save(msk(ds))
    Image.fromarray(np.zeros((32, 40), np.uint8)).save(msk(ds, B))  # all background: fine
    report = verify_dataset(ds)
    (p,) = only(report, "binary_mask")
    assert p.path == msk(ds) and "fix_binary_mask" in p.fix
    assert "label_out_of_range" not in report.kinds()
    # With another ignore label, 255 would also be out of range; still one clear problem.
    assert [q.kind for q in verify_dataset(ds, N_CLASSES, ignore_index=250).problems] == [
        "binary_mask"]


def test_sixteen_bit_mask(ds):
    Image.fromarray(ids_of(ds).astype(np.uint16)).save(msk(ds))
    (p,) = only(verify_dataset(ds), "sixteen_bit_mask")
    assert p.path == msk(ds)


def test_empty_folder(ds):
    for f in (ds / "val/images").iterdir():
        f.unlink()
    for f in (ds / "val/masks").iterdir():
        f.unlink()
    found = {p.path for p in only(verify_dataset(ds), "empty_folder")}
    assert found == {ds / "val/images", ds / "val/masks"}


def test_exif_orientation_is_a_warning(ds):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees for display
    Image.open(img(ds)).save(img(ds), exif=exif)
    report = verify_dataset(ds)
    (p,) = only(report, "exif_orientation")
    assert p.severity == WARNING and p.path == img(ds) and report.ok


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_greyscale_or_rgba_image_is_a_warning(ds, mode):
    Image.open(img(ds)).convert(mode).save(img(ds))
    report = verify_dataset(ds)
    (p,) = only(report, "image_mode")
    assert f"mode {mode}" in p.details and report.ok


def test_missing_folder_and_unsupported_format(ds):
    shutil.rmtree(ds / "val/masks")
    Image.open(img(ds, B)).save(img(ds, "extra", ext=".tif"))
    report = verify_dataset(ds)
    assert only(report, "missing_folder")[0].path == ds / "val/masks"
    assert only(report, "unsupported_format")[0].path == img(ds, "extra", ext=".tif")


def test_no_dataset_never_raises(tmp_path):
    for root in (tmp_path / "nowhere", tmp_path):
        report = verify_dataset(root, 3)
        assert report.kinds() == {"no_dataset"} and not report.ok


def test_classes_file_missing_or_broken(ds):
    (ds / "classes.json").unlink()
    report = verify_dataset(ds)
    assert report.kinds() == {"no_classes"} and report.ok  # a warning only
    (ds / "classes.json").write_text("{not json")
    assert "classes_file" in verify_dataset(ds).kinds()


# --- every problem at once ----------------------------------------------------------------


def test_every_problem_is_reported_at_once(ds):
    msk(ds, "street_00000").unlink()
    img(ds, "street_00003").unlink()
    msk(ds, "street_00004").write_bytes(b"")
    ids = ids_of(ds, "street_00005")
    ids[0, 0] = 40
    Image.fromarray(ids).save(msk(ds, "street_00005"))
    Image.fromarray((ids_of(ds, "street_00006") > 3).astype(np.uint8) * 255).save(
        msk(ds, "street_00006"))
    Image.open(img(ds, "street_00007")).convert("L").save(img(ds, "street_00007"))
    report = verify_dataset(ds)
    assert report.kinds() == {"missing_mask", "missing_image", "empty_file",
                              "label_out_of_range", "binary_mask", "image_mode"}
    assert len(report.errors) == 5 and len(report.warnings) == 1
    text = report.table()
    for kind in report.kinds():
        assert kind in text
    doc = report.to_json()
    assert doc["n_errors"] == 5 and {p["file"] for p in doc["problems"]} >= {
        "train/images/street_00000.png", "train/masks/street_00006.png"}
    # Good pairs are still counted: 8 train pairs minus the two half-pairs.
    assert report.pairs["train"] == 6


def test_table_shortens_long_lists(ds):
    for f in (ds / "train/masks").iterdir():
        f.unlink()
    text = verify_dataset(ds).table(max_per_kind=3)
    assert "... and 5 more (image without mask)" in text


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), which=st.sampled_from(["image", "mask"]),
       keep=st.integers(0, 2000))
def test_verifier_never_raises_on_garbage(clean, data, which, keep):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(clean, Path(tmp) / "ds"))
        target = img(root) if which == "image" else msk(root)
        original = target.read_bytes()
        target.write_bytes(original[: keep % len(original)] + data)  # damaged or garbage
        report = verify_dataset(root)  # must not raise, whatever the bytes
        assert {p.path for p in report.errors} <= {img(root), msk(root)}
        assert report.pairs["train"] == 8  # a broken file still forms a (bad) pair


# --- helpers: fix_binary_mask, class_presence, one-hot -------------------------------------


def test_fix_binary_mask():
    m = np.array([[0, 255], [255, 0]], np.uint8)
    assert validate.fix_binary_mask(m).tolist() == [[0, 1], [1, 0]]
    real_ignore = np.array([[0, 1, 255]], np.uint8)  # 255 is a real ignore region here
    assert validate.fix_binary_mask(real_ignore).tolist() == [[0, 1, 255]]
    zeros = np.zeros((2, 2), np.uint8)
    out = validate.fix_binary_mask(zeros)
    assert out.tolist() == zeros.tolist() and out is not zeros


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2, 3, 255]), min_size=6, max_size=6),
                min_size=1, max_size=5))
def test_class_presence_counts_masks_per_class(rows):
    masks = [np.array(r, np.uint8).reshape(2, 3) for r in rows]
    expected = [sum(c in m for m in masks) for c in range(3)]
    assert validate.class_presence(masks, 3).tolist() == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 255]), min_size=1, max_size=40))
def test_one_hot_rows_sum_to_one_except_ignored(values):
    mask = np.array(values, np.uint8)
    labels = validate.one_hot(mask, 4)
    assert labels.shape == (len(values), 4)
    assert labels.sum(-1).tolist() == [0.0 if v == 255 else 1.0 for v in values]
    assert validate.check_one_hot(labels, mask != 255).ok
    assert validate.check_one_hot(labels, mask != 255).checked == int((mask != 255).sum())


def test_check_one_hot_finds_zero_double_and_fractional_rows():
    mask = np.array([[0, 1, 7, 255]], np.uint8)  # 7 is not a class
    labels = validate.one_hot(mask, 3)
    check = validate.check_one_hot(labels, mask != 255)
    assert (check.checked, check.all_zero, check.several, check.first_bad) == (3, 1, 0, (0, 2))
    # A colour table with a colour listed twice gives two ones in a row.
    labels[0, 0, 1] = 1.0
    assert validate.check_one_hot(labels, mask != 255).several == 1
    # Bilinear resizing of a one-hot label makes fractions.
    soft = np.array([[0.5, 0.5, 0.0]])
    check = validate.check_one_hot(soft)
    assert (check.not_binary, check.several, check.ok) == (1, 0, False)


def test_label_problem_on_arrays():
    assert validate.label_problem(np.array([[0, 1, 255]]), 2) is None
    assert validate.label_problem(np.array([[0, 2]]), 2)[0] == "label_out_of_range"
    assert validate.label_problem(np.array([[0, 255]]), None)[0] == "binary_mask"
    assert validate.label_problem(np.array([[0, 9]]), None) is None


def test_every_kind_has_a_severity_and_label():
    assert {sev for sev, _ in KINDS.values()} == {ERROR, WARNING}
    assert list(KINDS) == sorted(KINDS, key=lambda k: KINDS[k][0] != ERROR)  # errors first


def test_keras_segmentation_layout_with_jpeg_images(tmp_path):
    rng = np.random.default_rng(0)
    for stem in ("0001", "0002"):
        (tmp_path / "images_prepped_train").mkdir(exist_ok=True)
        (tmp_path / "annotations_prepped_train").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 10, 3)).astype(np.uint8)).save(
            tmp_path / "images_prepped_train" / f"{stem}.jpg")
        Image.fromarray(rng.integers(0, 3, (8, 10)).astype(np.uint8)).save(
            tmp_path / "annotations_prepped_train" / f"{stem}.png")
    report = verify_dataset(tmp_path, 3)
    assert report.problems == [] and report.pairs == {"train": 2}
    assert report.stats["train"].pixel_counts.sum() == 160
    assert "label_out_of_range" in verify_dataset(tmp_path, 2).kinds()


def test_unsupported_mask_mode_is_reported(ds, monkeypatch):
    # PNG and BMP masks always decode to a mode read_mask accepts, so fake the reader's error.
    from segutils.data import io

    def refuse(path):
        raise io._error(path, "unsupported mask mode 'CMYK'", "save it as 8-bit grey",
                        "unsupported_mode")

    monkeypatch.setattr(validate, "read_mask", refuse)
    report = verify_dataset(ds)
    assert len(only(report, "unsupported_mode")) == 10 and not report.ok
