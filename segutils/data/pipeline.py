"""The ``tf.data`` input pipeline: folders of images and masks -> batches for ``model.fit``.

Steps, in order, and why they are in that order::

    file paths -> parallel decode + resize -> cache -> shuffle -> repeat -> augment -> batch
    -> prefetch

* Decoding uses ``tf.io`` in parallel threads, not Python, so two CPU cores feed a small model.
* Images are shrunk by area averaging and enlarged bilinearly (:func:`resize_image`); masks
  only with nearest neighbour, so no new label appears.
* The cache holds decoded, resized uint8 arrays: later epochs skip the files, and random
  augmentation (after the cache) still differs each epoch.
* Shuffling takes a seed: the same seed gives the same order on every run, and a new order each
  epoch (reproducibly). The order also depends on TensorFlow's global seed, which
  ``segutils.config.seed_everything`` sets.
* ``augment="light"|"medium"|"heavy"``, a course augmenter or an imgaug augmenter augments whole
  batches after the cache, with imgaug in parallel Python threads or (``augment_backend="graph"``,
  ``light`` only) with one XLA-compiled Keras layer inside the graph, batches in parallel: see
  :mod:`segutils.augment.tfdata`.

Masks are read as class IDs. ``tf.io.decode_png`` returns the palette *colours* of a palette PNG
(PASCAL VOC), not its indices, whatever the ``channels`` argument: this module swaps the file's
palette for the identity palette (entry i = (i, i, i)) in memory before decoding, so the decoded
value is the index. Files tf.io cannot decode exactly (1-bit BMP, compressed BMP) are read with
Pillow through :func:`segutils.data.io.read_mask`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from segutils.config import import_quietly
from segutils.data import io as dio
from segutils.data.folders import Pair, find_pairs
from segutils.errors import DatasetError

import_quietly()
import tensorflow as tf  # noqa: E402  (after the quiet import, so no start-up log lines)

AUTOTUNE = tf.data.AUTOTUNE
# How a file is decoded (chosen per file from its header).
GREY, RGB, PALETTE, PILLOW = 0, 1, 2, 3

_COLOR_MASK_MSG = (
    ": colour mask (its R, G, B channels differ), not class IDs. Fix: convert it with "
    "segutils.data.classes.colors_to_ids and the colours of classes.json"
)


def _identity_plte(bit_depth: int) -> bytes:
    """A complete PLTE chunk whose entry i is (i, i, i), for a palette PNG of this bit depth."""
    data = bytes(v for i in range(2**bit_depth) for v in (i, i, i))
    crc = zlib.crc32(b"PLTE" + data)
    return struct.pack(">I", len(data)) + b"PLTE" + data + struct.pack(">I", crc)


# Indexed by bit depth (1, 2, 4 or 8); other entries are never used.
_IDENTITY_PLTE = [_identity_plte(d) if d in (1, 2, 4, 8) else b"" for d in range(9)]


def _bmp_header(path: Path) -> tuple[int, int]:
    """(bits per pixel, compression) of a BMP file."""
    with open(path, "rb") as f:
        head = f.read(34)
    if len(head) < 34 or head[:2] != b"BM":
        return 0, -1
    return struct.unpack("<H", head[28:30])[0], struct.unpack("<I", head[30:34])[0]


def _tf_reads_bmp(path: Path, bits: Sequence[int]) -> bool:
    bpp, compression = _bmp_header(path)
    return bpp in bits and compression == 0


def _image_route(path: Path) -> int:
    """tf.io decodes PNG and JPEG as Pillow does; BMP only when uncompressed 24/32-bit (an 8-bit
    BMP would come back as raw palette indices)."""
    if path.suffix.lower() == ".bmp" and not _tf_reads_bmp(path, (24, 32)):
        return PILLOW
    return RGB


def _mask_route(path: Path) -> tuple[int, int, int, int, int]:
    """(route, divisor, PLTE offset, PLTE length, bit depth) for decoding a mask as IDs."""
    info = dio.png_info(path)
    if info is None:  # BMP: tf.io returns the raw 8-bit index, which is the ID
        if _tf_reads_bmp(path, (8,)):
            return GREY, 1, 0, 0, 8
        return (RGB, 1, 0, 0, 8) if _tf_reads_bmp(path, (24, 32)) else (PILLOW, 1, 0, 0, 8)
    if info.bit_depth == 16:
        return PILLOW, 1, 0, 0, 8  # read_mask raises the clear 16-bit error
    if info.color_type == dio.PNG_PALETTE:
        if info.plte_length == 0:
            return PILLOW, 1, 0, 0, 8
        return PALETTE, 1, info.plte_offset, info.plte_length, info.bit_depth
    if info.color_type in (dio.PNG_GREY, dio.PNG_GREY_ALPHA):
        return GREY, dio.low_bit_scale(path), 0, 0, 8
    return RGB, 1, 0, 0, 8


def _as_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    h, w = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive, got {size}")
    return h, w


def _unless_sized(x: tf.Tensor, size: tuple[int, int], resize: Callable) -> tf.Tensor:
    """``resize(x)``, or ``x`` itself when it already has ``size``: a dataset stored at the
    training size skips a pass over every image (and its rounding) at no cost in quality."""
    same = tf.reduce_all(tf.shape(x)[:2] == tf.constant(size))
    return tf.cond(same, lambda: tf.identity(x), lambda: resize(x))


def resize_image(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resize a uint8 (H, W, 3) image to ``size``, rounded back to uint8.

    * Already ``size``: returned as it is.
    * Smaller in both directions: area averaging (each output pixel is the mean of the input
      pixels it covers). Shrinking needs a filter as wide as the step, or fine detail aliases;
      area averaging is that filter and costs a quarter of an antialiased bilinear resize.
      Measured on 375x500 JPEG street scenes shrunk to 224x224 (benchmarks/augment_pipeline.py's
      data): 0.5 ms per image and 39.3 dB PSNR against Pillow's Lanczos, where antialiased
      bilinear took 2.0 ms for 37.9 dB and plain bilinear (OpenCV's default) 0.3 ms for 33.9.
    * Otherwise (enlarging in at least one direction): bilinear, antialiased along a direction
      that shrinks.
    """
    def resize(x):
        shape = tf.shape(x)
        shrink = (shape[0] >= size[0]) & (shape[1] >= size[1])
        resized = tf.cond(
            shrink,
            lambda: tf.image.resize(x, size, method="area"),
            lambda: tf.image.resize(x, size, method="bilinear", antialias=True))
        # Both filters average with non-negative weights, so the result lies in 0..255.
        return tf.cast(resized + 0.5, tf.uint8)

    return _unless_sized(tf.convert_to_tensor(image), size, resize)


def resize_mask(mask: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Nearest-neighbour resize of an (H, W) mask: every output pixel copies one input pixel,
    so no label value that was not in the mask can appear."""
    mask = tf.convert_to_tensor(mask)
    return _unless_sized(
        mask, size, lambda m: tf.image.resize(m[..., None], size, method="nearest")[..., 0])


def _read_with_pil(reader: Callable[[str], np.ndarray], path: tf.Tensor, rank: int) -> tf.Tensor:
    def read(p):
        return reader(p.decode() if isinstance(p, bytes) else str(p))

    out = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    out.set_shape([None, None, 3][:rank])
    return out


def _decode_mask(path, route, divisor, plte_offset, plte_length, bit_depth, *, pil: bool):
    data = tf.io.read_file(path)

    def grey():
        # channels=0: the file's own channels (decode_bmp refuses 1); channel 0 is grey or index.
        ids = tf.io.decode_image(data, channels=0, expand_animations=False)[..., 0]
        return ids // tf.cast(divisor, tf.uint8)

    def rgb():
        x = tf.io.decode_image(data, channels=3, expand_animations=False)
        same = tf.reduce_all((x[..., 0] == x[..., 1]) & (x[..., 1] == x[..., 2]))
        check = tf.debugging.Assert(same, [tf.strings.join([path, _COLOR_MASK_MSG])])
        with tf.control_dependencies([check]):
            return tf.identity(x[..., 0])

    def palette():
        patched = tf.strings.join([
            tf.strings.substr(data, 0, plte_offset),
            tf.gather(tf.constant(_IDENTITY_PLTE), bit_depth),
            tf.strings.substr(data, plte_offset + plte_length, -1),
        ])
        return tf.io.decode_png(patched, channels=3)[..., 0]

    branches = [grey, rgb, palette]
    if pil:
        branches.append(lambda: _read_with_pil(dio.read_mask, path, 2))
    return tf.switch_case(route, branches)


def dataset_from_pairs(
    pairs: Sequence[Pair],
    *,
    image_size: int | Sequence[int] | None = None,
    batch_size: int = 8,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool | str | Path = True,
    repeat: bool = False,
    drop_remainder: bool = False,
    augment: Callable | str | None = None,
    augment_backend: str = "imgaug",
    num_parallel_calls: int = AUTOTUNE,
    name: str | Path = "dataset",
) -> tf.data.Dataset:
    """:func:`make_dataset` for a list of pairs you chose yourself (a subset, a k-fold split).

    ``name`` only labels errors.
    """
    if not pairs:
        raise DatasetError(name, "no image/mask pairs", "check the folder and the split")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    size = _as_size(image_size)
    static = size or _common_size(pairs, batch_size, name)

    mask_routes = np.array([_mask_route(Path(p.mask)) for p in pairs], np.int64)
    image_routes = np.array([_image_route(Path(p.image)) for p in pairs], np.int32)
    mask_pil = bool((mask_routes[:, 0] == PILLOW).any())
    image_pil = bool((image_routes == PILLOW).any())
    elements = (
        [str(p.image) for p in pairs],
        image_routes,
        [str(p.mask) for p in pairs],
        *(mask_routes[:, k].astype(np.int32) for k in range(5)),
    )

    def load(image_path, image_route, mask_path, route, divisor, plte_off, plte_len, depth):
        def with_tf():
            data = tf.io.read_file(image_path)
            return tf.io.decode_image(data, channels=3, expand_animations=False)

        if image_pil:  # only then does the graph hold Python (not serialisable, holds the GIL)
            image = tf.cond(image_route == PILLOW,
                            lambda: _read_with_pil(dio.read_image, image_path, 3), with_tf)
        else:
            image = with_tf()
        mask = _decode_mask(mask_path, route, divisor, plte_off, plte_len, depth, pil=mask_pil)
        if size is not None:
            image, mask = resize_image(image, size), resize_mask(mask, size)
        if static is not None:
            image = tf.ensure_shape(image, (*static, 3))
            mask = tf.ensure_shape(mask, static)
        return image, mask

    def finish(image, mask):
        image = tf.cast(image, tf.float32) / 255.0
        mask = tf.cast(mask, tf.int32)
        if augment is not None:
            image, mask = augment(image, mask)
            image, mask = tf.cast(image, tf.float32), tf.cast(mask, tf.int32)
        if augment is not None and static is not None:
            # Restores shapes a py_function augmentation loses, and fails if it changed the size.
            image = tf.ensure_shape(image, (*static, 3))
            mask = tf.ensure_shape(mask, static)
        return image, mask

    ds = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle and not cache:  # shuffling paths is cheaper than shuffling decoded images
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=num_parallel_calls)
    if cache:
        ds = ds.cache() if cache is True else ds.cache(str(cache))
        if shuffle:
            ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if augment is None or _is_tensor_function(augment):
        ds = ds.map(finish, num_parallel_calls=num_parallel_calls)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    else:  # imported here: augmentation sits above the data layer and loads imgaug or Keras
        from segutils.augment.tfdata import augment_batches

        ds = augment_batches(ds, augment, backend=augment_backend, batch_size=batch_size,
                             drop_remainder=drop_remainder, seed=seed,
                             num_parallel_calls=num_parallel_calls)
    return ds.prefetch(AUTOTUNE)


def _is_tensor_function(augment) -> bool:
    """True for a plain ``augment(image, mask)`` of tensors; False for what
    :mod:`segutils.augment` resolves (a preset name, a dict, an imgaug augmenter)."""
    if isinstance(augment, str) or not callable(augment):
        return False
    return not type(augment).__module__.startswith(("imgaug", "segutils.augment"))


def _common_size(pairs: Sequence[Pair], batch_size: int, name) -> tuple[int, int] | None:
    """The one size all images share (static shapes for free), else None when batch_size is 1."""
    sizes = sorted({dio.image_size(p.image) for p in pairs})
    if len(sizes) == 1:
        return sizes[0]
    if batch_size == 1:
        return None
    shown = ", ".join(f"{h}x{w}" for h, w in sizes[:5]) + (" ..." if len(sizes) > 5 else "")
    raise DatasetError(
        name,
        f"the images have {len(sizes)} different sizes ({shown}), so batches of "
        f"{batch_size} cannot be stacked",
        "pass image_size=(height, width) to resize every image, or use batch_size=1",
    )


def make_dataset(
    root: str | Path,
    split: str,
    *,
    image_size: int | Sequence[int] | None = None,
    batch_size: int = 8,
    shuffle: bool | None = None,
    seed: int = 0,
    cache: bool | str | Path = True,
    repeat: bool = False,
    drop_remainder: bool = False,
    augment: Callable | str | None = None,
    augment_backend: str = "imgaug",
    num_parallel_calls: int = AUTOTUNE,
) -> tf.data.Dataset:
    """Batches of (image, mask) from a dataset folder, ready for ``model.fit``.

    Yields images float32 (B, H, W, 3) in [0, 1] and masks int32 (B, H, W) of class IDs. With
    ``image_size`` (an int or (height, width)) every pair is resized to it and the shapes are
    static; without it images keep their size, which works when all images share one size (or
    with ``batch_size=1``). The batch dimension is static only with ``drop_remainder=True``.

    ``shuffle=None`` shuffles the train split only. ``cache`` keeps the decoded, resized data in
    memory (``True``) or in a file (a path). ``augment`` runs after the cache, so every epoch
    sees new random changes: a preset (``"light"``, ``"medium"``, ``"heavy"``), a course
    augmenter name, ``{name: strength}`` or an imgaug augmenter, applied jointly to images and
    masks per batch by ``augment_backend="imgaug"`` (Python threads) or, for ``"light"``,
    ``"graph"`` (a Keras layer compiled with XLA, no Python); see :mod:`segutils.augment`.
    A plain function ``augment(image, mask) -> (image, mask)`` of tensors runs per example
    instead, on float32 (H, W, 3) images and int32 (H, W) masks, and must keep the size. All
    problems with the files are reported before anything is read (see
    :func:`segutils.data.folders.find_pairs`); only a colour mask in RGB form is found while
    iterating (``tf.errors.InvalidArgumentError`` naming the file), as it takes decoding.
    """
    pairs = find_pairs(root, split, check_sizes=True)
    return dataset_from_pairs(
        pairs,
        image_size=image_size,
        batch_size=batch_size,
        shuffle=(split == "train") if shuffle is None else shuffle,
        seed=seed,
        cache=cache,
        repeat=repeat,
        drop_remainder=drop_remainder,
        augment=augment,
        augment_backend=augment_backend,
        num_parallel_calls=num_parallel_calls,
        name=Path(root) / split,
    )


def dataset_size(root: str | Path, split: str) -> int:
    """Number of image/mask pairs in a split (file names only; no file is opened)."""
    return len(find_pairs(root, split, check_sizes=False))


def take_batch(ds: tf.data.Dataset) -> tuple[np.ndarray, ...]:
    """The first batch of ``ds`` as NumPy arrays, e.g. ``images, masks = take_batch(ds)``."""
    for batch in ds.take(1):
        return tuple(np.asarray(t) for t in tf.nest.flatten(batch))
    raise ValueError("the dataset is empty")
