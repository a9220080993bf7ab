"""Augmentation inside the ``tf.data`` pipeline, two ways (``augment_backend=``):

``"imgaug"``
    Any augmenter (presets, course augmenters, your own imgaug augmenter) runs in Python through
    ``tf.numpy_function``, one call per *batch*, several batches at once in parallel threads
    (OpenCV and most NumPy work release the GIL). Every batch gets a seed from
    ``tf.data.Dataset.random``, so the augmentation is reproducible with the pipeline's seed and
    different in every epoch, whatever thread runs it. The shapes that ``numpy_function`` loses
    are restored, so ``model.fit`` still sees static shapes.
``"graph"``
    The ``light`` preset built from Keras preprocessing layers (``RandomFlip``, ``RandomZoom``,
    ``RandomBrightness``, ``RandomContrast``): TensorFlow operations only, no Python per sample.
    Flip and zoom run on uint8 image and mask together (Keras warps ``segmentation_masks`` with
    nearest neighbour); brightness and contrast touch only the image.

Both paths store the mask shifted by one before a warp and shift it back after, so a pixel the
warp fills (value 0) comes out as the ignore label 255 (see :mod:`segutils.augment.core`). In
uint8 the shift wraps: 255 + 1 = 0 and 0 - 1 = 255, so ignored pixels stay ignored.
"""

from __future__ import annotations

from segutils.augment.core import PRESETS, AugmentationError, JointAugmenter, transforms
from segutils.config import import_quietly
from segutils.data.classes import IGNORE_INDEX

keras = import_quietly()
import tensorflow as tf  # noqa: E402

BACKENDS = ("imgaug", "graph")
#: The presets that have a Keras-layer version.
GRAPH_PRESETS = ("light",)


def keras_light(seed: int = 0) -> tuple[list, list]:
    """The ``light`` preset as Keras layers: (geometric layers, photometric layers).

    Same kinds of change and ranges as imgaug's ``light`` (flip, zoom in by up to 20% in each
    direction, brightness +-20/255, contrast +-20%), not the same pixels: imgaug's crop also
    moves the window off-centre, Keras zooms about the centre.
    """
    geometric = [
        keras.layers.RandomFlip("horizontal", seed=seed, dtype="uint8"),
        keras.layers.RandomZoom((-0.2, 0.0), (-0.2, 0.0), fill_mode="constant",
                                fill_value=0.0, seed=seed + 1, dtype="uint8"),
    ]
    photometric = [
        keras.layers.RandomBrightness(20 / 255, value_range=(0.0, 1.0), seed=seed + 2),
        keras.layers.RandomContrast(0.2, value_range=(0.0, 1.0), seed=seed + 3),
    ]
    return geometric, photometric


def graph_augment(name: str = "light", seed: int = 0):
    """A TensorFlow function ``(images uint8 (B, H, W, 3), masks (B, H, W)) -> (images float32
    in [0, 1], masks int32)`` applying preset ``name`` with Keras layers; 255 = ignore."""
    if name not in GRAPH_PRESETS:
        raise AugmentationError(
            f"augment_backend='graph' has the preset(s) {', '.join(GRAPH_PRESETS)}, not "
            f"{name!r}. Fix: use augment_backend='imgaug' for {name!r}, or augment='light'.")
    geometric, photometric = keras_light(seed)

    def augment(images, masks):
        shifted = tf.cast(masks, tf.uint8) + 1  # wraps 255 -> 0: ignore and "added" share 0
        data = {"images": tf.cast(images, tf.uint8), "segmentation_masks": shifted[..., None]}
        for layer in geometric:
            data = layer(data, training=True)
        masks_out = tf.cast(data["segmentation_masks"][..., 0] - 1, tf.int32)  # 0 -> 255
        images_out = tf.cast(data["images"], tf.float32) / 255.0
        for layer in photometric:
            images_out = layer(images_out, training=True)
        return tf.clip_by_value(images_out, 0.0, 1.0), masks_out

    return augment


def imgaug_augment(spec, seed: int = 0, ignore_index: int = IGNORE_INDEX):
    """A TensorFlow function ``(images uint8 (B, H, W, 3), masks (B, H, W), batch_seed int64)
    -> (images uint8, masks uint8)`` that runs ``spec`` through imgaug in Python."""
    runner = spec if isinstance(spec, JointAugmenter) else JointAugmenter(
        spec, seed=seed, ignore_index=ignore_index, keep_size=True)
    runner.keep_size = True

    def run(images, masks, batch_seed):
        return runner.batch(images, masks, seed=int(batch_seed))

    def augment(images, masks, batch_seed):
        out_images, out_masks = tf.numpy_function(
            run, [tf.cast(images, tf.uint8), tf.cast(masks, tf.uint8), batch_seed],
            (tf.uint8, tf.uint8), stateful=False)
        out_images.set_shape(images.shape)  # numpy_function forgets shapes; the size is kept
        out_masks.set_shape(masks.shape)
        return out_images, out_masks

    return augment


def _check(augment, backend: str) -> None:
    """Refuse what a backend cannot do now, with the fix, rather than while iterating."""
    if backend not in BACKENDS:
        raise AugmentationError(
            f"Unknown augment_backend {backend!r}. Choose one of: {', '.join(BACKENDS)}.")
    if backend == "graph" and not isinstance(augment, str):
        raise AugmentationError(
            "augment_backend='graph' takes a preset name ('light'), not "
            f"{type(augment).__name__}. Fix: use augment_backend='imgaug' for imgaug "
            "augmenters, or pass a function of tensors as augment=.")
    if isinstance(augment, str) and augment not in PRESETS and augment not in transforms():
        raise AugmentationError(
            f"Unknown augmentation {augment!r}. Choose a preset ({', '.join(PRESETS)}) "
            f"or a course augmenter ({', '.join(transforms())}).")


def augment_batches(ds: tf.data.Dataset, augment, *, backend: str = "imgaug",
                    batch_size: int, drop_remainder: bool = False, seed: int = 0,
                    num_parallel_calls: int = tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Batch ``ds`` of (uint8 image (H, W, 3), mask (H, W)) and augment each batch.

    Returns batches of float32 images in [0, 1] and int32 masks, as
    :func:`segutils.data.pipeline.make_dataset` yields them.
    """
    _check(augment, backend)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if backend == "graph":
        # One call at a time: the Keras layers draw from a seed generator held in a variable,
        # and a single caller keeps the draws in order, so the same seed gives the same batches.
        # Each call is vectorised over the batch, and TensorFlow's kernels use every core.
        return ds.map(graph_augment(augment, seed))
    fn = imgaug_augment(augment, seed)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds)).map(
        lambda pair, s: fn(pair[0], pair[1], s), num_parallel_calls=num_parallel_calls)
    return ds.map(lambda images, masks: (tf.cast(images, tf.float32) / 255.0,
                                         tf.cast(masks, tf.int32)))
