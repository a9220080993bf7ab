"""Reading and writing single images and masks (Pillow + NumPy; no TensorFlow).

A mask on disk is trusted only after it has been read as class IDs. Three encodings are accepted,
because they are what real datasets ship:

* 8-bit greyscale PNG/BMP: the grey value is the ID (keras_segmentation, Cityscapes labelIds);
* palette PNG (mode "P"): the palette *index* is the ID and the colours are only for viewers
  (PASCAL VOC). Reading the colours instead (OpenCV, ``tf.io.decode_png``) silently breaks labels;
* RGB(A) with the ID repeated in the three colour channels (keras_segmentation's "prepped" masks).

Everything else (true colour masks, 16-bit masks, JPEG masks, broken files) is an error that names
the file and says how to fix it, so that a bad label never reaches training as a wrong number.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from segutils.errors import DatasetError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types (IHDR byte 9).
PNG_GREY, PNG_RGB, PNG_PALETTE, PNG_GREY_ALPHA, PNG_RGBA = 0, 2, 3, 4, 6

SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
#: EXIF tag number of the orientation (1 = as stored; 2..8 = mirror and/or rotate to display).
EXIF_ORIENTATION = 0x0112
_FIX_COLOR = (
    "convert it to class IDs with a colour table: "
    "segutils.data.classes.colors_to_ids(rgb, colors) with the colours of classes.json"
)


def _error(path: Path, problem: str, fix: str, kind: str) -> DatasetError:
    """A DatasetError tagged with a short ``kind`` (``"truncated"``, ``"color_mask"``, ...).

    The tag lets :mod:`segutils.validate` sort problems without parsing messages.
    """
    err = DatasetError(path, problem, fix)
    err.kind = kind
    return err


def _open(path: Path) -> Image.Image:
    """Open an image lazily (header only); any failure becomes a DatasetError naming the file."""
    if not path.is_file():
        raise _error(path, "file not found", "check the path and the file name", "unreadable")
    if path.stat().st_size == 0:
        raise _error(path, "the file is empty (0 bytes)",
                     "copy or export the file again; the copy was interrupted", "empty_file")
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise _error(path, f"not a readable image ({err})",
                     "re-export the file as PNG, or remove it", "unreadable") from err


def _load(im: Image.Image, path: Path) -> None:
    """Decode every pixel now, so that a truncated or corrupt file fails here, not in training."""
    try:
        im.load()
    except (OSError, SyntaxError, ValueError) as err:
        raise _error(path, f"the pixel data cannot be decoded ({err}); the file is "
                     "truncated or corrupt", "copy or export the file again", "truncated") from err


class Header(NamedTuple):
    """What a file header says, without decoding pixels: size, Pillow format and mode."""

    height: int
    width: int
    format: str
    mode: str


def header(path: str | Path) -> Header:
    """Read an image or mask header (cheap: no pixel data is decoded)."""
    path = Path(path)
    with _open(path) as im:
        width, height = im.size
        return Header(height, width, im.format or "", im.mode)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image or mask, read from the file header without decoding pixels."""
    h = header(path)
    return h.height, h.width


class ImageInfo(NamedTuple):
    """What a fully decoded image file says: size, format, mode and EXIF orientation."""

    height: int
    width: int
    format: str
    mode: str
    #: EXIF orientation tag, 1 when there is none (2..8: viewers mirror or rotate the image).
    orientation: int


def inspect_image(path: str | Path) -> ImageInfo:
    """Decode every pixel of an image file (so a truncated file fails) and describe it.

    Raises :class:`~segutils.errors.DatasetError` (with a ``kind`` tag) like :func:`read_image`.
    The EXIF orientation is read after decoding because PNG files may store it after the pixels.
    """
    path = Path(path)
    with _open(path) as im:
        _load(im, path)
        try:
            orientation = int(im.getexif().get(EXIF_ORIENTATION, 1))
        except (OSError, SyntaxError, ValueError, TypeError):  # a broken EXIF block: no tag
            orientation = 1
        width, height = im.size
        return ImageInfo(height, width, im.format or "", im.mode, orientation)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as uint8 RGB, shape (H, W, 3).

    Greyscale and palette images are expanded to RGB and an alpha channel is dropped, so that every
    image a model sees has three channels. 16-bit images are scaled down to 8 bits.
    """
    path = Path(path)
    with _open(path) as im:
        _load(im, path)
        if im.mode in SIXTEEN_BIT_MODES:
            # Pillow's convert("RGB") clips 16-bit values at 255 (a white image); scale instead.
            grey = (np.asarray(im).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
            return np.repeat(grey[..., None], 3, axis=-1)
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


class PngInfo(NamedTuple):
    """What the pipeline needs to know about a PNG before decoding it."""

    height: int
    width: int
    bit_depth: int
    color_type: int
    #: Byte offset and total length (with length, type and CRC fields) of the PLTE chunk; 0, 0
    #: when there is none.
    plte_offset: int
    plte_length: int


def png_info(path: str | Path) -> PngInfo | None:
    """Parse a PNG's header chunks (up to the first image data); ``None`` for a non-PNG file.

    Only a few hundred bytes are read in the usual case. The palette's position lets the
    ``tf.data`` pipeline swap in an identity palette and so decode palette *indices* with tf.io.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return None
        ihdr = f.read(25)
        if len(ihdr) < 25 or ihdr[4:8] != b"IHDR":
            raise _error(path, "the PNG header is damaged", "copy or export the file again",
                         "unreadable")
        width, height, depth, ctype = struct.unpack(">IIBB", ihdr[8:18])
        offset, plte = 8 + 25, (0, 0)
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I", head[:4])[0], head[4:]
            if kind == b"PLTE":
                plte = (offset, 12 + length)
            if kind in (b"IDAT", b"IEND"):
                break
            offset += 12 + length
            f.seek(offset)
    return PngInfo(height, width, depth, ctype, *plte)


def low_bit_scale(path: str | Path) -> int:
    """Factor by which decoders stretch a 1-, 2- or 4-bit grey PNG to 8 bits (1 otherwise).

    Pillow and tf.io both turn the 2-bit sample 3 into 255; for a mask the stored sample is the ID,
    so readers divide by this factor (255, 85 or 17).
    """
    info = png_info(path)
    if info is None or info.color_type not in (PNG_GREY, PNG_GREY_ALPHA) or info.bit_depth >= 8:
        return 1
    return 255 // (2**info.bit_depth - 1)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask as class IDs, uint8 (H, W).

    Accepts 8-bit grey (the grey value is the ID), palette PNGs (the *index* is the ID, never the
    colour) and RGB(A) whose three colour channels are equal (the ID repeated). Raises
    :class:`~segutils.errors.DatasetError` for colour masks, 16-bit and JPEG masks and broken files.
    """
    path = Path(path)
    with _open(path) as im:
        if im.format == "JPEG" or path.suffix.lower() in (".jpg", ".jpeg"):
            raise _error(
                path, "the mask is a JPEG: lossy compression changes class IDs near every edge",
                "re-export the mask as PNG from the original labels (nearest-neighbour, no "
                "smoothing); a JPEG mask cannot be repaired exactly", "lossy_mask",
            )
        if im.mode in SIXTEEN_BIT_MODES:
            raise _error(
                path, f"16-bit mask (mode {im.mode}); masks must hold 8-bit class IDs 0..255",
                "save the mask as an 8-bit PNG, e.g. Image.fromarray(ids.astype(np.uint8)); "
                "if the IDs are larger than 255, map them to train IDs first", "sixteen_bit_mask",
            )
        _load(im, path)
        mode = im.mode
        if mode in ("P", "PA", "L", "LA", "1"):
            # np.asarray of a P image gives the indices, of L the grey values; drop any alpha.
            ids = np.asarray(im.getchannel(0) if mode in ("PA", "LA") else im)
            ids = ids.astype(np.uint8)
            scale = low_bit_scale(path) if mode in ("L", "LA") else 1
            return ids // scale if scale > 1 else ids
        if mode in ("RGB", "RGBA"):
            rgb = np.asarray(im)[..., :3]
            return _repeated_ids(rgb, path)
    raise _error(path, f"unsupported mask mode {mode!r}",
                 "save the mask as an 8-bit greyscale or palette PNG of class IDs",
                 "unsupported_mode")


def _repeated_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    """IDs of an RGB mask whose channels are equal; a colour mask is an error listing colours.

    The error's ``colors`` (N, 3) and ``counts`` (N,) attributes list every distinct colour
    of the mask, grey ones included, most frequent first: the start of a colour table.
    """
    equal = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    if not equal.all():
        colors = np.unique(rgb[~equal].reshape(-1, 3), axis=0)
        listed = ", ".join(str(tuple(int(v) for v in c)) for c in colors[:5])
        more = f" and {len(colors) - 5} more" if len(colors) > 5 else ""
        err = _error(
            path,
            f"colour mask: {int((~equal).sum())} pixels have different R, G, B values "
            f"({len(colors)} colours such as {listed}{more}), so they are not class IDs",
            _FIX_COLOR, "color_mask",
        )
        every, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        err.colors, err.counts = every[order], counts[order]
        raise err
    return np.ascontiguousarray(rgb[..., 0], dtype=np.uint8)


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Save an RGB image as PNG. uint8 (H, W, 3), or float in [0, 1] (rounded to 8 bits)."""
    path = Path(path)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if image.dtype.kind == "f":
        if image.size and (np.nanmin(image) < 0 or np.nanmax(image) > 1):
            raise ValueError("float images must lie in [0, 1]; scale them or pass uint8")
        image = np.round(image * 255)
    elif image.dtype != np.uint8 and image.size and (image.min() < 0 or image.max() > 255):
        raise ValueError("integer images must lie in 0..255")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(path, format="PNG")
    return path


def write_mask(
    path: str | Path,
    mask: np.ndarray,
    colors: Sequence[Sequence[int]] | np.ndarray | None = None,
) -> Path:
    """Save class IDs, uint8 (H, W), as an 8-bit PNG whose pixel values are the IDs.

    With ``colors`` (one (r, g, b) per class ID, or a (256, 3) palette such as
    ``ClassInfo.palette()``) the file is a palette PNG: its indices are still the IDs, but image
    viewers show the colours. Pillow writes no timestamp, so the same mask gives the same bytes.
    """
    path = Path(path)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask of class IDs, got shape {mask.shape}")
    if mask.dtype.kind not in "biu":
        raise ValueError(f"masks hold integer class IDs; got dtype {mask.dtype}. Round or cast "
                         "deliberately (never save interpolated masks)")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError("class IDs must lie in 0..255 (255 = ignore)")
    ids = mask.astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if colors is None:
        Image.fromarray(ids).save(path, format="PNG")
        return path
    table = np.zeros((256, 3), np.uint8)
    colors = np.asarray(colors, dtype=np.int64).reshape(-1, 3)
    if len(colors) > 256 or (colors.size and (colors.min() < 0 or colors.max() > 255)):
        raise ValueError("colors must be at most 256 (r, g, b) triples in 0..255")
    table[: len(colors)] = colors
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), ids.tobytes())
    im.putpalette(table.ravel().tolist())
    # optimize=False keeps all 256 palette entries: indices are never renumbered.
    im.save(path, format="PNG", optimize=False)
    return path
