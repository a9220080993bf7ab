"""Segment new images: class-ID masks and overlays at each image's original size.

A model often runs at another size than the photo (a fixed input size, or a smaller size for
speed). The image is resized bilinearly on the way in; on the way out it is the *logits* that are
resized back to the original size, bilinearly, and only then is the argmax taken. Resizing the
argmax mask instead would either interpolate labels (inventing class 2.5 between 2 and 3) or, with
nearest neighbour, give blocky edges; interpolating the scores gives smooth, honest boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from segutils.data.classes import ClassInfo
from segutils.data.folders import IMAGE_EXTS
from segutils.errors import DatasetError


class Prediction(NamedTuple):
    """What :func:`predict` wrote for one input image."""

    source: Path
    mask: Path
    overlay: Path | None
    size: tuple[int, int]


def model_input_size(model) -> tuple[int, int] | None:
    """The (height, width) a model is built for, or None when it takes any size."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) == 4 and shape[1] is not None and shape[2] is not None:
        return int(shape[1]), int(shape[2])
    return None


def _as_float(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def _resize(x, size: tuple[int, int], antialias: bool):
    from keras import ops

    return ops.image.resize(x, size, interpolation="bilinear", antialias=antialias)


def predict_logits(model, images, *, out_size: Sequence[int] | None = None,
                   image_size: Sequence[int] | None = None) -> np.ndarray:
    """The model's output for a batch of images, float32 (B, H, W, C), at ``out_size``.

    ``images`` are uint8 (0..255) or float in [0, 1], (B, H, W, 3). They are resized
    (bilinear, antialiased when shrinking, like the training pipeline) to ``image_size``, or to
    the model's fixed input size when it has one; the output is resized (bilinear) to
    ``out_size`` (default: the images' own size).
    """
    from keras import ops

    x = _as_float(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected images (B, H, W, 3), got shape {x.shape}")
    own = tuple(x.shape[1:3])
    run_at = tuple(image_size) if image_size is not None else model_input_size(model)
    if run_at is not None and run_at != own:
        # as the pipeline does: resize the 8-bit image, round, back to [0, 1]
        x = ops.round(_resize(x * 255.0, run_at, antialias=True)) / 255.0
        x = ops.clip(x, 0.0, 1.0)
    logits = ops.cast(model(x, training=False), "float32")
    out_size = own if out_size is None else tuple(int(s) for s in out_size)
    if tuple(logits.shape[1:3]) != out_size:
        logits = _resize(logits, out_size, antialias=False)
    return np.asarray(ops.convert_to_numpy(logits))


def predict_mask(model, image, *, image_size: Sequence[int] | None = None) -> np.ndarray:
    """Class IDs (H, W) uint8 for one image (H, W, 3), at the image's own size."""
    logits = predict_logits(model, np.asarray(image)[None], image_size=image_size)
    return np.argmax(logits[0], axis=-1).astype(np.uint8)


def find_images(inputs: Sequence[str | Path] | str | Path) -> list[Path]:
    """Image files from a list of files and folders (a folder's images, sorted by name)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            images = sorted(p for p in item.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
            if not images:
                raise DatasetError(item, f"no images ({', '.join(IMAGE_EXTS)}) in this folder",
                                   "pass image files, or the folder that holds them "
                                   "(sub-folders are not searched)")
            found += images
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_EXTS:
                raise DatasetError(item, f"not an image file this course reads ({item.suffix})",
                                   f"convert it to one of {', '.join(IMAGE_EXTS)}")
            found.append(item)
        else:
            raise DatasetError(item, "no such file or folder",
                               "check the path (relative paths start at the current folder)")
    if not found:
        raise DatasetError(None, "no input images given", "pass image files or folders")
    return found


def _unique_stem(stem: str, used: set[str]) -> str:
    name, k = stem, 1
    while name in used:
        name, k = f"{stem}_{k}", k + 1
    used.add(name)
    return name


def predict(model, inputs, out_dir: str | Path, classes: ClassInfo | None = None, *,
            image_size: Sequence[int] | None = None, alpha: float = 0.5,
            overlays: bool = True) -> list[Prediction]:
    """Segment image files and write the results.

    Parameters
    ----------
    model:
        A Keras model (images in [0, 1] -> logits), or a path to a ``.keras`` file.
    inputs:
        An image file, a folder of images, or a list of both.
    out_dir:
        Receives ``masks/<stem>.png`` (8-bit palette PNGs whose pixel values are the class IDs,
        shown in the class colours by image viewers; read them back with
        :func:`segutils.data.io.read_mask`) and ``overlays/<stem>.png`` (image with the
        prediction blended in). Both have the size of their input image.
    classes:
        Class table for the colours (default: VOC colours, one per model output channel).
    image_size:
        (height, width) to run the model at (default: the model's fixed input size, or each
        image's own size for a model that takes any size).
    """
    from segutils import viz
    from segutils.data.io import read_image, write_image, write_mask

    if isinstance(model, (str, Path)):
        from segutils.evaluate.deploy import load_model

        model = load_model(model)
    paths = find_images(inputs)
    out_dir = Path(out_dir)
    if classes is None:
        classes = viz.default_classes(int(model.outputs[0].shape[-1]))
    results, used = [], set()
    for path in paths:
        image = read_image(path)
        mask = predict_mask(model, image, image_size=image_size)
        stem = _unique_stem(path.stem, used)
        mask_path = write_mask(out_dir / "masks" / f"{stem}.png", mask, classes.palette())
        overlay_path = None
        if overlays:
            overlay_path = write_image(out_dir / "overlays" / f"{stem}.png",
                                       viz.overlay(image, mask, classes, alpha))
        results.append(Prediction(path, mask_path, overlay_path, mask.shape))
    return results
