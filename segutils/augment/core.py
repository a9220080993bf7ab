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

    ``strength`` in [0, 1] scales its range: 0 is no change, 1 is ``limit``, the strongest the
    course uses. ``build(value)`` returns the imgaug augmenter for ``value = strength * limit``
    and ``text(value)`` says in words what it does. ``geometric`` transforms move the mask with
    the image; ``adds_pixels`` ones can uncover pixels, which the mask marks 255. ``affine``
    names the :func:`_affine` argument of the scale/rotate/shift/shear family, which
    :func:`compose` merges into one warp.
    """

    name: str
    geometric: bool
    adds_pixels: bool
    about: str
    limit: float
    build: Callable[[float], object]
    text: Callable[[float], str]
    affine: str | None = None


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


def _warp(name: str, about: str, limit: float, text: str) -> Transform:
    """A member of the affine family: ``_affine(name=value)``."""
    return Transform(name, True, True, about, limit, lambda v: _affine(**{name: v}),
                     text.format, affine=name)


def _transforms() -> dict[str, Transform]:
    iaa = compat.load()
    return {t.name: t for t in [
        # Any strength mirrors half of the images: a flip has no size, only a yes or no.
        Transform("flip", True, False, "mirror left-right, half of the time", 1.0,
                  lambda v: iaa.Fliplr(0.5 if v > 0 else 0.0),
                  lambda v: "flip half of the images"),
        Transform("crop", True, False, "cut up to 25% off each side, resize back (zoom in)",
                  0.25, lambda v: iaa.Crop(percent=(0.0, v), keep_size=True),
                  "crop up to {:.0%} a side".format),
        _warp("scale", "zoom in or out by up to 40%", 0.4, "scale +-{:.0%}"),
        _warp("rotate", "rotate by up to 45 degrees", 45.0, "rotate +-{:.0f} degrees"),
        _warp("shift", "move by up to 20% of the size", 0.2, "shift +-{:.0%}"),
        _warp("shear", "shear by up to 30 degrees", 30.0, "shear +-{:.0f} degrees"),
        Transform("perspective", True, False, "tilt the camera (corners move up to 15%)", 0.15,
                  lambda v: iaa.PerspectiveTransform(scale=(0.0, v), keep_size=True),
                  "perspective (corners up to {:.0%})".format),
        Transform("elastic", True, True, "bend the image like rubber", 60.0,
                  lambda v: iaa.ElasticTransformation(alpha=(0.0, v), sigma=6.0, order=1),
                  "elastic (alpha up to {:.0f})".format),
        Transform("brightness", False, False, "add up to +-50 to every channel", 50.0,
                  lambda v: iaa.Add((-v, v)), "brightness +-{:.0f}".format),
        Transform("contrast", False, False, "stretch or squeeze contrast by up to 50%", 0.5,
                  lambda v: iaa.LinearContrast((1.0 - v, 1.0 + v)), "contrast +-{:.0%}".format),
        # imgaug's hue wheel has 255 steps for 360 degrees: 42.5 steps are 60 degrees.
        Transform("hue", False, False, "turn the colour wheel by up to 60 degrees", 42.5,
                  lambda v: iaa.AddToHue((-round(v), round(v))),
                  lambda v: f"hue +-{round(v) * 360 / 255:.0f} degrees"),
        Transform("saturation", False, False, "make colours up to 60% paler or stronger", 0.6,
                  lambda v: iaa.MultiplySaturation((1.0 - v, 1.0 + v)),
                  "saturation +-{:.0%}".format),
        Transform("blur", False, False, "Gaussian blur with sigma up to 2.5 pixels", 2.5,
                  lambda v: iaa.GaussianBlur(sigma=(0.0, v)), "blur (sigma up to {:.1f})".format),
        Transform("noise", False, False, "Gaussian noise with sigma up to 10% of 255", 25.5,
                  lambda v: iaa.AdditiveGaussianNoise(scale=(0.0, v)),
                  "noise (sigma up to {:.0f})".format),
    ]}


_CACHE: dict[str, dict[str, Transform]] = {}


def transforms() -> dict[str, Transform]:
    """The augmenters the course offers, by name (``"flip"``, ..., ``"noise"``), in order."""
    if "all" not in _CACHE:
        _CACHE["all"] = _transforms()
    return _CACHE["all"]


def _transform(name: str) -> Transform:
    table = transforms()
    if name not in table:
        raise AugmentationError(f"Unknown augmenter {name!r}. Choose one of: {', '.join(table)}.")
    return table[name]


def _check_share(what: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise AugmentationError(f"{what} must lie in [0, 1], got {value}.")
    return float(value)


def augmenter(name: str, strength: float = 0.5):
    """The course augmenter ``name`` at ``strength`` in [0, 1] (see :func:`transforms`)."""
    t = _transform(name)
    return t.build(_check_share("strength", strength) * t.limit)


def steps(spec: Mapping[str, float | tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """``{name: strength}`` or ``{name: (strength, probability)}`` as ``{name: (strength,
    probability)}`` in the order :func:`compose` applies them, geometric ones first.

    ``probability`` is the share of images the augmenter is applied to (1 when left out).
    Entries with strength or probability 0 are left out.
    """
    table = transforms()
    out = {}
    for name, value in spec.items():
        strength, probability = value if isinstance(value, tuple | list) else (value, 1.0)
        _transform(name)
        strength = _check_share(f"{name}: strength", strength)
        probability = _check_share(f"{name}: probability", probability)
        if strength > 0 and probability > 0:
            out[name] = (strength, probability)
    order = list(table)
    return dict(sorted(out.items(), key=lambda kv: (not table[kv[0]].geometric,
                                                   order.index(kv[0]))))


def compose(spec: Mapping[str, float | tuple[float, float]], *, name: str = "custom"):
    """A sequence of course augmenters from ``{name: strength}`` or ``{name: (strength,
    probability)}`` (see :func:`steps`), geometric ones first.

    Geometric changes come first so that noise and blur act on the final pixels. The scale,
    rotate, shift and shear entries applied to every image become one warp, so the image is
    interpolated once; an augmenter with a probability below 1 is wrapped in
    ``iaa.Sometimes(probability, ...)``.
    """
    iaa = compat.load()
    table = transforms()
    chosen = steps(spec)
    merged = {n: s * table[n].limit for n, (s, p) in chosen.items()
              if table[n].affine and p == 1.0}
    parts = []
    for n, (strength, probability) in chosen.items():
        if n in merged:
            if n == next(iter(merged)):  # the whole family, where its first member stands
                parts.append(_affine(**{table[k].affine: v for k, v in merged.items()}))
            continue
        step = augmenter(n, strength)
        parts.append(step if probability == 1.0 else iaa.Sometimes(probability, step))
    return iaa.Sequential(parts, name=name)


def describe(spec: Mapping[str, float | tuple[float, float]]) -> str:
    """In words, what :func:`compose` of ``spec`` applies, e.g. ``"mirror 50% of the images,
    rotate +-16 degrees, blur (sigma up to 1.0) on 30% of the images"``."""
    table = transforms()
    words = []
    for n, (strength, probability) in steps(spec).items():
        text = table[n].text(strength * table[n].limit)
        words.append(text if probability == 1.0 else f"{text} on {probability:.0%} of the images")
    return ", ".join(words) or "nothing"


#: The presets, as the playground shows them: {augmenter: (strength, probability)}. This table
#: is the only definition of a preset: :func:`preset` composes it and nothing else. ``light``
#: adds no pixels, so it needs no 255 border. Strengths sit on the playground's 0.05 grid.
PRESET_STEPS = {
    "light": {"flip": (1.0, 1.0), "crop": (0.4, 1.0), "brightness": (0.4, 1.0),
              "contrast": (0.4, 1.0)},
    "medium": {"flip": (1.0, 1.0), "crop": (0.4, 1.0), "scale": (0.5, 1.0),
               "rotate": (0.35, 1.0), "shift": (0.5, 1.0), "brightness": (0.6, 1.0),
               "contrast": (0.6, 1.0), "hue": (0.3, 1.0), "saturation": (0.3, 1.0),
               "blur": (0.4, 0.3)},
    "heavy": {"flip": (1.0, 1.0), "scale": (0.75, 1.0), "rotate": (0.65, 1.0),
              "shift": (0.75, 1.0), "shear": (0.4, 1.0), "perspective": (0.6, 0.5),
              "elastic": (0.6, 0.3), "brightness": (1.0, 1.0), "contrast": (0.8, 1.0),
              "hue": (0.6, 1.0), "saturation": (0.6, 1.0), "blur": (0.6, 0.3),
              "noise": (0.6, 0.3)},
}
PRESETS = tuple(PRESET_STEPS)


def preset_about(name: str) -> str:
    """One line about preset ``name``, for people (the playground shows it)."""
    return describe(PRESET_STEPS[name])


def preset(name: str):
    """The ``light``, ``medium`` or ``heavy`` augmenter: :func:`compose` of ``PRESET_STEPS``.

    * light: flip, crop (zoom in) up to 10%, brightness +-20, contrast +-20%. No pixel is added.
    * medium: light plus scale +-20%, rotation +-16 degrees, shift +-10%, hue and saturation,
      and a blur for 30% of the images.
    * heavy: flip, scale +-30%, rotation +-29 degrees, shift +-15%, shear +-12 degrees, a
      perspective tilt (half of the images), an elastic warp (30%), strong colour changes, and
      blur and noise (30% of the images each).
    """
    if name not in PRESET_STEPS:
        raise AugmentationError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}.")
    return compose(PRESET_STEPS[name], name=name)


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
    """A preset name, a course augmenter name, ``{name: strength}`` (or ``{name: (strength,
    probability)}``) or an imgaug augmenter, checked with :func:`check_augmenter`."""
    if isinstance(spec, str):
        return preset(spec) if spec in PRESET_STEPS else augmenter(spec)
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
