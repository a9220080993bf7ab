"""Joint image + mask augmentation with imgaug: one random draw moves both.

Two rules make augmentation safe for segmentation:

* **Geometric** transforms (flip, crop, scale, rotate, shear, perspective, elastic) move pixels,
  so the mask must move in exactly the same way, or the labels stop matching the image. The mask
  is warped with nearest neighbour only: interpolating class IDs would invent classes.
* **Photometric** transforms (brightness, contrast, hue, blur, noise) change what a pixel looks
  like, not what it is, so the mask is left alone.

imgaug does both when image and mask go through one call
(``augmenter(image=..., segmentation_maps=SegmentationMapsOnImage(...))``): a single random draw
is shared, and segmentation maps always use nearest neighbour. One thing imgaug gets wrong for
segmentation: pixels that a transform *adds* (the corners a rotation uncovers, the border of a
zoom-out) are filled with 0 in the mask, which is a real class (often "background"). Here the
mask goes in shifted by one (class c is stored as c + 1), so imgaug's 0 can only mean "added";
on the way out 0 becomes the ignore label 255 and every other value is shifted back. The loss
then ignores those pixels instead of learning that black corners are background.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Mapping

import numpy as np

from segutils.augment import compat
from segutils.data.classes import IGNORE_INDEX
from segutils.errors import SegutilsError


class AugmentationError(SegutilsError):
    """An augmenter that cannot be used here, or one that failed, with the reason and a fix."""


@dataclasses.dataclass(frozen=True)
class Transform:
    """One augmenter the course offers.

    ``build(strength)`` returns an imgaug augmenter; ``strength`` in [0, 1] scales its range
    (0: no change, 1: the strongest the course uses). ``geometric`` transforms move the mask
    with the image; ``adds_pixels`` ones can uncover pixels, which the mask marks 255.
    """

    name: str
    geometric: bool
    adds_pixels: bool
    about: str
    build: Callable[[float], object]


def _affine(scale=0.0, rotate=0.0, shift=0.0, shear=0.0):
    """One imgaug Affine for several geometric changes: one warp instead of several."""
    iaa = compat.load()
    kwargs = {}
    if scale:
        kwargs["scale"] = (1.0 - scale, 1.0 + scale)
    if rotate:
        kwargs["rotate"] = (-rotate, rotate)
    if shift:
        kwargs["translate_percent"] = {"x": (-shift, shift), "y": (-shift, shift)}
    if shear:
        kwargs["shear"] = (-shear, shear)
    if not kwargs:  # imgaug's Affine() without arguments is *random*, not the identity
        kwargs["scale"] = 1.0
    return iaa.Affine(**kwargs, order=1, cval=0, mode="constant")


def _transforms() -> dict[str, Transform]:
    iaa = compat.load()
    return {t.name: t for t in [
        Transform("flip", True, False, "mirror left-right, half of the time",
                  lambda t: iaa.Fliplr(0.5 if t > 0 else 0.0)),
        Transform("crop", True, False, "cut up to 25% off each side, resize back (zoom in)",
                  lambda t: iaa.Crop(percent=(0.0, 0.25 * t), keep_size=True)),
        Transform("scale", True, True, "zoom in or out by up to 40%",
                  lambda t: _affine(scale=0.4 * t)),
        Transform("rotate", True, True, "rotate by up to 45 degrees",
                  lambda t: _affine(rotate=45.0 * t)),
        Transform("shift", True, True, "move by up to 20% of the size",
                  lambda t: _affine(shift=0.2 * t)),
        Transform("shear", True, True, "shear by up to 30 degrees",
                  lambda t: _affine(shear=30.0 * t)),
        Transform("perspective", True, False, "tilt the camera (corners move up to 15%)",
                  lambda t: iaa.PerspectiveTransform(scale=(0.0, 0.15 * t),
                                                     keep_size=True)),
        Transform("elastic", True, True, "bend the image like rubber",
                  lambda t: iaa.ElasticTransformation(alpha=(0.0, 60.0 * t), sigma=6.0, order=1)),
        Transform("brightness", False, False, "add up to +-50 to every channel",
                  lambda t: iaa.Add((-50.0 * t, 50.0 * t))),
        Transform("contrast", False, False, "stretch or squeeze contrast by up to 50%",
                  lambda t: iaa.LinearContrast((1.0 - 0.5 * t, 1.0 + 0.5 * t))),
        Transform("hue", False, False, "turn the colour wheel by up to 60 degrees",
                  lambda t: iaa.AddToHue((-round(42.5 * t), round(42.5 * t)))),
        Transform("saturation", False, False, "make colours up to 60% paler or stronger",
                  lambda t: iaa.MultiplySaturation((1.0 - 0.6 * t, 1.0 + 0.6 * t))),
        Transform("blur", False, False, "Gaussian blur with sigma up to 2.5 pixels",
                  lambda t: iaa.GaussianBlur(sigma=(0.0, 2.5 * t))),
        Transform("noise", False, False, "Gaussian noise with sigma up to 10% of 255",
                  lambda t: iaa.AdditiveGaussianNoise(scale=(0.0, 25.5 * t))),
    ]}


_CACHE: dict[str, dict[str, Transform]] = {}


def transforms() -> dict[str, Transform]:
    """The augmenters the course offers, by name (``"flip"``, ..., ``"noise"``), in order."""
    if "all" not in _CACHE:
        _CACHE["all"] = _transforms()
    return _CACHE["all"]


def augmenter(name: str, strength: float = 0.5):
    """The course augmenter ``name`` at ``strength`` in [0, 1] (see :func:`transforms`)."""
    table = transforms()
    if name not in table:
        raise AugmentationError(f"Unknown augmenter {name!r}. Choose one of: {', '.join(table)}.")
    if not 0.0 <= strength <= 1.0:
        raise AugmentationError(f"strength must lie in [0, 1], got {strength}.")
    return table[name].build(float(strength))


def compose(strengths: Mapping[str, float], *, name: str = "custom"):
    """A sequence of course augmenters from ``{name: strength}``, geometric ones first.

    Geometric changes come first so that noise and blur act on the final pixels. Entries with
    strength 0 are left out.
    """
    iaa = compat.load()
    table = transforms()
    order = sorted((k for k, v in strengths.items() if v > 0),
                   key=lambda k: (not table[k].geometric, list(table).index(k))
                   if k in table else (False, -1))
    return iaa.Sequential([augmenter(k, strengths[k]) for k in order], name=name)


#: The presets as {augmenter: strength}; ``light`` adds no pixels, so it needs no 255 border.
PRESET_STRENGTHS = {
    "light": {"flip": 1.0, "crop": 0.4, "brightness": 0.4, "contrast": 0.4},
    "medium": {"flip": 1.0, "crop": 0.4, "brightness": 0.6, "contrast": 0.6, "hue": 0.3,
               "saturation": 0.3},
    "heavy": {"flip": 1.0, "brightness": 1.0, "contrast": 0.8, "hue": 0.6, "saturation": 0.6},
}
PRESETS = tuple(PRESET_STRENGTHS)
#: One line per preset, for people (the widget shows it).
PRESET_ABOUT = {
    "light": "flip, crop up to 10% a side, brightness +-20, contrast +-20%; adds no pixels",
    "medium": "light + scale +-20%, rotate +-15 degrees, shift +-10%, hue and saturation, "
              "blur (30% of images)",
    "heavy": "flip, scale +-30%, rotate +-30 degrees, shift +-15%, shear +-12 degrees, "
             "perspective (50%), elastic (30%), strong colour changes, blur or noise (50%)",
}


def preset(name: str):
    """The ``light``, ``medium`` or ``heavy`` augmenter (an imgaug ``Sequential``).

    * light: flip, crop (zoom in) up to 10%, brightness +-20, contrast +-20%. No pixel is added.
    * medium: light plus scale +-20%, rotation +-15 degrees, shift +-10%, hue and saturation,
      and a blur for 30% of the images.
    * heavy: flip, scale +-30%, rotation +-30 degrees, shift +-15%, shear +-12 degrees, a
      perspective tilt (half of the images), an elastic warp (30%), strong colour changes, and
      blur or noise (half of the images).
    """
    iaa = compat.load()
    if name not in PRESET_STRENGTHS:
        raise AugmentationError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}.")
    base = compose(PRESET_STRENGTHS[name], name=name)
    if name == "medium":
        base.insert(1, _affine(scale=0.2, rotate=15.0, shift=0.1))
        base.append(iaa.Sometimes(0.3, augmenter("blur", 0.4)))
    elif name == "heavy":
        for k, step in enumerate([
            _affine(scale=0.3, rotate=30.0, shift=0.15, shear=12.0),
            iaa.Sometimes(0.5, augmenter("perspective", 0.6)),
            iaa.Sometimes(0.3, augmenter("elastic", 0.6)),
        ]):
            base.insert(1 + k, step)
        base.append(iaa.Sometimes(0.5, iaa.OneOf([augmenter("blur", 0.6),
                                                  augmenter("noise", 0.6)])))
    return base


# --- what cannot work here, and why ---------------------------------------------------------

def _unsupported() -> dict[type, str]:
    iaa = compat.load()
    moves = ("moves pixels, but imgaug applies it to images only, so the mask would no longer "
             "match the image. Fix: use {} instead")
    table = {
        iaa.pillike.Affine: moves.format("iaa.Affine"),
        iaa.imgcorruptlike.ElasticTransform: moves.format("iaa.ElasticTransformation"),
        iaa.pillike.Autocontrast: (
            "fails on NumPy 2 (imgaug 0.4.0 passes an array where Pillow expects a number). "
            "Fix: use iaa.pillike.EnhanceContrast or iaa.LinearContrast instead"),
    }
    try:
        import imagecorruptions  # noqa: F401
    except ImportError:
        for name in iaa.imgcorruptlike.__all__ if hasattr(iaa.imgcorruptlike, "__all__") else []:
            cls = getattr(iaa.imgcorruptlike, name, None)
            if isinstance(cls, type) and cls not in table:
                table[cls] = ("needs the optional package imagecorruptions, which is not "
                              "installed. Fix: pip install imagecorruptions, or use a plain "
                              "imgaug augmenter")
    return table


def check_augmenter(aug):
    """Return ``aug`` if it (and every augmenter inside it) can work on image + mask here.

    Raises :class:`AugmentationError` naming the augmenter, the reason and a replacement
    before anything runs, instead of an error from deep inside imgaug later.
    """
    meta = compat.load().meta
    if not isinstance(aug, meta.Augmenter):
        raise AugmentationError(
            f"Expected an imgaug augmenter, a preset name ({', '.join(PRESETS)}) or a course "
            f"augmenter, got {type(aug).__name__}.")
    table = _unsupported()
    for part in [aug, *aug.get_all_children(flat=True)]:
        reason = table.get(type(part))
        if reason:
            inside = "" if part is aug else f" (inside {aug.name})"
            raise AugmentationError(f"{type(part).__name__}{inside} {reason}.")
    return aug


def as_augmenter(spec):
    """A preset name, a course augmenter name, ``{name: strength}`` or an imgaug augmenter,
    checked with :func:`check_augmenter`."""
    if isinstance(spec, str):
        return preset(spec) if spec in PRESET_STRENGTHS else augmenter(spec)
    if isinstance(spec, Mapping):
        return compose(spec)
    return check_augmenter(spec)


# --- running it ----------------------------------------------------------------------------

def encode_mask(mask) -> np.ndarray:
    """Class c -> c + 1 (int32), so that 0 is free to mean "added by a warp"."""
    return np.asarray(mask, np.int32) + 1


def decode_mask(warped, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Undo :func:`encode_mask` after a warp: 0 (added) -> ``ignore_index``, c + 1 -> c."""
    warped = np.asarray(warped)
    return np.where(warped == 0, ignore_index, warped - 1).astype(np.uint8)


def crop_pair(image, mask, top: int, left: int, height: int, width: int):
    """The same window of image and mask: rows ``top .. top + height - 1``, columns
    ``left .. left + width - 1``."""
    rows, cols = slice(top, top + height), slice(left, left + width)
    return np.asarray(image)[rows, cols], np.asarray(mask)[rows, cols]


def run_imgaug(aug, images, masks, ignore_index: int = IGNORE_INDEX):
    """Augment uint8 images and their masks (lists or stacked arrays) with one call of ``aug``.

    Each pair gets its own random draw, shared by image and mask. Returns two lists.
    """
    segmaps_cls = compat.segmentation_maps_class()
    # encode_mask frees the value 0: in the output it can only mean "added by imgaug".
    segmaps = [segmaps_cls(encode_mask(m), shape=i.shape)
               for i, m in zip(images, masks, strict=True)]
    try:
        images_aug, segmaps_aug = aug(images=images, segmentation_maps=segmaps)
    except Exception as err:
        raise AugmentationError(
            f"{type(aug).__name__} {aug.name!r} failed inside imgaug 0.4.0 with "
            f"{type(err).__name__}: {err}. imgaug is no longer maintained; this augmenter "
            "may not work with the installed NumPy/OpenCV. Fix: leave it out or use another "
            "one (see segutils.augment.transforms())") from err
    return list(images_aug), [decode_mask(s.get_arr(), ignore_index) for s in segmaps_aug]


class JointAugmenter:
    """Augment (image, mask) pairs with ``spec`` (see :func:`as_augmenter`); thread-safe.

    ``augmenter(image, mask)`` augments one pair, :meth:`batch` a stack of them. With
    ``seed=`` the result depends on that seed alone (reproducible, also when ``tf.data`` calls
    from several threads); without it, on the augmenter's random state, which ``seed`` at
    construction fixes. Each thread works on its own copy of the imgaug augmenter, because
    imgaug's random state is not thread-safe. ``keep_size=True`` raises if the augmenter changes
    the size (a batch needs one size).
    """

    def __init__(self, spec="light", *, seed: int | None = None,
                 ignore_index: int = IGNORE_INDEX, keep_size: bool = False):
        self.augmenter = as_augmenter(spec)
        if seed is not None:
            self.augmenter.seed_(seed)
        self.ignore_index = ignore_index
        self.keep_size = keep_size
        self._local = threading.local()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JointAugmenter({self.augmenter.name})"

    def _augmenter_for(self, seed: int | None):
        if seed is None and threading.current_thread() is threading.main_thread():
            return self.augmenter
        aug = getattr(self._local, "aug", None)
        if aug is None:
            with self._lock:  # a copy with its own random state, drawn from the original's
                aug = self._local.aug = copy.deepcopy(self.augmenter)
                aug.seed_(self.augmenter.random_state.generate_seed_())
        if seed is not None:
            aug.seed_(int(seed) % 2**63)
        return aug

    def batch(self, images, masks, seed: int | None = None):
        """Augment a stack of images (B, H, W, C) and masks (B, H, W); returns two arrays
        (lists when the augmenter made sizes differ)."""
        images, masks = np.asarray(images), np.asarray(masks)
        if images.ndim != 4 or masks.shape != images.shape[:3]:
            raise ValueError(f"expected images (B, H, W, C) and masks (B, H, W), got "
                             f"{images.shape} and {masks.shape}")
        floats = images.dtype != np.uint8
        if floats:  # imgaug's colour augmenters want uint8: [0, 1] floats go through uint8
            images = np.clip(images * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if masks.size and (masks.min() < 0 or masks.max() > 255):
            raise ValueError("mask values must be class IDs in 0..255")
        out_images, out_masks = run_imgaug(self._augmenter_for(seed), images, masks,
                                           self.ignore_index)
        sizes = {i.shape for i in out_images}
        if self.keep_size and sizes != {images.shape[1:]}:
            raise AugmentationError(
                f"{self.augmenter.name} changed the size from {images.shape[1:3]} to "
                f"{sorted(s[:2] for s in sizes)}, but a batch needs one size. Fix: use "
                "keep_size=True in imgaug's crop/pad/resize augmenters, or end with "
                "iaa.CropToFixedSize.")
        if floats:
            out_images = [i.astype(np.float32) / 255.0 for i in out_images]
        if len(sizes) == 1:
            return np.stack(out_images), np.stack(out_masks)
        return out_images, out_masks

    def __call__(self, image, mask, seed: int | None = None):
        image, mask = np.asarray(image), np.asarray(mask)
        if image.ndim != 3 or mask.shape != image.shape[:2]:
            raise ValueError(f"expected an image (H, W, C) and a mask (H, W), got "
                             f"{image.shape} and {mask.shape}")
        images, masks = self.batch(image[None], mask[None], seed)
        return images[0], masks[0]


def augment_pair(image, mask, spec="light", *, seed: int | None = None,
                 ignore_index: int = IGNORE_INDEX):
    """Augment one image and its mask together: ``image, mask = augment_pair(image, mask)``.

    ``spec`` is a preset (``"light"``, ``"medium"``, ``"heavy"``), a course augmenter name, a
    ``{name: strength}`` dict or any imgaug augmenter. The image is uint8 (or float in [0, 1],
    returned as float32); the mask is (H, W) class IDs, returned as uint8, where pixels the
    transform added are ``ignore_index``. The same seed gives the same result.
    """
    runner = spec if isinstance(spec, JointAugmenter) else JointAugmenter(
        spec, ignore_index=ignore_index)
    return runner(image, mask, seed=seed)
