"""Tests of segutils.widgets: drive the browser's controls as a user would and check pixels."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils.data import synthetic
from segutils.errors import DatasetError

pytest.importorskip("ipywidgets")
from segutils.widgets import DatasetBrowser  # noqa: E402

CLASSES = synthetic.CLASSES
PALETTE = np.asarray(CLASSES.colors, np.uint8)


@pytest.fixture(scope="module")
def root(builtin_dataset) -> Path:
    return builtin_dataset(12, (24, 32), seed=5)


def files(root: Path, split: str, stem: str):
    image = np.asarray(Image.open(root / split / "images" / f"{stem}.png").convert("RGB"))
    mask = np.asarray(Image.open(root / split / "masks" / f"{stem}.png"))
    return image, mask


def test_starts_on_the_first_training_pair(root):
    b = DatasetBrowser(root)
    image, mask = files(root, "train", "street_00000")
    assert b.split.options == ("train", "val", "test") and b.index.max == 9
    assert (b.image_array == image).all()
    assert b.array.shape == (24, 2 * 32 + 4, 3)
    assert (b.array[:, :32] == image).all() and (b.array[:, 32:36] == 255).all()
    assert "train/street_00000" in b.info.value and "sky" in b.info.value


def test_opacity_slider_moves_between_image_and_palette(root):
    b = DatasetBrowser(root, CLASSES)
    _, mask = files(root, "train", "street_00000")
    b.opacity.value = 0.0
    assert (b.overlay_array == b.image_array).all()
    b.opacity.value = 1.0
    assert (b.overlay_array == PALETTE[mask]).all()  # exactly the class colours


def test_class_checkboxes_hide_classes(root):
    b = DatasetBrowser(root, CLASSES)
    b.opacity.value = 1.0
    _, mask = files(root, "train", "street_00000")
    b.class_boxes[2].value = False  # hide road
    assert b.shown == [0, 1, 3, 4, 5, 6]
    road = mask == 2
    assert road.any()
    assert (b.overlay_array[road] == b.image_array[road]).all()
    assert (b.overlay_array[~road] == PALETTE[mask][~road]).all()
    b.show_only(5)
    assert b.shown == [5]
    assert (b.overlay_array[mask != 5] == b.image_array[mask != 5]).all()


def test_index_slider_and_split_selector_change_the_pair(root):
    b = DatasetBrowser(root, CLASSES)
    first = b.array.copy()
    b.index.value = 3
    image, _ = files(root, "train", "street_00003")
    assert b.pair.stem == "street_00003" and (b.image_array == image).all()
    assert not np.array_equal(b.array, first)
    b.split.value = "val"  # the slider resets to the new split's range
    assert (b.index.value, b.index.max, b.pair.stem) == (0, 0, "street_00010")
    assert (b.image_array == files(root, "val", "street_00010")[0]).all()


def test_contours_checkbox_draws_boundaries(root):
    b = DatasetBrowser(root, CLASSES, alpha=0.0)
    assert (b.overlay_array == b.image_array).all()
    b.contours.value = True
    assert (b.overlay_array != b.image_array).any(axis=-1).sum() > 0


def test_picture_is_the_enlarged_array_as_png(root):
    b = DatasetBrowser(root, CLASSES, min_height=100)
    shown = np.asarray(Image.open(io.BytesIO(b.picture.value)))
    assert shown.shape == (24 * 5, (2 * 32 + 4) * 5, 3)  # 5x: the first whole factor >= 100/24
    assert (shown[::5, ::5] == b.array).all()


def test_broken_pairs_are_skipped_and_no_pairs_is_an_error(root, tmp_path):
    broken = Path(shutil.copytree(root, tmp_path / "b"))
    (broken / "train/masks/street_00000.png").unlink()
    b = DatasetBrowser(broken)
    assert b.pair.stem == "street_00001" and b.index.max == 8
    with pytest.raises(DatasetError, match="no usable"):
        empty = tmp_path / "e"
        (empty / "train/images").mkdir(parents=True)
        (empty / "train/masks").mkdir(parents=True)
        DatasetBrowser(empty, CLASSES)


def test_widget_tree_holds_every_control(root):
    b = DatasetBrowser(root)
    import ipywidgets as w

    assert isinstance(b.widget, w.VBox)
    kids = [k for box in b.widget.children for k in getattr(box, "children", (box,))]
    for control in (b.split, b.index, b.opacity, b.contours, b.picture, *b.class_boxes):
        assert control in kids
    bundle = b._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == f"DatasetBrowser({root.name}: pairs train 10, val 1, test 1)"
