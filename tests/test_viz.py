import matplotlib
import numpy as np
import pytest

from segutils import viz
from segutils.data.classes import ClassInfo

matplotlib.use("Agg")
CLASSES = ClassInfo(("road", "car"), ((100, 0, 0), (0, 200, 0)))


def test_overlay_blends_by_the_formula_and_skips_ignored_pixels():
    image = np.full((2, 2, 3), 50, np.uint8)
    mask = np.array([[0, 1], [255, 1]], np.uint8)
    out = viz.overlay(image, mask, CLASSES, alpha=0.25)
    def half_up(x):
        return int(np.floor(x + 0.5))

    assert out[0, 0].tolist() == [half_up(0.75 * 50 + 0.25 * 100), 38, 38]
    assert out[0, 1].tolist() == [38, half_up(0.75 * 50 + 0.25 * 200), 38]
    assert out[1, 0].tolist() == [50, 50, 50]


def test_overlay_accepts_float_images_and_checks_shapes():
    image = np.full((2, 3, 3), 1.0, np.float32)
    out = viz.overlay(image, np.zeros((2, 3), np.uint8), CLASSES, alpha=0.0)
    assert out.dtype == np.uint8 and (out == 255).all()
    with pytest.raises(ValueError, match="mask is"):
        viz.overlay(image, np.zeros((3, 3), np.uint8), CLASSES)
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(image, np.zeros((2, 3), np.uint8), CLASSES, alpha=2)


def test_show_samples_draws_three_panels_per_row():
    images = np.zeros((5, 8, 8, 3), np.uint8)
    masks = np.ones((5, 8, 8), np.uint8)
    fig = viz.show_samples(images, masks, CLASSES, max_rows=2)
    assert len(fig.axes) == 6
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["0 road", "1 car"]


# --- overlays in the palette's colours, contours, grids -------------------------------------

THREE = ClassInfo(("sky", "road", "car"), ((70, 130, 180), (128, 64, 128), (0, 0, 142)))


def _scene():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 7, 3)).astype(np.uint8)
    mask = rng.integers(0, 3, (6, 7)).astype(np.uint8)
    mask[0, :2] = 255
    return image, mask


def test_full_opacity_overlay_shows_exactly_the_palette_colours():
    image, mask = _scene()
    out = viz.overlay(image, mask, THREE, alpha=1.0)
    for (y, x), i in np.ndenumerate(mask):
        expected = image[y, x] if i == 255 else THREE.colors[i]
        assert tuple(out[y, x]) == tuple(expected)


def test_overlay_colours_follow_the_blend_formula_per_pixel():
    image, mask = _scene()
    out = viz.overlay(image, mask, THREE, alpha=0.3)
    for (y, x), i in np.ndenumerate(mask):
        if i == 255:
            continue
        want = np.floor(0.7 * image[y, x].astype(float) + 0.3 * np.array(THREE.colors[i]) + 0.5)
        assert np.abs(out[y, x].astype(int) - want).max() <= 1  # float32 rounding


def test_overlay_show_leaves_other_classes_untouched():
    image, mask = _scene()
    out = viz.overlay(image, mask, THREE, alpha=1.0, show=[2])
    assert (out[mask == 2] == np.asarray(THREE.colors[2])).all()
    assert (out[mask != 2] == image[mask != 2]).all()
    assert (viz.overlay(image, mask, THREE, show=[]) == image).all()


def _boundary_by_loops(mask):
    h, w = mask.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                if 0 <= y + dy < h and 0 <= x + dx < w and mask[y + dy, x + dx] != mask[y, x]:
                    out[y, x] = True
    return out


def test_boundaries_match_a_loop_over_4_neighbours():
    for seed in range(5):
        mask = np.random.default_rng(seed).integers(0, 3, (5, 8))
        assert (viz.boundaries(mask) == _boundary_by_loops(mask)).all()
    assert not viz.boundaries(np.zeros((3, 3), np.uint8)).any()


def test_contours_are_drawn_in_the_class_colours():
    image = np.full((4, 6, 3), 200, np.uint8)
    mask = np.zeros((4, 6), np.uint8)
    mask[:, 3:] = 2
    out = viz.draw_contours(image, mask, THREE)
    assert (out[:, 2] == THREE.colors[0]).all() and (out[:, 3] == THREE.colors[2]).all()
    assert (out[:, [0, 1, 4, 5]] == 200).all()
    assert (viz.draw_contours(image, mask, THREE, color=(255, 0, 0))[:, 2] == [255, 0, 0]).all()
    faint = viz.overlay(image, mask, THREE, alpha=0.1, contours=True)
    assert (faint[:, 3] == THREE.colors[2]).all() and (faint[:, 5] != THREE.colors[2]).any()


def test_side_by_side_is_image_mask_overlay():
    image, mask = _scene()
    grid = viz.side_by_side(image, mask, THREE, alpha=0.4, gap=3)
    assert grid.shape == (6, 3 * 7 + 2 * 3, 3) and grid.dtype == np.uint8
    assert (grid[:, :7] == image).all()
    assert (grid[:, 7:10] == 255).all()
    assert (grid[:, 10:17] == viz.colorize(mask, THREE)).all()
    assert (grid[:, 20:] == viz.overlay(image, mask, THREE, 0.4)).all()


def test_voc_palette_and_default_classes():
    pal = viz.voc_palette()
    # Known PASCAL VOC colours: background, aeroplane, person, train.
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0]
    assert pal[15].tolist() == [192, 128, 128] and pal[19].tolist() == [128, 192, 0]
    assert len({tuple(c) for c in pal}) == 256
    info = viz.default_classes(4)
    assert info.names == ("class 0", "class 1", "class 2", "class 3")
    assert info.colors[3] == (128, 128, 0)


def test_plot_class_stats_draws_two_or_three_panels():
    counts, presence = np.array([100, 10, 1]), np.array([5, 3, 1])
    fig = viz.plot_class_stats(counts, presence, THREE, n_images=5, sizes={(4, 4): 5})
    assert len(fig.axes) == 2
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([100 / 111, 10 / 111, 1 / 111])
    colours = [tuple(round(v * 255) for v in p.get_facecolor()[:3]) for p in fig.axes[1].patches]
    assert colours == list(THREE.colors)
    fig = viz.plot_class_stats(counts, presence, THREE, sizes={(4, 4): 2, (8, 4): 3})
    assert len(fig.axes) == 3
