"""Joint image + mask augmentation: imgaug on NumPy 2, presets, and the ``tf.data`` paths.

>>> from segutils import augment
>>> image, mask = augment.augment_pair(image, mask, "medium", seed=0)  # doctest: +SKIP

* :mod:`segutils.augment.compat` loads imgaug 0.4.0 on NumPy 2 without changing NumPy for other
  code, and repairs ``ElasticTransformation``.
* :mod:`segutils.augment.core`: the course's augmenters (:func:`transforms`), the presets
  ``light``, ``medium``, ``heavy`` (:func:`preset`), :func:`augment_pair` and
  :class:`JointAugmenter`; added pixels get the ignore label 255.
* :mod:`segutils.augment.tfdata` (imports TensorFlow): the two pipeline paths, used by
  ``make_dataset(..., augment="light", augment_backend="imgaug" | "graph")``.

Importing this package imports neither imgaug nor TensorFlow; imgaug loads on first use.
"""

from segutils.augment.core import (
    PRESET_STEPS,
    PRESETS,
    AugmentationError,
    JointAugmenter,
    Transform,
    as_augmenter,
    augment_pair,
    augmenter,
    check_augmenter,
    compose,
    describe,
    preset,
    preset_about,
    steps,
    transforms,
)

__all__ = [
    "PRESETS",
    "PRESET_STEPS",
    "AugmentationError",
    "JointAugmenter",
    "Transform",
    "as_augmenter",
    "augment_pair",
    "augmenter",
    "check_augmenter",
    "compose",
    "describe",
    "preset",
    "preset_about",
    "steps",
    "transforms",
]
