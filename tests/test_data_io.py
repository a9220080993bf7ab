"""Tests of segutils.data.io: reading masks as class IDs, clear errors, deterministic writing.

Expected values come from the arrays the tests write with Pillow directly, not from the reader.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segutils.data import io as dio
from segutils.errors import DatasetError

IDS = np.array([[0, 1, 2, 255], [3, 1, 0, 2], [2, 2, 3, 0]], np.uint8)


def save_palette_png(path, ids, palette, **kw):
    """A palette PNG written with Pillow itself; ``palette`` is a flat list of r, g, b values."""
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), np.ascontiguousarray(ids).tobytes())
    im.putpalette(palette)
    im.save(path, **kw)
    return path


def loud_palette():
    """Colours that differ from their indices: index i is drawn as (255 - i, 7 * i % 256, 99)."""
    return [v for i in range(256) for v in (255 - i, 7 * i % 256, 99)]


# --- masks that are read as IDs -------------------------------------------------------------


def test_grey_mask(tmp_path):
    Image.fromarray(IDS).save(tmp_path / "m.png")
    out = dio.read_mask(tmp_path / "m.png")
    assert out.dtype == np.uint8 and out.shape == IDS.shape
    np.testing.assert_array_equal(out, IDS)


def test_palette_mask_gives_indices_not_colours(tmp_path):
    path = save_palette_png(tmp_path / "voc.png", IDS, loud_palette())
    assert Image.open(path).mode == "P"
    np.testing.assert_array_equal(dio.read_mask(path), IDS)


def test_low_bit_depth_palette_and_transparency(tmp_path):
    ids = IDS % 4
    path = save_palette_png(tmp_path / "p2.png", ids, [9, 9, 9, 50, 60, 70, 1, 2, 3, 4, 5, 6],
                            bits=2, transparency=0)
    np.testing.assert_array_equal(dio.read_mask(path), ids)


@pytest.mark.parametrize("channels", [3, 4])
def test_ids_repeated_in_colour_channels(tmp_path, channels):
    planes = [IDS] * 3 + [np.full_like(IDS, 255)] * (channels - 3)
    Image.fromarray(np.stack(planes, axis=-1)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(dio.read_mask(tmp_path / "m.png"), IDS)


def test_grey_alpha_mask_drops_alpha(tmp_path):
    Image.fromarray(np.stack([IDS, np.full_like(IDS, 128)], -1), "LA").save(tmp_path / "m.png")
    np.testing.assert_array_equal(dio.read_mask(tmp_path / "m.png"), IDS)


def test_one_and_two_bit_grey_masks_give_stored_values(tmp_path):
    binary = (IDS % 2).astype(bool)
    Image.fromarray(binary).save(tmp_path / "b.png")  # 1-bit: stored samples 0 and 1
    np.testing.assert_array_equal(dio.read_mask(tmp_path / "b.png"), binary.astype(np.uint8))
    Image.fromarray(IDS % 4).save(tmp_path / "g2.png", bits=2)  # stored samples 0..3
    np.testing.assert_array_equal(dio.read_mask(tmp_path / "g2.png"), IDS % 4)


def test_bmp_masks(tmp_path):
    Image.fromarray(IDS).save(tmp_path / "g.bmp")
    save_palette_png(tmp_path / "p.bmp", IDS, loud_palette())
    Image.fromarray(np.stack([IDS] * 3, -1)).save(tmp_path / "rgb.bmp")
    for name in ("g.bmp", "p.bmp", "rgb.bmp"):
        np.testing.assert_array_equal(dio.read_mask(tmp_path / name), IDS, err_msg=name)


# --- masks that are errors ------------------------------------------------------------------


def test_colour_mask_lists_colours_and_fix(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255), (9, 8, 7), (1, 2, 3),
               (4, 0, 0)]
    for k, c in enumerate(colours):
        rgb.reshape(-1, 3)[k] = c
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    with pytest.raises(DatasetError) as info:
        dio.read_mask(tmp_path / "colour.png")
    msg = str(info.value)
    assert "colour.png" in msg and "colors_to_ids" in msg
    assert "and 2 more" in msg
    listed = [c for c in colours if str(c) in msg]
    assert len(listed) == 5


def test_sixteen_bit_mask(tmp_path):
    Image.fromarray(IDS.astype(np.uint16) * 1000).save(tmp_path / "deep.png")
    with pytest.raises(DatasetError, match=r"deep\.png.*16-bit"):
        dio.read_mask(tmp_path / "deep.png")


@pytest.mark.parametrize("name", ["m.jpg", "jpeg_in_disguise.png"])
def test_jpeg_mask(tmp_path, name):
    Image.fromarray(IDS).save(tmp_path / name, format="JPEG")
    with pytest.raises(DatasetError, match="JPEG") as info:
        dio.read_mask(tmp_path / name)
    assert name in str(info.value) and "PNG" in info.value.fix


def test_broken_files(tmp_path):
    Image.fromarray(np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)).save(
        tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all")
    for name in ("cut.png", "zero.png", "junk.png", "missing.png"):
        for reader in (dio.read_mask, dio.read_image):
            with pytest.raises(DatasetError) as info:
                reader(tmp_path / name)
            assert name in str(info.value), (name, reader)


# --- images ---------------------------------------------------------------------------------


def test_read_image_converts_to_rgb(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(dio.read_image(tmp_path / "grey.png"), np.stack([grey] * 3, -1))
    pal = loud_palette()
    save_palette_png(tmp_path / "pal.png", IDS, pal)
    expected = np.asarray(pal, np.uint8).reshape(256, 3)[IDS]  # the colours, for an image
    np.testing.assert_array_equal(dio.read_image(tmp_path / "pal.png"), expected)
    rgba = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(dio.read_image(tmp_path / "rgba.png"), rgba[..., :3])
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(dio.read_image(tmp_path / "deep.png")[..., 0], grey)


def test_image_size_reads_only_the_header(tmp_path):
    Image.fromarray(np.zeros((30, 70, 3), np.uint8)).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:60])  # header intact, pixels gone
    assert dio.image_size(tmp_path / "a.png") == (30, 70)
    assert dio.image_size(tmp_path / "cut.png") == (30, 70)


def test_png_info_finds_the_palette(tmp_path):
    path = save_palette_png(tmp_path / "p.png", IDS, loud_palette())
    info = dio.png_info(path)
    assert (info.height, info.width, info.bit_depth, info.color_type) == (3, 4, 8, 3)
    data = path.read_bytes()
    assert data[info.plte_offset + 4: info.plte_offset + 8] == b"PLTE"
    assert info.plte_length == 12 + 768
    Image.fromarray(IDS).save(tmp_path / "g.bmp")
    assert dio.png_info(tmp_path / "g.bmp") is None


# --- writing --------------------------------------------------------------------------------


def test_write_mask_plain_and_palette(tmp_path):
    dio.write_mask(tmp_path / "plain.png", IDS)
    with Image.open(tmp_path / "plain.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), IDS)
    colours = [(10, 20, 30), (200, 0, 0), (0, 200, 0), (0, 0, 200)]
    dio.write_mask(tmp_path / "pal.png", IDS, colors=colours)
    with Image.open(tmp_path / "pal.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), IDS)
        assert np.asarray(im.getpalette()[:12]).reshape(4, 3).tolist() == [list(c) for c in colours]


def test_writing_is_deterministic(tmp_path):
    for k in range(2):
        dio.write_mask(tmp_path / f"m{k}.png", IDS, colors=[(1, 2, 3)])
        dio.write_image(tmp_path / f"i{k}.png", np.stack([IDS] * 3, -1))
    for stem in ("m", "i"):
        first, second = ((tmp_path / f"{stem}{k}.png").read_bytes() for k in range(2))
        assert first == second and b"tIME" not in first


def test_write_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="integer"):
        dio.write_mask(tmp_path / "f.png", IDS.astype(np.float32))
    with pytest.raises(ValueError, match="0..255"):
        dio.write_mask(tmp_path / "big.png", IDS.astype(np.int32) + 1)
    with pytest.raises(ValueError, match="shape"):
        dio.write_mask(tmp_path / "rgb.png", np.stack([IDS] * 3, -1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dio.write_image(tmp_path / "i.png", np.full((2, 2, 3), 2.0))


def test_write_image_float_round_trip(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    dio.write_image(tmp_path / "a.png", image / 255.0)
    np.testing.assert_array_equal(dio.read_image(tmp_path / "a.png"), image)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12)),
    palette=st.booleans(),
)
def test_mask_round_trip(tmp_path, ids, palette):
    colours = np.random.default_rng(int(ids.sum())).integers(0, 256, (256, 3)) if palette else None
    dio.write_mask(tmp_path / "m.png", ids, colors=colours)
    np.testing.assert_array_equal(dio.read_mask(tmp_path / "m.png"), ids)
