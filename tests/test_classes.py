import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from segutils.data.classes import (
    ClassInfo,
    class_frequencies,
    class_pixel_counts,
    colors_to_ids,
    ids_to_colors,
)
from segutils.errors import DatasetError

COLORS = [(0, 0, 0), (128, 64, 128), (70, 70, 70), (220, 20, 60)]


def test_round_trip_by_hand():
    ids = np.array([[0, 1], [2, 3]], np.uint8)
    rgb = ids_to_colors(ids, COLORS)
    assert rgb[0, 1].tolist() == [128, 64, 128] and rgb[1, 1].tolist() == [220, 20, 60]
    assert colors_to_ids(rgb, COLORS).tolist() == ids.tolist()


@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12),
                  elements=st.integers(0, len(COLORS) - 1)))
def test_colour_round_trip_property(ids):
    back = colors_to_ids(ids_to_colors(ids, COLORS), COLORS)
    assert back.dtype == np.uint8 and np.array_equal(back, ids)


def test_ignore_colours_map_to_255():
    rgb = np.array([[[1, 2, 3], [128, 64, 128]]], np.uint8)
    out = colors_to_ids(rgb, COLORS, ignore_colors=[(1, 2, 3)])
    assert out.tolist() == [[255, 1]]


def test_unknown_colour_names_file_colour_and_count():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[0, :3] = (9, 9, 9)
    with pytest.raises(DatasetError) as info:
        colors_to_ids(rgb, COLORS, path="masks/a.png")
    msg = str(info.value)
    assert "masks/a.png" in msg and "(9, 9, 9): 3 px" in msg and "How to fix" in msg


def test_pixel_counts_against_a_loop():
    rng = np.random.default_rng(0)
    masks = [rng.choice([0, 1, 3, 255], size=(5, 7)).astype(np.uint8) for _ in range(4)]
    expected = np.zeros(4, int)
    for m in masks:
        for v in m.ravel():
            if v != 255:
                expected[v] += 1
    got = class_pixel_counts(iter(masks), 4)
    assert got.tolist() == expected.tolist()
    freqs = class_frequencies(masks, 4)
    assert freqs[2] == 0 and np.isclose(freqs.sum(), 1)


def test_out_of_range_ids_are_refused():
    with pytest.raises(ValueError, match=r"IDs \[7\]"):
        class_pixel_counts([np.array([[0, 7]], np.uint8)], 4)


def test_all_ignored_has_no_frequencies():
    with pytest.raises(ValueError, match="no labelled pixels"):
        class_frequencies([np.full((2, 2), 255, np.uint8)], 4)


def test_classinfo_save_load(tmp_path):
    info = ClassInfo(("road", "car"), ((128, 64, 128), (0, 0, 142)))
    info.save(tmp_path)
    doc = json.loads((tmp_path / "classes.json").read_text())
    assert doc["classes"][1] == {"id": 1, "name": "car", "color": [0, 0, 142]}
    assert ClassInfo.load(tmp_path) == info
    pal = info.palette()
    assert pal.shape == (256, 3)
    assert pal[1].tolist() == [0, 0, 142] and pal[255].tolist() == [0, 0, 0]


def test_classinfo_load_errors(tmp_path):
    with pytest.raises(DatasetError, match="no classes file"):
        ClassInfo.load(tmp_path)
    doc = '{"classes": [{"id": 1, "name": "a", "color": [1, 2, 3]}]}'
    (tmp_path / "classes.json").write_text(doc)
    with pytest.raises(DatasetError, match="without gaps"):
        ClassInfo.load(tmp_path)


def test_classinfo_refuses_shared_colours():
    with pytest.raises(ValueError, match="share a colour"):
        ClassInfo(("a", "b"), ((1, 1, 1), (1, 1, 1)))
