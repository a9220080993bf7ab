"""Tests of segutils.data.pipeline: masks stay class IDs through tf.data, shapes, order, cache.

The datasets are a few tiny files written with Pillow in tmp_path; expected values are the arrays
written, not what the pipeline's own readers return.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segutils.data import pipeline
from segutils.data.folders import find_pairs
from segutils.data.pipeline import (
    dataset_size,
    make_dataset,
    resize_image,
    resize_mask,
    take_batch,
)
from segutils.errors import DatasetError

tf = pytest.importorskip("tensorflow")

IDS = np.array([[0, 1, 2, 255, 4], [3, 1, 0, 2, 2], [2, 2, 3, 0, 1], [1, 1, 1, 0, 0]], np.uint8)
H, W = IDS.shape
# Index i is drawn as a colour unrelated to i, so reading colours would give wrong IDs.
LOUD = [v for i in range(256) for v in (255 - i, 7 * i % 256, 99)]


def _palette(path, ids, palette, **kw):
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), np.ascontiguousarray(ids).tobytes())
    im.putpalette(palette)
    im.save(path, **kw)


def _grey(path, ids, **kw):
    Image.fromarray(ids).save(path, **kw)


def _channels(n):
    def write(path, ids):
        extra = [np.full_like(ids, 255)] * (n - 3)
        Image.fromarray(np.stack([ids] * 3 + extra, -1)).save(path)

    return write


# name -> (writer, the IDs it stores). Every way a mask can hold class IDs, through every route.
MASK_ENCODINGS = {
    "grey8.png": (_grey, IDS),
    "grey1.png": (lambda p, ids: Image.fromarray(ids.astype(bool)).save(p), IDS % 2),
    "grey2.png": (lambda p, ids: _grey(p, ids, bits=2), IDS % 4),
    "greyalpha.png": (lambda p, ids: Image.fromarray(np.stack([ids, ids * 0 + 9], -1), "LA")
                      .save(p), IDS),
    "rgb.png": (_channels(3), IDS),
    "rgba.png": (_channels(4), IDS),
    "palette.png": (lambda p, ids: _palette(p, ids, LOUD), IDS),
    "palette_trns.png": (lambda p, ids: _palette(p, ids, LOUD, transparency=0), IDS),
    "palette2.png": (lambda p, ids: _palette(p, ids, LOUD[:12], bits=2), IDS % 4),
    # All entries one colour: inverting colours to indices could not work; indices must be read.
    "palette_same.png": (lambda p, ids: _palette(p, ids, [5, 5, 5] * 256), IDS),
    "grey8.bmp": (lambda p, ids: _grey(p, ids, format="BMP"), IDS),
    "palette8.bmp": (lambda p, ids: _palette(p, ids, LOUD, format="BMP"), IDS),
    "rgb.bmp": (_channels(3), IDS),
    "grey1.bmp": (lambda p, ids: Image.fromarray(ids.astype(bool)).save(p), IDS % 2),
}


def stem_of(name: str) -> str:
    """The file stem make_split gives an encoding ("grey8.bmp" -> "grey8_bmp")."""
    return Path(name).stem + Path(name).suffix.replace(".", "_")


def make_split(root: Path, split: str, images, masks) -> Path:
    """Write images (uint8 arrays) and masks (name -> (writer, ids)) as root/split/..."""
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "masks").mkdir(parents=True, exist_ok=True)
    for (name, (write, ids)), image in zip(masks.items(), images, strict=True):
        stem = stem_of(name)
        Image.fromarray(image).save(root / split / "images" / f"{stem}.png")
        write(root / split / "masks" / f"{stem}{Path(name).suffix}", ids)
    return root


def numbered(root: Path, split: str, n: int, size=(H, W)) -> Path:
    """n pairs whose masks are filled with their own number, so order can be read off."""
    rng = np.random.default_rng(n)
    images = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]
    masks = {f"{k:03d}.png": (_grey, np.full(size, k, np.uint8)) for k in range(n)}
    return make_split(root, split, images, masks)


def order(ds) -> list[int]:
    return [int(m[0, 0]) for _, masks in ds for m in masks.numpy()]


@pytest.fixture(scope="module")
def encodings_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("encodings")
    images = [np.full((H, W, 3), k, np.uint8) for k in range(len(MASK_ENCODINGS))]
    return make_split(root, "train", images, MASK_ENCODINGS)


def test_every_mask_encoding_reads_as_ids(encodings_root):
    pairs = find_pairs(encodings_root, "train")
    ds = make_dataset(encodings_root, "train", batch_size=1, shuffle=False)
    got = {pair.stem: masks[0].numpy() for pair, (_, masks) in zip(pairs, ds, strict=True)}
    for name, (_, ids) in MASK_ENCODINGS.items():
        np.testing.assert_array_equal(got[stem_of(name)], ids, err_msg=name)


def test_palette_png_is_indices_without_the_fix(tmp_path):
    """Documents the TensorFlow behaviour the pipeline works around."""
    _palette(tmp_path / "p.png", IDS, LOUD)
    colours = tf.io.decode_png(tf.io.read_file(str(tmp_path / "p.png")), channels=3).numpy()
    assert not np.array_equal(colours[..., 0], IDS)
    np.testing.assert_array_equal(colours, np.asarray(LOUD, np.uint8).reshape(256, 3)[IDS])


def test_shapes_dtypes_and_range(encodings_root):
    ds = make_dataset(encodings_root, "train", image_size=(8, 6), batch_size=4)
    image_spec, mask_spec = ds.element_spec
    assert image_spec.shape.as_list() == [None, 8, 6, 3] and image_spec.dtype == tf.float32
    assert mask_spec.shape.as_list() == [None, 8, 6] and mask_spec.dtype == tf.int32
    images, masks = take_batch(ds)
    assert images.shape == (4, 8, 6, 3) and masks.shape == (4, 8, 6)
    assert images.dtype == np.float32 and masks.dtype == np.int32
    assert 0.0 <= images.min() and images.max() <= 1.0
    # Same size without image_size: the common size becomes static too.
    fixed = make_dataset(encodings_root, "train", batch_size=5, drop_remainder=True)
    assert fixed.element_spec[0].shape.as_list() == [5, H, W, 3]
    assert fixed.element_spec[1].shape.as_list() == [5, H, W]


def test_resizing_keeps_label_values(encodings_root):
    ds = make_dataset(encodings_root, "train", image_size=(13, 7), batch_size=32, shuffle=False)
    _, masks = take_batch(ds)
    stems = [pair.stem for pair in find_pairs(encodings_root, "train")]
    for mask, stem in zip(masks, stems, strict=True):
        ids = next(ids for name, (_, ids) in MASK_ENCODINGS.items() if stem_of(name) == stem)
        assert set(np.unique(mask)) <= set(np.unique(ids)), stem


def test_images_match_pillow(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    root = tmp_path / "train"
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    _grey(root / "images/grey.png", rgb[..., 0])
    _palette(root / "images/palette.png", IDS, LOUD)
    Image.fromarray(rgb).save(root / "images/rgb.bmp")
    _palette(root / "images/palette8.bmp", IDS, LOUD, format="BMP")  # read through Pillow
    for stem in ("grey", "palette", "rgb", "palette8"):
        _grey(root / f"masks/{stem}.png", IDS)
    expected = {
        "grey": np.stack([rgb[..., 0]] * 3, -1),
        "palette": np.asarray(LOUD, np.uint8).reshape(256, 3)[IDS],
        "rgb": rgb,
        "palette8": np.asarray(LOUD, np.uint8).reshape(256, 3)[IDS],
    }
    pairs = find_pairs(tmp_path, "train")
    ds = make_dataset(tmp_path, "train", batch_size=1, shuffle=False)
    for pair, (images, _) in zip(pairs, ds, strict=True):
        np.testing.assert_array_equal(np.round(images[0].numpy() * 255), expected[pair.stem])


def test_colour_mask_fails_naming_the_file(tmp_path):
    rgb = np.stack([IDS, IDS, IDS * 0 + 7], -1)
    make_split(tmp_path, "train", [np.zeros((H, W, 3), np.uint8)],
               {"colour.png": (lambda p, ids: Image.fromarray(rgb).save(p), IDS)})
    ds = make_dataset(tmp_path, "train", batch_size=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"colour_png\.png.*colors_to_ids"):
        take_batch(ds)


def test_bad_folders_raise_dataset_error(tmp_path):
    numbered(tmp_path, "train", 2)
    (tmp_path / "train/masks/001_png.png").unlink()
    with pytest.raises(DatasetError, match=r"001_png\.png: image without a mask"):
        make_dataset(tmp_path, "train")


@settings(max_examples=40, deadline=None)
@given(
    mask=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20),
                    elements=st.sampled_from([0, 3, 7, 200, 255])),
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
)
def test_nearest_resize_creates_no_labels(mask, size):
    out = resize_mask(mask, size).numpy()
    assert out.shape == size and out.dtype == np.uint8
    assert set(np.unique(out)) <= set(np.unique(mask))


def test_image_resize_area_when_shrinking_identity_when_sized():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    blocks = image.reshape(4, 2, 6, 2, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(resize_image(image, (4, 6)).numpy(), np.floor(blocks + 0.5))
    np.testing.assert_array_equal(resize_image(image, (8, 12)).numpy(), image)
    grey = np.full((5, 7, 3), 201, np.uint8)
    for size in [(9, 13), (3, 13), (9, 4)]:  # enlarging, and mixed: bilinear keeps flat areas
        out = resize_image(grey, size).numpy()
        assert out.dtype == np.uint8 and out.shape == (*size, 3) and (out == 201).all()


def test_nearest_resize_by_two_repeats_pixels():
    """Independent definition: doubling copies each pixel into a 2x2 block."""
    doubled = resize_mask(IDS, (2 * H, 2 * W)).numpy()
    np.testing.assert_array_equal(doubled, IDS.repeat(2, axis=0).repeat(2, axis=1))


def test_same_seed_same_order_new_order_each_epoch(tmp_path):
    numbered(tmp_path, "train", 12)
    first = make_dataset(tmp_path, "train", batch_size=5, seed=3)
    again = make_dataset(tmp_path, "train", batch_size=5, seed=3)
    epochs = [order(first), order(first)]
    assert epochs == [order(again), order(again)]
    assert sorted(epochs[0]) == list(range(12)) and epochs[0] != epochs[1]
    assert epochs[0] != list(range(12))
    assert order(make_dataset(tmp_path, "train", batch_size=5, seed=4)) != epochs[0]
    # Without the cache the paths are shuffled instead: the same seed gives the same order.
    assert order(make_dataset(tmp_path, "train", batch_size=5, seed=3, cache=False)) == epochs[0]


def test_only_train_is_shuffled_by_default(tmp_path):
    numbered(tmp_path, "train", 8)
    numbered(tmp_path, "val", 8)
    assert order(make_dataset(tmp_path, "val", batch_size=3)) == list(range(8))
    assert order(make_dataset(tmp_path, "train", batch_size=3)) != list(range(8))
    assert order(make_dataset(tmp_path, "train", batch_size=3, shuffle=False)) == list(range(8))


def test_cache_serves_the_second_pass(tmp_path):
    numbered(tmp_path, "val", 4)
    cached = make_dataset(tmp_path, "val", batch_size=2)
    uncached = make_dataset(tmp_path, "val", batch_size=2, cache=False)
    on_file = make_dataset(tmp_path, "val", batch_size=2, cache=tmp_path / "cachefile")
    first = [order(cached), order(on_file)]
    order(uncached)
    for f in (tmp_path / "val/images").iterdir():
        f.unlink()  # the files are gone: only a cache can still deliver them
    assert [order(cached), order(on_file)] == first == [[0, 1, 2, 3]] * 2
    assert any(p.name.startswith("cachefile") for p in tmp_path.iterdir())
    with pytest.raises(tf.errors.NotFoundError):
        order(uncached)


def test_augment_runs_after_the_cache_each_epoch(tmp_path):
    numbered(tmp_path, "val", 3)

    def augment(image, mask):
        flip = tf.random.uniform(()) < 0.5
        return (tf.where(flip, image[:, ::-1], image), tf.where(flip, mask[:, ::-1], mask) + 10)

    plain = take_batch(make_dataset(tmp_path, "val", batch_size=3))
    ds = make_dataset(tmp_path, "val", batch_size=3, augment=augment)
    assert ds.element_spec[0].shape.as_list() == [None, H, W, 3]
    flips = []
    for _ in range(4):
        images, masks = take_batch(ds)
        np.testing.assert_array_equal(masks[:, 0, 0] - 10, [0, 1, 2])
        for k in range(3):
            flipped = not np.array_equal(images[k], plain[0][k])
            np.testing.assert_array_equal(images[k], plain[0][k][:, ::-1] if flipped
                                          else plain[0][k])
            flips.append(flipped)
    assert any(flips) and not all(flips)
    with pytest.raises(ValueError, match="[Ss]hape"):  # a size change is caught, not batched
        make_dataset(tmp_path, "val", batch_size=3, augment=lambda i, m: (i[1:], m[1:]))


def test_original_sizes(tmp_path):
    numbered(tmp_path, "test", 2, size=(5, 6))
    Image.fromarray(np.zeros((9, 4, 3), np.uint8)).save(tmp_path / "test/images/zzz.png")
    Image.fromarray(np.zeros((9, 4), np.uint8)).save(tmp_path / "test/masks/zzz.png")
    with pytest.raises(DatasetError, match=r"2 different sizes \(5x6, 9x4\)") as info:
        make_dataset(tmp_path, "test", batch_size=2)
    assert "image_size=" in info.value.fix
    ds = make_dataset(tmp_path, "test", batch_size=1)
    assert ds.element_spec[0].shape.as_list() == [None, None, None, 3]
    assert [m.shape for _, m in ds.as_numpy_iterator()] == [(1, 5, 6), (1, 5, 6), (1, 9, 4)]


def test_repeat_size_and_take_batch(tmp_path):
    numbered(tmp_path, "train", 3)
    assert dataset_size(tmp_path, "train") == 3
    ds = make_dataset(tmp_path, "train", batch_size=2, repeat=True, image_size=4)
    assert len(list(ds.take(5))) == 5  # more batches than one epoch holds
    images, masks = take_batch(ds)
    assert isinstance(images, np.ndarray) and images.shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="empty"):
        take_batch(tf.data.Dataset.range(0))


def test_tensorflow_only_in_the_pipeline():
    import segutils.data.folders
    import segutils.data.io

    for module in (segutils.data.io, segutils.data.folders):
        assert "tensorflow" not in Path(module.__file__).read_text()
    assert pipeline.tf is tf
