"""Augmentation inside the ``tf.data`` pipeline, two ways (``augment_backend=``):

``"imgaug"``
    Any augmenter (presets, course augmenters, your own imgaug augmenter) runs in Python through
    ``tf.numpy_function``, one call per *batch*, several batches at once in parallel threads
    (OpenCV and most NumPy work release the GIL). Every batch gets a seed from
    ``tf.data.Dataset.random``, so the augmentation is reproducible with the pipeline's seed and
    different in every epoch, whatever thread runs it. The shapes that ``numpy_function`` loses
    are restored, so ``model.fit`` still sees static shapes.
``"graph"``
    The ``light`` preset inside the graph (:class:`JointLight`, a Keras layer): TensorFlow
    operations on the whole batch, compiled with XLA, no Python per sample. Each sample's random
    draw (flip, a crop of up to 10% per side, brightness, contrast) becomes one separable
    resampling shared by image (bilinear) and mask (nearest neighbour). The draws are stateless,
    keyed by a per-batch seed, so batches run in parallel and the same seed gives the same
    batches.

The imgaug path stores the mask shifted by one before a warp and shifts it back after, so a pixel
the warp fills (value 0) comes out as the ignore label 255 (see :mod:`segutils.augment.core`).
The graph path needs no such trick: ``light`` only zooms in, and every output pixel copies an
existing mask pixel.

Why the graph path is not built from Keras' own ``RandomFlip``, ``RandomZoom``,
``RandomBrightness`` and ``RandomContrast`` (it was, at first): measured on 2 CPU cores at
224x224, they cost 3.7 ms per image (zoom alone 2.0 ms: a general projective warp per channel,
flip 0.9 ms, contrast 0.7 ms) and, drawing from a stateful seed generator, had to run one batch at
a time. A crop + resize is separable, so per axis it reduces to gathering two neighbours and one
linear interpolation; compiled by XLA together with the colour change and the conversion to
float32, it costs about 0.35 ms per image (2.3 ms as separate TensorFlow operations).
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


#: The ``light`` preset's ranges, as imgaug's ``light`` (see ``core.PRESET_STEPS``):
#: mirror half of the images; crop up to 10% off each side (drawn independently) and resize back;
#: add up to +-20/255; scale the contrast by 0.8 to 1.2 about imgaug's centre 127/255.
LIGHT = {"flip": 0.5, "crop": 0.1, "brightness": 20 / 255, "contrast": 0.2}
_CENTRE = 127 / 255


def _sources(n: int, start, length, flip=None):
    """Source coordinates (B, n) of the output pixels of a crop ``[start, start + length)``
    (pixels, (B,)) resized back to ``n`` pixels, mirrored where ``flip``.

    Pixel centres as OpenCV's and imgaug's resize place them: output pixel ``o`` looks at
    ``start + (o + 0.5) * length / n - 0.5``. Mirroring maps a coordinate ``x`` to
    ``n - 1 - x``, i.e. flips the image before cropping (as imgaug's ``Fliplr`` before ``Crop``).
    """
    centres = tf.range(n, dtype=tf.float32)[None] + 0.5
    source = start[:, None] + centres * (length[:, None] / n) - 0.5
    return source if flip is None else tf.where(flip[:, None], (n - 1.0) - source, source)


def _linear(source, n: int):
    """(lower index, upper index, weight of the upper) for linear interpolation, clamped to the
    image (edge pixels repeat, as in OpenCV's resize)."""
    source = tf.clip_by_value(source, 0.0, n - 1.0)
    lower = tf.floor(source)
    index = tf.cast(lower, tf.int32)
    return index, tf.minimum(index + 1, n - 1), source - lower


def _nearest(source, n: int):
    """The index of the nearest pixel centre: the mask copies exactly one pixel."""
    return tf.clip_by_value(tf.cast(tf.floor(source + 0.5), tf.int32), 0, n - 1)


class JointLight(keras.layers.Layer):
    """The ``light`` preset for a batch: ``images, masks = JointLight()(images, masks, seed)``.

    ``images`` uint8 (B, H, W, 3) (or floats in 0..255), ``masks`` (B, H, W) integer class IDs,
    ``seed`` two integers (a stateless seed: the output depends on it alone). Returns float32
    images in [0, 1] and int32 masks.

    One random draw per sample, shared by image and mask: a mirror flip (probability ``flip``),
    a crop of up to ``crop`` of the size off each side, resized back to (H, W), then brightness
    (``+-brightness``) and contrast (factor ``1 +- contrast``) on the image only. The crop and
    resize is separable, so it is done as a gather of columns and one of rows, each followed by
    a linear interpolation for the image; the mask takes the nearest pixel along each axis, so
    it only ever holds values it had (nothing is added: the crop stays inside the image).
    Columns come first, on uint8 data (a quarter of the bytes of float32).

    TensorFlow backend (``tf.data`` needs TensorFlow anyway).
    """

    def __init__(self, flip: float = LIGHT["flip"], crop: float = LIGHT["crop"],
                 brightness: float = LIGHT["brightness"], contrast: float = LIGHT["contrast"],
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= crop < 0.5:
            raise AugmentationError(f"crop must lie in [0, 0.5), got {crop}.")
        self.flip, self.crop = float(flip), float(crop)
        self.brightness, self.contrast = float(brightness), float(contrast)

    def get_config(self) -> dict:
        return {**super().get_config(), "flip": self.flip, "crop": self.crop,
                "brightness": self.brightness, "contrast": self.contrast}

    def draw(self, batch: int, seed):
        """Per sample: crop (top, left, bottom, right) as fractions, flip, brightness, contrast."""
        u = tf.random.stateless_uniform((batch, 7), tf.cast(seed, tf.int64))
        return (u[:, :4] * self.crop, u[:, 4] < self.flip,
                (2.0 * u[:, 5] - 1.0) * self.brightness,
                1.0 + (2.0 * u[:, 6] - 1.0) * self.contrast)

    def call(self, images, masks, seed):
        shape = tf.shape(images)
        batch, height, width = shape[0], images.shape[1], images.shape[2]
        if height is None or width is None:
            raise AugmentationError(
                "JointLight needs a static image size. Fix: pass image_size= to make_dataset.")
        crop, flip, brightness, contrast = self.draw(batch, seed)
        rows = _sources(height, crop[:, 0] * height, (1.0 - crop[:, 0] - crop[:, 2]) * height)
        cols = _sources(width, crop[:, 1] * width, (1.0 - crop[:, 1] - crop[:, 3]) * width, flip)

        left, right, wx = _linear(cols, width)
        a = tf.cast(tf.gather(images, left, axis=2, batch_dims=1), tf.float32)
        b = tf.cast(tf.gather(images, right, axis=2, batch_dims=1), tf.float32)
        x = a + wx[:, None, :, None] * (b - a)
        top, bottom, wy = _linear(rows, height)
        a = tf.gather(x, top, axis=1, batch_dims=1)
        b = tf.gather(x, bottom, axis=1, batch_dims=1)
        x = a + wy[:, :, None, None] * (b - a)
        # imgaug's order: add brightness (clipped), then stretch contrast about the centre.
        x = tf.clip_by_value(x * (1.0 / 255.0) + brightness[:, None, None, None], 0.0, 1.0)
        x = (x - _CENTRE) * contrast[:, None, None, None] + _CENTRE
        images_out = tf.clip_by_value(x, 0.0, 1.0)

        masks_out = tf.gather(masks, _nearest(cols, width), axis=2, batch_dims=1)
        masks_out = tf.gather(masks_out, _nearest(rows, height), axis=1, batch_dims=1)
        return images_out, tf.cast(masks_out, tf.int32)


def graph_augment(name: str = "light", seed: int = 0):
    """A TensorFlow function ``(images uint8 (B, H, W, 3), masks (B, H, W), batch_seed int64)
    -> (images float32 in [0, 1], masks int32)`` applying preset ``name`` in the graph.

    ``seed`` is mixed into every batch's seed, so two pipelines with different seeds differ even
    if their batch seeds coincide. The function is compiled with XLA (one fused pass instead of
    a dozen full-size intermediate tensors).
    """
    if name not in GRAPH_PRESETS:
        raise AugmentationError(
            f"augment_backend='graph' has the preset(s) {', '.join(GRAPH_PRESETS)}, not "
            f"{name!r}. Fix: use augment_backend='imgaug' for {name!r}, or augment='light'.")
    layer = JointLight(name=f"joint_{name}")

    @tf.function(jit_compile=True)
    def augment(images, masks, batch_seed):
        seeds = tf.stack([tf.cast(batch_seed, tf.int64), tf.constant(seed, tf.int64)])
        return layer(images, masks, seeds)

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
    # Every batch gets its own seed from a seeded random stream (new each epoch): the draws do
    # not depend on which thread runs a batch or when, so batches run in parallel and the same
    # pipeline seed still gives the same batches.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds))
    if backend == "graph":
        fn = graph_augment(augment, seed)
        return ds.map(lambda pair, s: fn(pair[0], pair[1], s),
                      num_parallel_calls=num_parallel_calls)
    fn = imgaug_augment(augment, seed)
    ds = ds.map(lambda pair, s: fn(pair[0], pair[1], s), num_parallel_calls=num_parallel_calls)
    return ds.map(lambda images, masks: (tf.cast(images, tf.float32) / 255.0,
                                         tf.cast(masks, tf.int32)))
