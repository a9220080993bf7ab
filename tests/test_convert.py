"""Tests of segutils.data.convert and segutils.data.label_tables: every mapping from a dataset's
label files to class IDs, against tables written out here from the datasets' documentation.

The expected values are independent definitions (the devkits' tables, copied by hand below),
never the module's own tables run twice.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segutils.cli.convert import add_arguments as add_convert_arguments
from segutils.cli.convert import run as main_convert
from segutils.data import label_tables as T
from segutils.data.classes import ClassInfo, colors_to_ids, ids_to_colors
from segutils.data.convert import ColorMap, SbdMat, Source, ValueMap, convert_sources
from segutils.data.datasets import DATASETS
from segutils.data.io import read_mask
from segutils.errors import DatasetError

# Cityscapes train IDs as listed in cityscapesScripts (labelId: trainId); all others -> 255.
CITYSCAPES_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
# Colours of a few VOC classes as the VOC devkit's palette PNGs show them.
VOC_KNOWN = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128),
             15: (192, 128, 128), 20: (0, 64, 128), 255: (224, 224, 192)}


def voc_color_by_loop(i: int) -> tuple[int, int, int]:
    """The devkit's VOClabelcolormap.m, written as its loop (bit by bit)."""
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def test_voc_colormap_matches_devkit_loop_and_known_colours():
    cmap = T.voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    assert [tuple(int(v) for v in cmap[i]) for i in range(256)] == [
        voc_color_by_loop(i) for i in range(256)]
    for i, color in VOC_KNOWN.items():
        assert tuple(cmap[i]) == color
    assert T.VOC_CLASSES.n_classes == 21 and T.VOC_CLASSES.names[15] == "person"


def test_cityscapes_label_ids_to_train_ids_every_value():
    decode = ValueMap.of("cs", T.CITYSCAPES_LABEL_IDS)
    raw = np.arange(34, dtype=np.uint8).reshape(2, 17)
    expected = np.array([CITYSCAPES_TRAIN.get(v, 255) for v in range(34)]).reshape(2, 17)
    np.testing.assert_array_equal(decode.apply(raw), expected)
    assert T.CITYSCAPES_CLASSES.n_classes == 19
    assert T.CITYSCAPES_CLASSES.names[0] == "road" and T.CITYSCAPES_CLASSES.names[18] == "bicycle"


def test_unknown_value_is_an_error_naming_file_values_and_counts():
    raw = np.array([[7, 34, 34], [200, 7, 7]], np.uint8)
    with pytest.raises(DatasetError) as err:
        ValueMap.of("cityscapes", T.CITYSCAPES_LABEL_IDS).apply(raw, "a_gtFine_labelIds.png")
    text = str(err.value)
    assert "a_gtFine_labelIds.png" in text and "34: 2 px" in text and "200: 1 px" in text


def test_pet_trimap_variants():
    trimap = np.array([[1, 2, 3], [3, 2, 1]], np.uint8)
    ignore = ValueMap.of("pet", T.PET_VARIANTS["border_ignore"][1]).apply(trimap)
    np.testing.assert_array_equal(ignore, [[1, 0, 255], [255, 0, 1]])
    border = ValueMap.of("pet", T.PET_VARIANTS["border_class"][1]).apply(trimap)
    np.testing.assert_array_equal(border, [[1, 0, 2], [2, 0, 1]])
    with pytest.raises(DatasetError, match="0: 1 px"):
        ValueMap.of("pet", T.PET_VARIANTS["border_ignore"][1]).apply(np.array([[0, 1]]))


def test_camvid_segnet_ids():
    raw = np.arange(12, dtype=np.uint8)[None]
    np.testing.assert_array_equal(ValueMap.of("c", T.CAMVID_SEGNET_IDS).apply(raw),
                                  [list(range(11)) + [255]])
    with pytest.raises(DatasetError, match="12: 1 px"):
        ValueMap.of("c", T.CAMVID_SEGNET_IDS).apply(np.array([[12]], np.uint8))


def test_kitti_road_colours():
    decode = ColorMap.of("kitti", T.KITTI_ROAD_COLOR_TABLE)
    rgb = np.array([[[255, 0, 255], [255, 0, 0], [0, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(decode.apply(rgb), [[1, 0, 255]])
    bad = rgb.copy()
    bad[0, 2] = (255, 0, 254)  # what a smoothing resize makes of an edge
    with pytest.raises(DatasetError, match=r"\(255, 0, 254\): 1 px"):
        decode.apply(bad, "um_road_000000.png")


def test_cityscapes_colours():
    decode = ColorMap.of("cs", T.CITYSCAPES_COLOR_TABLE)
    rgb = np.array([[[128, 64, 128], [153, 153, 153], [111, 74, 0], [0, 0, 0], [119, 11, 32],
                     [0, 0, 90]]], np.uint8)
    # road, pole (and polegroup: same colour), dynamic -> ignore, unlabeled, bicycle, caravan
    np.testing.assert_array_equal(decode.apply(rgb), [[0, 5, 255, 255, 18, 255]])


def test_camvid_colours_group_the_32_classes():
    decode = ColorMap.of("camvid", T.CAMVID_COLOR_TABLE)
    names = T.CAMVID_NAMES
    cases = {(64, 128, 192): "car",  # SUVPickupTruck
             (0, 0, 192): "pavement",  # Sidewalk
             (60, 40, 222): "pavement",  # SegNet's display colour for pavement
             (128, 0, 192): "road",  # LaneMkgsDriv
             (192, 0, 192): "bicyclist",  # MotorcycleScooter
             (128, 128, 128): "sky"}
    rgb = np.array([list(cases)], np.uint8)
    np.testing.assert_array_equal(decode.apply(rgb), [[names.index(n) for n in cases.values()]])
    np.testing.assert_array_equal(decode.apply(np.zeros((1, 1, 3), np.uint8)), [[255]])
    assert len({c for _, c, _ in T.CAMVID_32}) == 32


def test_color_table_rejects_duplicate_colours():
    with pytest.raises(ValueError, match="twice"):
        ColorMap.of("x", [((1, 2, 3), 0), ((1, 2, 3), 1)])


TABLES = {
    "kitti_road": T.KITTI_ROAD_COLOR_TABLE,
    "cityscapes": T.CITYSCAPES_COLOR_TABLE,
    "camvid": T.CAMVID_COLOR_TABLE,
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(TABLES)), data=st.data())
def test_color_tables_round_trip(name, data):
    decode = ColorMap.of(name, TABLES[name])
    ids = data.draw(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                               elements=st.sampled_from(sorted({i for _, i in TABLES[name]}))))
    np.testing.assert_array_equal(decode.apply(decode.colorize(ids)), ids)


SPEC_TABLES = {(name, variant): (classes, spec.ignore_color)
               for name, spec in DATASETS.items() for variant, classes in spec.variants.items()}


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(sorted(SPEC_TABLES)), data=st.data())
def test_class_colours_round_trip_with_ignore(key, data):
    """Each dataset's class colours plus its ignore colour: distinct, and IDs -> colours -> IDs
    is the identity (through colors_to_ids, ignore included)."""
    classes, ignore_color = SPEC_TABLES[key]
    ids = data.draw(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                               elements=st.sampled_from([*range(classes.n_classes), 255])))
    rgb = ids_to_colors(ids, classes.colors)
    rgb[ids == 255] = ignore_color
    np.testing.assert_array_equal(
        colors_to_ids(rgb, classes.colors, ignore_colors=[ignore_color]), ids)
    table = ColorMap.of("spec", [(c, i) for i, c in enumerate(classes.colors)]
                        + [(ignore_color, 255)])  # raises if the ignore colour is a class colour
    np.testing.assert_array_equal(table.apply(table.colorize(ids)), ids)


def _write_grey(path, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(ids, np.uint8)).save(path)


def test_convert_sources_writes_once_reuses_and_refreshes(tmp_path):
    decoder = ValueMap.of("pet", T.PET_VARIANTS["border_ignore"][1])
    src = tmp_path / "trimaps" / "a.png"
    _write_grey(src, [[1, 2], [3, 1]])
    image = tmp_path / "a.jpg"
    classes = T.PET_VARIANTS["border_ignore"][0]
    pairs = convert_sources([Source("a", image, src, decoder)], tmp_path / "cache", classes,
                            progress=False)
    out = pairs[0].mask
    assert out.parent == tmp_path / "cache" / decoder.key and pairs[0].image == image
    np.testing.assert_array_equal(read_mask(out), [[1, 0], [255, 1]])
    assert Image.open(out).mode == "P"  # viewers see colours, readers get IDs
    assert (out.parent / "conversion.json").is_file()
    first = out.stat().st_mtime_ns
    convert_sources([Source("a", image, src, decoder)], tmp_path / "cache", classes,
                    progress=False)
    assert out.stat().st_mtime_ns == first  # reused, not rewritten
    _write_grey(src, [[2, 2], [2, 2]])
    os.utime(src, ns=(first + 10**9, first + 10**9))  # the source changed after the conversion
    convert_sources([Source("a", image, src, decoder)], tmp_path / "cache", classes,
                    progress=False)
    np.testing.assert_array_equal(read_mask(out), [[0, 0], [0, 0]])
    assert not list(out.parent.glob(".*tmp"))


def test_convert_sources_reports_every_bad_file_at_once(tmp_path):
    decoder = ValueMap.of("camvid", T.CAMVID_SEGNET_IDS)
    sources = []
    for stem, ids in (("good", [[0, 11]]), ("bad1", [[12, 0]]), ("bad2", [[40, 40]])):
        _write_grey(tmp_path / f"{stem}.png", ids)
        sources.append(Source(stem, tmp_path / "x.png", tmp_path / f"{stem}.png", decoder))
    with pytest.raises(DatasetError) as err:
        convert_sources(sources, tmp_path / "cache", progress=False)
    text = str(err.value)
    assert "2 mask(s)" in text and "bad1.png" in text and "bad2.png" in text
    assert "40: 2 px" in text
    assert (tmp_path / "cache" / decoder.key / "good.png").is_file()
    assert not (tmp_path / "cache" / decoder.key / "bad1.png").exists()


def test_ids_pass_through_without_a_decoder(tmp_path):
    pairs = convert_sources([Source("a", tmp_path / "a.jpg", tmp_path / "a.png", None)],
                            tmp_path / "cache", progress=False)
    assert pairs[0].mask == tmp_path / "a.png" and not (tmp_path / "cache").exists()


def test_sbd_mat(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    seg = np.array([[0, 15, 15], [20, 0, 1]], np.uint8)
    scipy_io.savemat(tmp_path / "2008_000002.mat", {"GTcls": {
        "Segmentation": seg, "Boundaries": np.zeros((20, 1), object),
        "CategoriesPresent": np.array([1, 15, 20], np.uint8)}})
    np.testing.assert_array_equal(SbdMat().read(tmp_path / "2008_000002.mat"), seg)
    scipy_io.savemat(tmp_path / "other.mat", {"x": seg})
    with pytest.raises(DatasetError, match="not an SBD"):
        SbdMat().read(tmp_path / "other.mat")


def _parse(argv):
    parser = add_convert_arguments(argparse.ArgumentParser())
    return parser.parse_args(argv)


def test_convert_command_for_a_folder_of_colour_masks(tmp_path, capsys):
    classes = ClassInfo(("bg", "road"), ((10, 10, 10), (200, 0, 200)))
    classes.save(tmp_path / "classes.json")
    src = tmp_path / "rgb"
    src.mkdir()
    ids = np.array([[0, 1, 1], [1, 0, 255]], np.uint8)
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[ids == 0], rgb[ids == 1], rgb[ids == 255] = (10, 10, 10), (200, 0, 200), (9, 9, 9)
    Image.fromarray(rgb).save(src / "a.png")
    args = _parse(["--classes", str(tmp_path / "classes.json"), "--src", str(src), "--out",
                   str(tmp_path / "ids"), "--ignore-color", "9", "9", "9", "--quiet"])
    assert args.func(args) == 0
    np.testing.assert_array_equal(read_mask(tmp_path / "ids" / "a.png"), ids)
    assert ClassInfo.load(tmp_path / "ids") == classes
    assert "Wrote 1 ID masks" in capsys.readouterr().out
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(src / "b.png")
    with pytest.raises(DatasetError) as err:
        main_convert(_parse(["--classes", str(tmp_path / "classes.json"), "--src", str(src),
                             "--out", str(tmp_path / "ids2"), "--quiet"]))
    assert "b.png" in str(err.value) and "(1, 2, 3): 1 px" in str(err.value)


def test_convert_command_needs_something_to_do():
    with pytest.raises(DatasetError, match="nothing to convert"):
        main_convert(_parse([]))
    with pytest.raises(DatasetError, match="--classes, --src and --out"):
        main_convert(_parse(["--src", "x"]))
