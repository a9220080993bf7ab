"""VGG16 as a segmentation encoder, its ImageNet weights, and FCN's "net surgery".

Simonyan and Zisserman's VGG16 ("Very Deep Convolutional Networks for Large-Scale Image
Recognition", 2015) is five blocks of 3x3 convolutions, each ending in a 2x2 max-pooling, then three
dense layers. FCN (Long, Shelhamer and Darrell, 2015) and many U-Net variants reuse the five blocks
as an encoder. This module builds them with the layer names of ``keras.applications.VGG16``
(``block1_conv1`` ... ``block5_pool``), so ImageNet weights copy over by name, and with a ``width``
option that shrinks every block for CPU training.

Images enter as float32 RGB in [0, 1], like every model of the course. The ImageNet weights were
trained on Caffe-style input (0..255, BGR, per-channel means subtracted), so the encoder starts
with :class:`VGGPreprocess`, a registered layer: a saved ``.keras`` model carries its own
preprocessing and nobody has to remember ``preprocess_input``.

"Net surgery" turns VGG16's dense layers into convolutions that compute the same numbers:
``fc1`` (25088 -> 4096) reads a flattened 7x7x512 map, so its kernel is a 7x7 convolution in
disguise; ``fc2`` (4096 -> 4096) is a 1x1 convolution. See :func:`dense_to_conv`.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import keras
import numpy as np
from keras import ops

from segutils.errors import ConfigError

__all__ = [
    "CONV_BLOCKS",
    "IMAGENET_BGR_MEANS",
    "VGGPreprocess",
    "WEIGHTS_FILE",
    "WEIGHTS_FILE_NO_TOP",
    "convolutionize",
    "dense_to_conv",
    "imagenet_vgg16",
    "scaled_channels",
    "vgg16_encoder",
    "weights_source",
]

#: Per-channel means (B, G, R) of the ImageNet training set, as Caffe's VGG16 subtracts them.
IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)
#: (channels, convolutions) of VGG16's five blocks at ``width=1``.
CONV_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
#: The file ``keras.applications.VGG16(include_top=True, weights="imagenet")`` downloads (528 MB).
WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
#: The same without the classifier (``include_top=False``, 58 MB): enough for the encoder alone.
WEIGHTS_FILE_NO_TOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Where Keras caches downloaded weights (``keras.utils.get_file``'s default).
WEIGHTS_CACHE = "~/.keras/models"


@keras.saving.register_keras_serializable(package="segutils")
class VGGPreprocess(keras.layers.Layer):
    """RGB in [0, 1] -> what ImageNet VGG16 expects: 0..255, BGR, ImageNet means subtracted.

    The same arithmetic as ``keras.applications.vgg16.preprocess_input(255 * x)``, kept inside
    the model so that a saved model needs no separate preprocessing step. Computed in float32
    (``dtype="float32"`` by default): under mixed precision, float16 would round the 0..255
    values to steps of 0.125 before the first convolution even sees them.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, x):
        bgr = ops.flip(x, axis=-1) * 255.0
        return bgr - ops.convert_to_tensor(IMAGENET_BGR_MEANS, dtype=bgr.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def scaled_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 1: the block widths of a slimmed network."""
    return max(1, int(round(channels * width)))


def _check_width(width, what: str = "width") -> float:
    if isinstance(width, bool) or not isinstance(width, numbers.Real) or not width > 0:
        raise ConfigError(f"{what} must be a positive number (1.0 = VGG16's own), got {width!r}.")
    return float(width)


def imagenet_vgg16(include_top: bool = True) -> keras.Model:
    """``keras.applications.VGG16`` with ImageNet weights, downloaded once and cached.

    FCN needs the classifier (``include_top=True``, 528 MB) because its ``fc1``/``fc2`` become
    ``fc6``/``fc7``; an encoder alone needs only the convolutions (58 MB). The first call
    downloads the file into ``~/.keras/models``; without network access it raises
    :class:`~segutils.errors.ConfigError` naming the file and where to put it.
    """
    file, size = (WEIGHTS_FILE, "528 MB") if include_top else (WEIGHTS_FILE_NO_TOP, "58 MB")
    try:
        return keras.applications.VGG16(include_top=include_top, weights="imagenet")
    except Exception as error:  # keras.utils.get_file raises a plain Exception when offline
        raise ConfigError(
            f"Could not load the ImageNet weights of VGG16 ({error}). Keras downloads them once "
            f"as {file} ({size}) into {WEIGHTS_CACHE}. How to fix: run with network access "
            f"(Colab has it), or copy {file} into {WEIGHTS_CACHE} by hand, or use "
            "weights=None to train from scratch."
        ) from error


def weights_source(weights, *, include_top: bool = True):
    """Resolve a ``weights`` option to a VGG16 model to copy from, or ``None``.

    ``None`` stays ``None``; ``"imagenet"`` loads :func:`imagenet_vgg16`; a path loads that
    weights file into ``keras.applications.VGG16``; a Keras model (for example
    ``keras.applications.VGG16(weights=None)`` in tests) is used as it is.
    """
    if weights is None:
        return None
    if isinstance(weights, str) and weights == "imagenet":
        return imagenet_vgg16(include_top)
    if isinstance(weights, str | os.PathLike):
        path = Path(weights)
        if not path.is_file():
            raise ConfigError(f"weights must be None, 'imagenet' or a weights file of VGG16; "
                              f"{path} is not a file.")
        try:
            return keras.applications.VGG16(include_top=include_top, weights=str(path))
        except (ValueError, OSError, KeyError) as error:
            raise ConfigError(
                f"Could not load {path} into keras.applications.VGG16(include_top="
                f"{include_top}) ({error}). Give a weights file of that network."
            ) from error
    if isinstance(weights, keras.Model):
        return weights
    raise ConfigError(
        f"weights must be None, 'imagenet', a file or a keras.applications VGG16 model, got "
        f"{weights!r}."
    )


def vgg16_encoder(inputs, *, width: float = 1.0, weights=None, preprocess: bool = True) -> dict:
    """VGG16's five convolution blocks applied to ``inputs``; returns the named feature maps.

    Parameters
    ----------
    inputs:
        A Keras tensor of images, float32 RGB in [0, 1], shape (B, H, W, 3). With
        ``preprocess=False`` it must already be VGG input (see :class:`VGGPreprocess`); FCN uses
        that to zero-pad *after* preprocessing, i.e. with the ImageNet mean colour, as Caffe did.
    width:
        Scales every block's channels (64, 128, 256, 512, 512) by ``width``; 1.0 is VGG16.
        ``0.25`` gives 16..128 channels, 1/16 of the computation, which trains on a CPU.
    weights:
        ``None`` (random, He-uniform initialisation: with ReLU after each of the 13 layers,
        Keras' default Glorot initialisation shrinks the signal layer by layer and training from
        scratch stalls), ``"imagenet"`` (needs ``width=1.0``; downloads the 58 MB file without
        the classifier), or a ``keras.applications`` VGG16 model to copy the convolution
        weights from.
    preprocess:
        Apply :class:`VGGPreprocess` (named ``vgg_preprocess``) first.

    Returns
    -------
    ``{"block1": ..., "block5": ...}``, the last convolution output of each block (before its
    pooling, strides 1, 2, 4, 8, 16), and ``{"pool1": ..., "pool5": ...}``, the pooled maps
    (strides 2 .. 32). Layers are named as in ``keras.applications.VGG16``. The 2x2 poolings
    floor odd sizes, so give an input divisible by 32 when the maps must line up exactly.
    """
    width = _check_width(width)
    if weights is not None and width != 1.0:
        raise ConfigError(
            f"Pretrained VGG16 weights need the full network (width=1.0), got width={width}. "
            "Use weights=None with a slimmer encoder."
        )
    source = weights_source(weights, include_top=False)
    x = VGGPreprocess(name="vgg_preprocess")(inputs) if preprocess else inputs
    features: dict = {}
    convs = []
    # Blocks 1-5 are identical apart from their width and number of convolutions.
    for block, (channels, n_convs) in enumerate(CONV_BLOCKS, start=1):
        for i in range(1, n_convs + 1):
            conv = keras.layers.Conv2D(
                scaled_channels(channels, width), 3, padding="same", activation="relu",
                kernel_initializer="he_uniform", name=f"block{block}_conv{i}",
            )
            x = conv(x)
            convs.append(conv)
        features[f"block{block}"] = x
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        features[f"pool{block}"] = x
    if source is not None:
        for conv in convs:
            conv.set_weights(source.get_layer(conv.name).get_weights())
    return features


def dense_to_conv(kernel, kernel_size: tuple[int, int]) -> np.ndarray:
    """Reshape a ``Dense`` kernel (inputs, units) into a convolution kernel (kh, kw, c, units).

    A ``Dense`` layer after ``Flatten`` of a (kh, kw, c) map reads input ``(i * kw + j) * c + k``
    (channels-last, row-major flatten order), which is exactly where a plain NumPy reshape to
    (kh, kw, c, units) puts weight ``[i, j, k]``. So the convolution, applied with 'valid'
    padding to that same map, reproduces the dense layer. VGG16's ``fc1`` (25088, 4096) becomes
    (7, 7, 512, 4096); ``fc2`` (4096, 4096) with ``kernel_size=(1, 1)`` becomes (1, 1, 4096, 4096).
    """
    kernel = np.asarray(kernel)
    kh, kw = (int(k) for k in kernel_size)
    n_in, units = kernel.shape
    if n_in % (kh * kw):
        raise ConfigError(
            f"A dense kernel with {n_in} inputs cannot come from a {kh}x{kw} map: "
            f"{n_in} is not a multiple of {kh * kw}."
        )
    return kernel.reshape(kh, kw, n_in // (kh * kw), units)


def convolutionize(source: keras.Model, fc6: keras.layers.Conv2D, fc7: keras.layers.Conv2D):
    """FCN's net surgery: load VGG16's ``fc1``/``fc2`` into the convolutions ``fc6``/``fc7``.

    ``source`` is ``keras.applications.VGG16(include_top=True, ...)``; ``fc6`` must be a built
    7x7 convolution with 512 input channels and 4096 filters, ``fc7`` a 1x1 one with 4096 in and
    out. The biases carry over unchanged.
    """
    for dense_name, conv in (("fc1", fc6), ("fc2", fc7)):
        dense_kernel, bias = source.get_layer(dense_name).get_weights()
        kernel_shape = tuple(conv.kernel.shape)
        if kernel_shape[-1] != dense_kernel.shape[1] or int(np.prod(kernel_shape[:3])) != \
                dense_kernel.shape[0]:
            raise ConfigError(
                f"{conv.name} has kernel shape {kernel_shape}, which cannot hold VGG16's "
                f"{dense_name} {dense_kernel.shape}. Pretrained weights need fc_width=4096 and "
                "encoder_width=1.0."
            )
        conv.set_weights([dense_to_conv(dense_kernel, kernel_shape[:2]), bias])
