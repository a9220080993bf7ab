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
