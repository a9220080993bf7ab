"""Tests of segutils.data.folders: both layouts, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils.data.classes import ClassInfo
from segutils.data.folders import (
    Pair,
    available_splits,
    detect_layout,
    find_pairs,
    load_classes,
)
from segutils.errors import DatasetError


def put(path: Path, size=(6, 8), mode="RGB", fmt=None) -> Path:
    """Write a small image (mode RGB), mask (mode L) or 16-bit mask (mode I;16) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    if mode == "RGB":
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path, format=fmt)
    elif mode == "L":
        Image.fromarray(np.zeros((h, w), np.uint8)).save(path, format=fmt)
    else:
        Image.fromarray(np.zeros((h, w), np.uint16)).save(path, format=fmt)
    return path


def course(root: Path, split: str, stems, img_ext=".png", mask_ext=".png") -> Path:
    for s in stems:
        put(root / split / "images" / f"{s}{img_ext}")
        put(root / split / "masks" / f"{s}{mask_ext}", mode="L")
    return root


def keras_seg(root: Path, split: str, stems) -> Path:
    for s in stems:
        put(root / f"images_prepped_{split}" / f"{s}.jpg", fmt="JPEG")
        put(root / f"annotations_prepped_{split}" / f"{s}.png", mode="L")
    return root


def problems_of(root, split="train", **kw) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        find_pairs(root, split, **kw)
    return info.value


# --- layouts --------------------------------------------------------------------------------


def test_course_layout(tmp_path):
    course(tmp_path, "train", ["b", "a", "c"])
    course(tmp_path, "test", ["z"])
    assert detect_layout(tmp_path) == "course"
    assert available_splits(tmp_path) == ["train", "test"]
    pairs = find_pairs(tmp_path, "train")
    assert [p.stem for p in pairs] == ["a", "b", "c"]
    assert pairs[0] == Pair("a", tmp_path / "train/images/a.png", tmp_path / "train/masks/a.png")
    stem, image, mask = pairs[1]  # unpacks like a tuple
    assert (stem, image.name, mask.name) == ("b", "b.png", "b.png")


def test_keras_segmentation_layout(tmp_path):
    keras_seg(tmp_path, "train", ["0001", "0002"])
    keras_seg(tmp_path, "val", ["0003"])
    assert detect_layout(tmp_path) == "keras_segmentation"
    assert available_splits(tmp_path) == ["train", "val"]
    pairs = find_pairs(tmp_path, "val")
    assert pairs == [Pair("0003", tmp_path / "images_prepped_val/0003.jpg",
                          tmp_path / "annotations_prepped_val/0003.png")]


def test_extensions_any_case_and_bmp_masks(tmp_path):
    put(tmp_path / "train/images/a.JPG", fmt="JPEG")
    put(tmp_path / "train/images/b.Png")
    put(tmp_path / "train/images/c.bmp")
    put(tmp_path / "train/masks/a.PNG", mode="L")
    put(tmp_path / "train/masks/b.bmp", mode="L")
    put(tmp_path / "train/masks/c.png", mode="L")
    (tmp_path / "train/images/README.txt").write_text("not an image")
    (tmp_path / "train/masks/.DS_Store").write_bytes(b"\0")
    assert [p.mask.name for p in find_pairs(tmp_path, "train")] == ["a.PNG", "b.bmp", "c.png"]


def test_no_layout_both_layouts_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        find_pairs(tmp_path / "nowhere", "train")
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetError, match="no dataset layout") as info:
        detect_layout(tmp_path)
    assert "images_prepped_" in info.value.fix
    course(tmp_path, "train", ["a"])
    keras_seg(tmp_path, "train", ["a"])
    with pytest.raises(DatasetError, match="both dataset layouts"):
        detect_layout(tmp_path)


def test_missing_split_and_missing_folder(tmp_path):
    course(tmp_path, "train", ["a"])
    with pytest.raises(DatasetError, match=r"no split 'val'.*splits: train"):
        find_pairs(tmp_path, "val")
    put(tmp_path / "test/images/a.png")
    err = problems_of(tmp_path, "test")
    assert "test/masks" in str(err) and "missing" in str(err)
    with pytest.raises(DatasetError, match="unknown split"):
        find_pairs(tmp_path, "training")


def test_empty_folder(tmp_path):
    (tmp_path / "train/images").mkdir(parents=True)
    put(tmp_path / "train/masks/a.png", mode="L")
    err = problems_of(tmp_path)
    assert "train/images: the folder holds no image files" in str(err)
    assert "train/masks/a.png: mask without an image" in str(err)


# --- every problem at once ------------------------------------------------------------------


def test_all_problems_reported_together(tmp_path):
    course(tmp_path, "train", ["good"])
    put(tmp_path / "train/images/lonely_image.png")
    put(tmp_path / "train/masks/lonely_mask.png", mode="L")
    put(tmp_path / "train/images/twin.png")
    put(tmp_path / "train/images/twin.jpg", fmt="JPEG")
    put(tmp_path / "train/masks/twin.png", mode="L")
    put(tmp_path / "train/images/lossy.png")
    put(tmp_path / "train/masks/lossy.jpg", mode="L", fmt="JPEG")
    put(tmp_path / "train/images/big.png", size=(10, 10))
    put(tmp_path / "train/masks/big.png", mode="L", size=(6, 8))
    put(tmp_path / "train/images/empty.png")
    (tmp_path / "train/masks/empty.png").write_bytes(b"")
    put(tmp_path / "train/images/junk.png")
    (tmp_path / "train/masks/junk.png").write_bytes(b"garbage, not a PNG")
    put(tmp_path / "train/images/deep.png")
    put(tmp_path / "train/masks/deep.png", mode="I;16")
    put(tmp_path / "train/images/scan.tif", fmt="TIFF")
    put(tmp_path / "train/images/disguised.png")
    put(tmp_path / "train/masks/disguised.png", mode="L", fmt="JPEG")
    err = problems_of(tmp_path)
    msg = str(err)
    expected = {
        "train/images/lonely_image.png": "image without a mask",
        "train/masks/lonely_mask.png": "mask without an image",
        "train/images/twin.jpg": "2 image files share the stem 'twin' (twin.jpg, twin.png)",
        "train/masks/lossy.jpg": "JPEG mask",
        "train/masks/big.png": "mask is 6x8 but its image big.png is 10x10",
        "train/masks/empty.png": "empty file",
        "train/masks/junk.png": "not a readable image",
        "train/masks/deep.png": "16-bit mask",
        "train/images/scan.tif": "unsupported image format .tif",
        "train/masks/disguised.png": "the mask holds JPEG data",
    }
    # The .tif has no mask either: reported against the real file, not a made-up name.
    assert "train/images/scan.tif: image without a mask" in msg
    expected["train/images/scan.tif: image without a mask"] = ""
    for name, problem in expected.items():
        assert f"{name}: {problem}" in msg or not problem, (name, msg)
    assert f"{len(expected)} problems in split 'train'" in msg
    assert len(err.problems) == len(expected)
    assert all("; fix: " in line for line in msg.splitlines() if line.startswith("  - "))
    assert "good" not in msg


def test_check_sizes_false_skips_header_reads(tmp_path):
    course(tmp_path, "train", ["a"])
    put(tmp_path / "train/masks/a.png", mode="L", size=(3, 3))
    assert "mask is 3x3" in str(problems_of(tmp_path))
    assert len(find_pairs(tmp_path, "train", check_sizes=False)) == 1


def test_long_lists_are_cut(tmp_path):
    course(tmp_path, "train", ["a"])
    for k in range(30):
        (tmp_path / f"train/images/orphan{k:02d}.png").write_bytes(b"x")
    err = problems_of(tmp_path, check_sizes=False)
    lines = [line for line in str(err).splitlines() if line.startswith("  - ")]
    assert len(lines) == 20
    assert "... and 10 more" in str(err)
    assert len(err.problems) == 30


def test_load_classes(tmp_path):
    assert load_classes(tmp_path) is None
    info = ClassInfo(("background", "cat"), ((0, 0, 0), (255, 0, 0)))
    info.save(tmp_path)
    assert load_classes(tmp_path) == info
