"""Context at several scales: PSPNet and DeepLabV3+ on the pretrained encoders.

A pixel's class often depends on what surrounds it far beyond its receptive field (a boat on
water, not a car on a road). Both models look at the whole image at several scales at once,
on an encoder that keeps more resolution than 1/32 (:func:`segutils.models.encoders.dilate`).

* :func:`pspnet`, Zhao et al., "Pyramid Scene Parsing Network" (2017): the encoder stops at
  output stride 8; its last map is average-pooled into 1x1, 2x2, 3x3 and 6x6 bins, each bin map
  is reduced by a 1x1 convolution to 1/4 of the channels and resized back, and the four are
  concatenated with the map itself before a 3x3 convolution and the classifier. The logits are
  resized x8 (bilinear).
* :func:`deeplabv3plus`, Chen et al., "Encoder-Decoder with Atrous Separable Convolution for
  Semantic Image Segmentation" (2018): at output stride 16, atrous spatial pyramid pooling
  (ASPP) runs a 1x1 convolution, three 3x3 convolutions with atrous (dilation) rates 6, 12 and
  18, and an image-level average, side by side; their concatenation is projected to 256
  channels, resized x4 and joined with 48 channels of the encoder's stride-4 map (the decoder
  that sharpens boundaries), then two 3x3 convolutions, the classifier and a x4 resize.

Both pad the input so every pooling grid and stride divides it, and crop the logits back: any
input size, logits at the input's size.
"""

from __future__ import annotations

import math

import keras

from segutils.errors import ConfigError, positive_int
from segutils.models.encoders import build_encoder, named_variant, preprocess_layer
from segutils.models.layers import BinPooling, CropToReference, PadToMultiple, ResizeToReference
from segutils.models.unet import check_dropout, conv_bn_relu

__all__ = ["deeplabv3plus", "mobilenet_deeplabv3plus", "mobilenet_pspnet", "pspnet",
           "resnet50_deeplabv3plus", "resnet50_pspnet"]

#: PSPNet's pyramid: the bins of each pooling (1x1 is global average pooling).
PSP_BINS = (1, 2, 3, 6)
#: DeepLabV3+'s atrous rates at output stride 16 (doubled at output stride 8).
ASPP_RATES = (6, 12, 18)


def _classify_and_resize(x, padded, inputs, n_classes: int):
    """1x1 classifier at the map's resolution, bilinear resize to the padded input, crop."""
    x = keras.layers.Conv2D(n_classes, 1, name="logits_small", dtype="float32")(x)
    x = ResizeToReference(name="logits_resize", dtype="float32")([x, padded])
    return CropToReference(name="logits", dtype="float32")([x, inputs])


def pspnet(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    encoder: str = "resnet50",
    encoder_weights=None,
    output_stride: int = 8,
    bins=PSP_BINS,
    head_filters: int = 512,
    dropout: float = 0.1,
    name: str | None = None,
) -> keras.Model:
    """PSPNet: pyramid pooling on a dilated encoder.

    Parameters
    ----------
    n_classes:
        Number of classes; the logits have this many channels.
    input_shape:
        (height, width, 3); ``None`` sizes accept any image size. The input is padded to a
        multiple of ``output_stride`` times the least common multiple of ``bins`` (48 for the
        paper's settings), so that every bin covers the same number of pixels.
    encoder, encoder_weights:
        As in :func:`segutils.models.pretrained.encoder_unet`.
    output_stride:
        8 (the paper's), 16 or 32.
    bins:
        The pooling grids (the paper's 1, 2, 3, 6). Each branch has ``C / len(bins)``
        channels, C being the encoder's (2048 for ResNet-50, 1280 for MobileNetV2).
    head_filters:
        Filters of the 3x3 convolution after the concatenation (the paper: 512).
    dropout:
        Dropout before the classifier (the paper: 0.1).

    Returns
    -------
    A Keras model from float32 RGB in [0, 1] to float32 logits of the input's size; layers
    ``encoder``, ``psp_bin{b}_*``, ``psp_concat``, ``psp_head_*``, ``logits``.
    """
    positive_int(n_classes, "n_classes")
    bins = tuple(positive_int(b, "bins entries") for b in bins)
    dropout = check_dropout(dropout)
    inputs = keras.Input(shape=input_shape, name="image")
    x = preprocess_layer(encoder)(inputs)
    padded = PadToMultiple(output_stride * math.lcm(*bins), name="pad")(x)
    features = build_encoder(encoder, encoder_weights=encoder_weights,
                             output_stride=output_stride, strides=(32,))(padded)

    branch_filters = max(1, int(features.shape[-1]) // len(bins))
    pyramid = [features]
    for b in bins:
        y = BinPooling(b, name=f"psp_bin{b}_pool")(features)
        y = conv_bn_relu(y, branch_filters, 1, f"psp_bin{b}")
        pyramid.append(ResizeToReference(name=f"psp_bin{b}_resize")([y, features]))
    x = keras.layers.Concatenate(name="psp_concat")(pyramid)
    x = conv_bn_relu(x, positive_int(head_filters, "head_filters"), 3, "psp_head")
    x = keras.layers.Dropout(dropout, name="psp_dropout")(x)
    logits = _classify_and_resize(x, padded, inputs, n_classes)
    return keras.Model(inputs, logits, name=name or "pspnet")


def deeplabv3plus(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    encoder: str = "resnet50",
    encoder_weights=None,
    output_stride: int = 16,
    atrous_rates=None,
    aspp_filters: int = 256,
    low_level_filters: int = 48,
    decoder_filters: int = 256,
    dropout: float = 0.1,
    name: str | None = None,
) -> keras.Model:
    """DeepLabV3+: atrous spatial pyramid pooling and a light decoder.

    Parameters
    ----------
    n_classes, input_shape, encoder, encoder_weights:
        As in :func:`pspnet`; the input is padded to a multiple of ``output_stride``.
    output_stride:
        16 (the paper's default for training) or 8.
    atrous_rates:
        The three dilation rates of ASPP; ``None``: (6, 12, 18) at output stride 16, doubled
        at 8, as in the paper, so that they cover the same share of the image.
    aspp_filters:
        Channels of every ASPP branch and of its projection (256).
    low_level_filters:
        Channels the stride-4 encoder map is reduced to before joining (48: few, so that the
        semantic features dominate).
    decoder_filters:
        Channels of the decoder's two 3x3 convolutions (256).
    dropout:
        Dropout after the ASPP projection (0.1).

    Returns
    -------
    A Keras model from float32 RGB in [0, 1] to float32 logits of the input's size; layers
    ``encoder``, ``aspp_1x1_*``, ``aspp_rate{r}_*``, ``aspp_pool*``, ``aspp_project_*``,
    ``decoder_low_level_*``, ``decoder_conv{1,2}_*``, ``logits``.
    """
    positive_int(n_classes, "n_classes")
    if output_stride not in (8, 16):
        raise ConfigError(f"DeepLabV3+ works at output stride 16 or 8, got {output_stride!r}.")
    if atrous_rates is None:
        atrous_rates = tuple(r * 16 // output_stride for r in ASPP_RATES)
    rates = tuple(positive_int(r, "atrous_rates entries") for r in atrous_rates)
    dropout = check_dropout(dropout)
    aspp_filters = positive_int(aspp_filters, "aspp_filters")
    inputs = keras.Input(shape=input_shape, name="image")
    x = preprocess_layer(encoder)(inputs)
    padded = PadToMultiple(output_stride, name="pad")(x)
    low, high = build_encoder(encoder, encoder_weights=encoder_weights,
                              output_stride=output_stride, strides=(4, 32))(padded)

    branches = [conv_bn_relu(high, aspp_filters, 1, "aspp_1x1")]
    branches += [conv_bn_relu(high, aspp_filters, 3, f"aspp_rate{r}", dilation_rate=r)
                 for r in rates]
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(high)
    pooled = conv_bn_relu(pooled, aspp_filters, 1, "aspp_pool")
    branches.append(ResizeToReference(name="aspp_pool_resize")([pooled, high]))
    x = keras.layers.Concatenate(name="aspp_concat")(branches)
    x = conv_bn_relu(x, aspp_filters, 1, "aspp_project")
    x = keras.layers.Dropout(dropout, name="aspp_dropout")(x)

    x = ResizeToReference(name="decoder_resize")([x, low])
    low = conv_bn_relu(low, positive_int(low_level_filters, "low_level_filters"), 1,
                       "decoder_low_level")
    x = keras.layers.Concatenate(name="decoder_concat")([x, low])
    for i in (1, 2):
        x = conv_bn_relu(x, positive_int(decoder_filters, "decoder_filters"), 3,
                         f"decoder_conv{i}")
    logits = _classify_and_resize(x, padded, inputs, n_classes)
    return keras.Model(inputs, logits, name=name or "deeplabv3plus")


resnet50_pspnet = named_variant(pspnet, "resnet50", "resnet50_pspnet")
mobilenet_pspnet = named_variant(pspnet, "mobilenetv2", "mobilenet_pspnet")
resnet50_deeplabv3plus = named_variant(deeplabv3plus, "resnet50", "resnet50_deeplabv3plus")
mobilenet_deeplabv3plus = named_variant(deeplabv3plus, "mobilenetv2", "mobilenet_deeplabv3plus")
