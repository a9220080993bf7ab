"""The U-Net family: the mini U-Net, the classic U-Net and a U-Net on a VGG16 encoder.

All three are encoder-decoders with skip connections: the encoder halves the resolution stage by
stage while it widens the features; the decoder doubles the resolution back and, at every stage,
*concatenates* the encoder features of the same resolution (the skip) before two convolutions
mix them. FCN adds its skips to class scores instead; concatenating wide feature maps lets the
decoder choose what to take from the fine, precise encoder features and what from the coarse,
semantic ones, which is what sharpens boundaries and keeps thin and small objects.

* :func:`unet_mini` follows the small U-Net of the keras_segmentation guide (seed 003): two
  pooling stages, nearest-neighbour upsampling. About 120k parameters at ``base_filters=16``.
* :func:`unet` is the layout of Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks
  for Biomedical Image Segmentation" (2015), with 'same' padding so that no border is lost:
  ``depth`` pooling stages of widths f, 2f, 4f, ..., a bottleneck of ``2**depth * f`` filters,
  2x2 up-convolutions that halve the channels, and a 1x1 classifier. ``depth=4,
  base_filters=64`` is the paper's network (31 million parameters).
* :func:`vgg_unet` takes its encoder from VGG16 (``segutils.models.vgg``, the same encoder the
  FCNs use, optionally with ImageNet weights) and adds a U-Net decoder on top.

Every model pads its input at the bottom and right to a multiple of ``2**depth`` and crops the
logits back (:mod:`segutils.models.layers`), so it accepts any image size, odd sizes included,
and returns logits of the input's height and width. Models take float32 images in [0, 1] and
return logits (no softmax); the output layer is named ``logits`` and computes in float32, so
logits and loss stay float32 under the ``mixed_float16`` policy.
"""

from __future__ import annotations

import keras

from segutils.errors import ConfigError, positive_int
from segutils.models.layers import CropToReference, PadToMultiple

# The FCNs' encoder, written once. Importing it here also registers VGGPreprocess, so a saved
# vgg_unet reloads wherever segutils.models is imported.
from segutils.models.vgg import VGGPreprocess, vgg16_encoder

__all__ = ["UPSAMPLING", "conv_block", "conv_bn_relu", "decoder", "encoder", "logits_head",
           "padded_size", "unet", "unet_mini", "vgg_unet"]

#: Two 2x2 poolings: height and width must be divisible by 2**2 inside the mini U-Net.
DOWNSAMPLING = 4
#: How the decoders of :func:`unet` and :func:`vgg_unet` can double the resolution.
UPSAMPLING = ("transpose", "bilinear")


def padded_size(size: int, depth: int) -> int:
    """The height (or width) a network with ``depth`` 2x2 poolings pads ``size`` up to.

    Each pooling halves the map, and the decoder's x2 upsampling must land exactly on the
    encoder map it is concatenated with, so the padded size is the smallest multiple of
    ``2**depth`` that is at least ``size`` (``size`` itself when it already is one):
    ``padded_size(97, 4) == 112``, ``padded_size(128, 4) == 128``.
    """
    size = positive_int(size, "size")
    multiple = 2 ** positive_int(depth, "depth")
    return -(-size // multiple) * multiple


def conv_block(x, filters: int, dropout: float, name: str, batch_norm: bool = False):
    """Conv3x3-ReLU, dropout, Conv3x3-ReLU: the repeated unit of encoder and decoder.

    Dropout sits between the two convolutions as in the seed; with ``batch_norm`` each
    convolution is followed by batch normalisation before the ReLU (faster, steadier training).
    The convolutions then have no bias: the normalisation's offset would cancel it.
    """
    for part in ("a", "b"):
        x = conv_bn_relu(x, filters, 3, f"{name}{part}", batch_norm=batch_norm)
        if part == "a" and dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def conv_bn_relu(x, filters: int, kernel_size: int, name: str, *, dilation_rate: int = 1,
                 batch_norm: bool = True):
    """Convolution ('same' padding), batch normalisation, ReLU: layers ``{name}_conv``,
    ``{name}_bn``, ``{name}_relu``. Every model of the course builds its blocks from it.

    Without ``batch_norm`` the convolution has a bias; with it, none (the normalisation's
    offset would cancel it). Momentum 0.9, not Keras' 0.99, so that the moving statistics used
    at inference settle within the few hundred steps of a CPU run.
    """
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", dilation_rate=dilation_rate,
                            use_bias=not batch_norm, name=f"{name}_conv")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def decoder_stage(x, skip, filters: int, stage: int, *, upsampling: str, dropout: float,
                  batch_norm: bool):
    """Double the resolution of ``x``, concatenate ``skip`` and mix both with a conv block.

    ``"transpose"``: a 2x2 transposed convolution with stride 2 (Ronneberger's "up-convolution")
    that learns its interpolation and halves the channels to ``filters``. ``"bilinear"``: fixed
    bilinear interpolation, then a 1x1 convolution to ``filters`` channels; fewer parameters and
    no checkerboard patterns, but the interpolation itself is not learnt. ``"nearest"`` (the
    mini U-Net's): each pixel repeated 2x2, no weights. None has a normalisation or activation:
    the conv block after the concatenation provides both.
    """
    name = f"decoder_stage{stage}"
    if upsampling == "transpose":
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same",
                                         name=f"{name}_up")(x)
    elif upsampling == "nearest":  # the mini U-Net's: no weights, the conv block mixes
        x = keras.layers.UpSampling2D(2, name=f"{name}_up")(x)
    else:
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resize")(x)
        x = keras.layers.Conv2D(filters, 1, name=f"{name}_up")(x)
    if skip is not None:  # the encoder models' last stage has no encoder map at full size
        x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    return conv_block(x, filters, dropout, name, batch_norm)


def encoder(x, widths, *, dropout: float, batch_norm: bool):
    """The U-Net encoder: per stage a conv block of ``widths[i]`` filters (the skip), then 2x2
    max pooling. Returns the pooled output and the skips, finest first."""
    skips = []
    for stage, filters in enumerate(widths, 1):
        x = conv_block(x, filters, dropout, f"encoder_stage{stage}", batch_norm)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder_stage{stage}_pool")(x)
    return x, skips


def decoder(x, skips, widths, *, upsampling: str, dropout: float, batch_norm: bool):
    """One :func:`decoder_stage` per skip, ``skips`` and ``widths`` coarsest first (stage 1 is
    the coarsest): the decoder every U-Net of the course shares."""
    for stage, (skip, filters) in enumerate(zip(skips, widths, strict=True), 1):
        x = decoder_stage(x, skip, filters, stage, upsampling=upsampling, dropout=dropout,
                          batch_norm=batch_norm)
    return x


def logits_head(x, inputs, n_classes: int):
    """1x1 classifier, then crop to the input's size: the layer named ``logits``.

    Both run in float32 whatever the global dtype policy (the mixed-precision rule): the
    classifier is a tiny share of the work, and float16 logits would make the loss coarse.
    """
    x = keras.layers.Conv2D(n_classes, 1, name="logits_padded", dtype="float32")(x)
    return CropToReference(name="logits", dtype="float32")([x, inputs])


def unet_mini(
    n_classes: int,
    input_shape=(None, None, 3),
    base_filters: int = 16,
    dropout: float = 0.1,
    *,
    batch_norm: bool = True,
) -> keras.Model:
    """Build the mini U-Net.

    Parameters
    ----------
    n_classes:
        Number of classes; the output has this many channels.
    input_shape:
        (height, width, channels). ``None`` sizes accept any image size: the input is padded
        to a multiple of 4 inside the model and the logits are cropped back to the input size.
    base_filters:
        Width f of the first block; the blocks have f, 2f and 4f filters.
    dropout:
        Dropout rate between the two convolutions of every block (0 disables it).
    batch_norm:
        Batch normalisation after every 3x3 convolution (default). The seed's model has none
        (``batch_norm=False`` rebuilds it); with it, training converges markedly faster at
        the short schedules of the ``cpu`` profile and tolerates larger learning rates. The
        momentum is 0.9, not Keras' 0.99, so that the moving statistics used at inference
        settle within the few hundred steps of a CPU run.

    Returns
    -------
    A Keras model from float32 images in [0, 1], (B, H, W, C), to logits
    (B, H, W, n_classes): no softmax, so train with ``from_logits=True``.

    Layer names follow the stage: ``encoder_stage{1,2}``, ``bottleneck``, ``decoder_stage{1,2}``
    (decoder stage 1 is the coarser one), ``logits``.
    """
    _check_common(n_classes, base_filters, dropout)
    inputs = keras.Input(shape=input_shape, name="image")
    x = PadToMultiple(DOWNSAMPLING, name="pad")(inputs)

    widths = [base_filters, base_filters * 2]
    x, skips = encoder(x, widths, dropout=dropout, batch_norm=batch_norm)
    x = conv_block(x, base_filters * 4, dropout, "bottleneck", batch_norm)
    x = decoder(x, skips[::-1], widths[::-1], upsampling="nearest", dropout=dropout,
                batch_norm=batch_norm)

    return keras.Model(inputs, logits_head(x, inputs, n_classes), name="unet_mini")


def unet(
    n_classes: int,
    input_shape=(None, None, 3),
    depth: int = 4,
    base_filters: int = 64,
    batch_norm: bool = True,
    dropout: float = 0.0,
    upsampling: str = "transpose",
) -> keras.Model:
    """Build the classic U-Net (Ronneberger et al. 2015) with 'same' padding.

    Parameters
    ----------
    n_classes:
        Number of classes; the output has this many channels.
    input_shape:
        (height, width, channels); ``None`` sizes accept any image size. The input is padded
        to a multiple of ``2**depth`` inside the model and the logits are cropped back.
    depth:
        Number of 2x2 poolings (4 in the paper). Each adds a stage of twice the width and
        doubles the receptive field of the bottleneck.
    base_filters:
        Width f of the first stage; stage i has ``f * 2**(i-1)`` filters and the bottleneck
        ``f * 2**depth``. 64 is the paper's network; the course's CPU profiles use 8 or 16
        (the parameter count grows with f squared).
    batch_norm:
        Batch normalisation after every 3x3 convolution (the paper predates it; it makes the
        short CPU schedules converge). ``False`` gives the paper's plain ReLU convolutions.
    dropout:
        Dropout rate between the two convolutions of every block (0 disables it).
    upsampling:
        ``"transpose"`` (the paper's learnt 2x2 up-convolution) or ``"bilinear"`` (fixed
        interpolation then a 1x1 convolution); see :func:`decoder_stage`.

    Returns
    -------
    A Keras model named ``unet`` from float32 images in [0, 1], (B, H, W, C), to float32
    logits (B, H, W, n_classes). Layers: ``pad``, ``encoder_stage{i}`` (i = 1 is the finest),
    ``encoder_stage{i}_pool``, ``bottleneck``, ``decoder_stage{i}`` (i = 1 is the coarsest,
    as in :func:`unet_mini`) with ``_up`` and ``_concat``, ``logits_padded``, ``logits``.
    """
    _check_common(n_classes, base_filters, dropout)
    depth = positive_int(depth, "depth")
    upsampling = _check_upsampling(upsampling)
    inputs = keras.Input(shape=input_shape, name="image")
    x = PadToMultiple(2**depth, name="pad")(inputs)

    widths = [base_filters * 2**k for k in range(depth)]
    x, skips = encoder(x, widths, dropout=dropout, batch_norm=batch_norm)
    x = conv_block(x, base_filters * 2**depth, dropout, "bottleneck", batch_norm)
    x = decoder(x, skips[::-1], widths[::-1], upsampling=upsampling, dropout=dropout,
                batch_norm=batch_norm)

    return keras.Model(inputs, logits_head(x, inputs, n_classes), name="unet")


def vgg_unet(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    weights: str | None = None,
    encoder_width: float = 1.0,
    decoder_filters=None,
    batch_norm: bool = True,
    dropout: float = 0.0,
    upsampling: str = "transpose",
) -> keras.Model:
    """Build a U-Net whose encoder is VGG16 (the FCNs' encoder, :mod:`segutils.models.vgg`).

    VGG16's five conv blocks play the encoder stages: the outputs of blocks 1 to 4 (before their
    pooling; full, 1/2, 1/4 and 1/8 resolution) are the skips, block 5 (1/16) is the
    bottleneck (pool5 is not used). Four decoder stages (:func:`decoder_stage`) climb back to
    full resolution. The input is padded to a multiple of 16 (four poolings), with the ImageNet
    mean colour, and the logits are cropped back.

    Parameters
    ----------
    n_classes:
        Number of classes; the output has this many channels.
    input_shape:
        (height, width, 3); ``None`` sizes accept any image size.
    weights:
        ``None`` (random initialisation) or ``"imagenet"`` (the encoder starts from ImageNet
        VGG16; needs ``encoder_width=1.0`` and a download the first time). The encoder does
        VGG's own preprocessing: feed images in [0, 1] as for every other model.
    encoder_width:
        Scales VGG16's 64, 128, 256, 512, 512 channels (the course's CPU profiles use 1/4).
    decoder_filters:
        Filters of the four decoder stages, coarsest first. ``None``: as many as the skip each
        stage joins (512, 256, 128, 64 times ``encoder_width``), the symmetric U-Net choice.
    batch_norm, dropout, upsampling:
        As in :func:`unet`, for the decoder (VGG16 itself has no normalisation or dropout).

    Returns
    -------
    A Keras model named ``vgg_unet`` from float32 images in [0, 1] to float32 logits of the
    input's size. Encoder layers keep VGG16's names (``block1_conv1``, ...), so ImageNet
    weights and :func:`segutils.models.fcn.transfer_weights` find them.
    """
    _check_common(n_classes, 1, dropout)
    upsampling = _check_upsampling(upsampling)
    inputs = keras.Input(shape=input_shape, name="image")
    # Preprocess, then pad: the padding is zero in VGG's input space, the ImageNet mean colour,
    # as in the FCNs (and Caffe). It sits where the image ends and the encoder expects nothing.
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    x = PadToMultiple(16, name="pad")(x)
    features = vgg16_encoder(x, width=encoder_width, weights=weights, preprocess=False)

    skips = [features[f"block{k}"] for k in (4, 3, 2, 1)]
    if decoder_filters is None:
        decoder_filters = [int(skip.shape[-1]) for skip in skips]
    decoder_filters = [positive_int(f, "decoder_filters entries") for f in decoder_filters]
    if len(decoder_filters) != 4:
        raise ConfigError(
            f"vgg_unet has four decoder stages, so decoder_filters needs four widths (coarsest "
            f"first), got {len(decoder_filters)}: {decoder_filters}."
        )
    x = decoder(features["block5"], skips, decoder_filters, upsampling=upsampling,
                dropout=dropout, batch_norm=batch_norm)

    return keras.Model(inputs, logits_head(x, inputs, n_classes), name="vgg_unet")


# --- argument checks ---------------------------------------------------------------------------


def _check_common(n_classes, base_filters, dropout) -> None:
    positive_int(n_classes, "n_classes")
    positive_int(base_filters, "base_filters")
    check_dropout(dropout)


def check_dropout(dropout) -> float:
    """``dropout`` as a float rate in [0, 1), or a ConfigError saying so."""
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout is a rate in [0, 1), got {dropout!r}.")
    return float(dropout)


def _check_upsampling(upsampling: str) -> str:
    if upsampling not in UPSAMPLING:
        raise ConfigError(
            f"upsampling must be one of {', '.join(map(repr, UPSAMPLING))}, got {upsampling!r}."
        )
    return upsampling
