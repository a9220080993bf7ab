"""Tests of segutils.widgets.augment: drive the playground's controls and look at its pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils import augment
from segutils.data import synthetic
from segutils.errors import DatasetError

pytest.importorskip("ipywidgets")
pytest.importorskip("segutils.augment.compat")  # makes imgaug importable
from segutils.widgets.augment import AugmentationPlayground, tile  # noqa: E402

H, W = 40, 48


@pytest.fixture(scope="module")
def root(builtin_dataset) -> Path:
    return builtin_dataset(10, (H, W), seed=3)


def original(root: Path, stem: str = "street_00000"):
    image = np.asarray(Image.open(root / "train/images" / f"{stem}.png").convert("RGB"))
    mask = np.asarray(Image.open(root / "train/masks" / f"{stem}.png"))
    return image, mask


def test_starts_with_the_light_preset_and_the_original_first(root):
    p = AugmentationPlayground(root, samples=5, columns=3, zoom=1)
    assert p.spec() == "light" and len(p.draws) == 5
    assert [n for n, b in p.boxes.items() if b.value] == ["flip", "crop", "brightness",
                                                          "contrast"]
    assert p.array.shape == (2 * H + 4, 3 * W + 2 * 4, 3)  # 6 pictures in 2 rows of 3
    image, mask = original(root)
    p.opacity.value = 0.0  # no colour: the first tile is the image itself (plus contours)
    first = p.array[:H, :W]
    from segutils import viz

    edge = viz.boundaries(mask)
    assert (first[~edge] == image[~edge]).all()
    assert "light" in p.info.value and "re-draw 0" in p.info.value


def test_photometric_only_leaves_every_mask_alone(root):
    p = AugmentationPlayground(root, samples=4)
    p.choose(brightness=1.0, hue=1.0, noise=1.0)
    assert p.preset.value == "custom" and p.spec() == {"brightness": (1.0, 1.0),
                                                        "hue": (1.0, 1.0), "noise": (1.0, 1.0)}
    image, mask = original(root)
    for aug_image, aug_mask in p.draws:
        np.testing.assert_array_equal(aug_mask, mask)
        assert not np.array_equal(aug_image, image)


def test_geometric_moves_the_mask_and_marks_added_pixels(root):
    p = AugmentationPlayground(root, samples=4)
    p.choose(rotate=1.0)
    _, mask = original(root)
    assert all(not np.array_equal(m, mask) for _, m in p.draws)
    assert any((m == 255).any() for _, m in p.draws)  # the uncovered corners
    assert all(set(np.unique(m)) <= set(np.unique(mask)) | {255} for _, m in p.draws)
    assert "Ignored (added) pixels" in p.info.value


def test_redraw_gives_new_draws_and_settings_are_reproducible(root):
    p = AugmentationPlayground(root, samples=3, seed=1)
    p.choose(shift=1.0)
    first = [m.copy() for _, m in p.draws]
    p.redraw.click()
    assert p.redraws == 1 and "re-draw 1" in p.info.value
    assert any(not np.array_equal(a, b) for a, (_, b) in zip(first, p.draws, strict=True))
    again = AugmentationPlayground(root, samples=3, seed=1)
    again.choose(shift=1.0)
    assert all(np.array_equal(a, b) for a, (_, b) in zip(first, again.draws, strict=True))


def test_controls_switch_between_preset_and_custom(root):
    p = AugmentationPlayground(root)
    p.strengths["crop"].value = 0.9  # touching a control of a preset makes it custom
    assert p.preset.value == "custom" and p.spec()["crop"] == (0.9, 1.0)
    p.preset.value = "heavy"
    assert p.spec() == "heavy" and p.boxes["flip"].value and not p.boxes["crop"].value
    for box in p.boxes.values():
        box.value = False
    assert p.spec() == {} and "nothing ticked" in p.info.value
    _, mask = original(root)
    assert all(np.array_equal(m, mask) for _, m in p.draws)
    p.samples.value = 2
    p.index.value = 4
    _, mask4 = original(root, "street_00004")
    assert len(p.draws) == 2 and np.array_equal(p.draws[0][1], mask4)
    with pytest.raises(ValueError, match="unknown augmenters"):
        p.choose(twirl=1.0)


@pytest.mark.parametrize("name", augment.PRESETS)
def test_what_a_preset_ticks_is_what_it_applies(root, name):
    """The widget's controls, read back as a custom choice, give preset(name) pixel for pixel."""
    p = AugmentationPlayground(root, samples=2)
    p.preset.value = name
    ticked = {n: (p.strengths[n].value, p.probabilities[n].value)
              for n, box in p.boxes.items() if box.value}
    assert ticked == augment.PRESET_STEPS[name]
    images = np.stack([original(root, f"street_{k:05d}")[0] for k in range(6)])
    masks = np.stack([original(root, f"street_{k:05d}")[1] for k in range(6)])
    for seed in (0, 1, 2):
        from_widget = augment.JointAugmenter(ticked, keep_size=True).batch(images, masks, seed)
        from_preset = augment.JointAugmenter(name, keep_size=True).batch(images, masks, seed)
        for a, b in zip(from_widget, from_preset, strict=True):
            np.testing.assert_array_equal(a, b)
    shown = p.draws  # and the playground draws exactly that augmenter
    again = augment.JointAugmenter(ticked, keep_size=True).batch(
        np.stack([original(root)[0]] * 2), np.stack([original(root)[1]] * 2), seed=p.seed)
    for (image, mask), a, b in zip(shown, *again, strict=True):
        np.testing.assert_array_equal(image, a)
        np.testing.assert_array_equal(mask, b)


def test_touching_a_preset_keeps_all_of_it(root):
    """Ticking one more box after choosing a preset adds that box and drops nothing."""
    p = AugmentationPlayground(root, samples=2)
    p.preset.value = "heavy"
    p.boxes["crop"].value = True
    assert p.preset.value == "custom"
    assert p.spec() == {**augment.PRESET_STEPS["heavy"], "crop": (0.4, 1.0)}  # light left 0.4
    p.probabilities["blur"].value = 0.9
    assert p.spec()["blur"] == (0.6, 0.9) and "on 90% of the images" in p.info.value


def test_picture_widget_and_tiles(root):
    p = AugmentationPlayground(root, samples=2, columns=3, zoom=3)
    shown = np.asarray(Image.open(io.BytesIO(p.picture.value)))
    assert shown.shape == (H * 3, (3 * W + 8) * 3, 3)
    assert (shown[::3, ::3] == p.array).all()
    pics = [np.full((2, 2, 3), v, np.uint8) for v in (10, 20, 30)]
    grid = tile(pics, columns=2, gap=1)
    assert grid.shape == (5, 5, 3) and grid[0, 0, 0] == 10 and grid[3, 0, 0] == 30
    assert (grid[2] == 255).all() and (grid[3:, 3:] == 255).all()
    import ipywidgets as w

    assert isinstance(p.widget, w.VBox)
    bundle = p._repr_mimebundle_()
    assert bundle["text/plain"].startswith(f"AugmentationPlayground({root.name}: 8 images")


def test_needs_a_class_table(root, tmp_path):
    import shutil

    copy = Path(shutil.copytree(root, tmp_path / "c"))
    (copy / "classes.json").unlink()
    with pytest.raises(DatasetError, match="classes.json"):
        AugmentationPlayground(copy)
    assert AugmentationPlayground(copy, synthetic.CLASSES).spec() == "light"
