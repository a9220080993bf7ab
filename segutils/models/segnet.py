"""SegNet: an encoder-decoder that upsamples with the encoder's max-pooling indices.

Badrinarayanan, Kendall and Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder
Architecture for Image Segmentation" (2017). The encoder is VGG16's 13 convolutions, each
followed by batch normalisation and ReLU; every 2x2 max pooling remembers *where* in its window
the maximum was. The decoder mirrors the encoder: each stage first *unpools* -- it writes every
value back at the position its encoder stage took the maximum from, zeros elsewhere
(:class:`~segutils.models.layers.MaxUnpooling`) -- and then its convolutions densify the sparse
map. Upsampling costs no weights and keeps boundaries where the encoder saw them; FCN learns a
transposed convolution instead, and U-Net carries whole feature maps across (more memory).

* :func:`segnet`: the paper's network, about 29.5 million parameters (VGG16's convolutions
  twice, plus batch normalisation). The encoder's layers keep VGG16's names, so ImageNet
  weights load into its convolutions.
* :func:`segnet_mini`: the paper's "SegNet-Basic", its small model for CamVid: four encoder
  and four decoder stages, one 7x7 convolution of 64 filters each, for the CPU profiles.

Both pad their input to a multiple of 2**stages and crop the logits back.
"""

from __future__ import annotations

import keras

from segutils.errors import ConfigError, positive_int
from segutils.models.layers import MaxPoolingWithIndices, MaxUnpooling, PadToMultiple
from segutils.models.unet import conv_bn_relu, logits_head
from segutils.models.vgg import CONV_BLOCKS, VGGPreprocess, _check_width, scaled_channels
from segutils.models.vgg import weights_source as vgg_weights_source

__all__ = ["segnet", "segnet_mini"]


def _segnet(inputs, x, stages, n_classes: int, kernel_size: int, name: str, source=None):
    """Encoder, decoder and classifier for ``stages`` = [(name, [widths of its convs])].

    Encoder stage ``s`` runs its convolutions, then pools with indices; decoder stage ``s``
    (coarsest first) unpools with those indices and runs the mirrored convolutions, the last
    one narrowing to the next finer stage's width.
    """
    indices = []
    for stage, widths in stages:
        for i, width in enumerate(widths, 1):
            x = conv_bn_relu(x, width, kernel_size, f"{stage}_conv{i}")
        x, where = MaxPoolingWithIndices(name=f"{stage}_pool")(x)
        indices.append(where)
    for s in range(len(stages) - 1, -1, -1):
        stage, widths = stages[s]
        x = MaxUnpooling(name=f"decoder_{stage}_unpool")([x, indices[s]])
        out = list(widths[::-1])
        out[-1] = stages[s - 1][1][-1] if s > 0 else widths[0]
        for i, width in enumerate(out, 1):
            x = conv_bn_relu(x, width, kernel_size, f"decoder_{stage}_conv{i}")
    model = keras.Model(inputs, logits_head(x, inputs, n_classes), name=name)
    if source is not None:
        for stage, widths in stages:
            for i in range(1, len(widths) + 1):
                kernel, bias = source.get_layer(f"{stage}_conv{i}").get_weights()
                model.get_layer(f"{stage}_conv{i}_conv").set_weights([kernel])
                # VGG16's bias sits before the batch normalisation, which removes it: fold it
                # into the normalisation's offset so the first forward pass is VGG16's.
                bn = model.get_layer(f"{stage}_conv{i}_bn")
                gamma, beta, mean, var = bn.get_weights()
                bn.set_weights([gamma, beta, mean - bias, var])
    return model


def segnet(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    encoder_weights=None,
    encoder_width: float = 1.0,
    name: str = "segnet",
) -> keras.Model:
    """SegNet on VGG16 (the paper's network).

    Parameters
    ----------
    n_classes:
        Number of classes; the logits have this many channels.
    input_shape:
        (height, width, 3); ``None`` sizes accept any image size (padded inside to a
        multiple of 32, the five poolings).
    encoder_weights:
        ``None`` (random), ``"imagenet"`` (VGG16's ImageNet convolutions, as the paper
        started; a 58 MB download the first time), or the path of a weights file of
        ``keras.applications.VGG16(include_top=False)``. Needs ``encoder_width=1.0``.
    encoder_width:
        Scales VGG16's 64 .. 512 channels (the CPU profiles use 1/8 or 1/4).

    Returns
    -------
    A Keras model from float32 RGB in [0, 1] to float32 logits of the input's size. Encoder
    layers ``block{b}_conv{i}_conv/_bn/_relu`` and ``block{b}_pool``; decoder layers
    ``decoder_block{b}_unpool`` and ``decoder_block{b}_conv{i}_*``.
    """
    positive_int(n_classes, "n_classes")
    width = _check_width(encoder_width, "encoder_width")
    if encoder_weights is not None and width != 1.0:
        raise ConfigError(f"Pretrained VGG16 weights need encoder_width=1.0, got {width}.")
    source = vgg_weights_source(encoder_weights, include_top=False)
    stages = [(f"block{b}", [scaled_channels(c, width)] * n)
              for b, (c, n) in enumerate(CONV_BLOCKS, 1)]
    inputs = keras.Input(shape=input_shape, name="image")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    x = PadToMultiple(2 ** len(stages), name="pad")(x)
    return _segnet(inputs, x, stages, n_classes, 3, name, source)


def segnet_mini(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    filters: int = 64,
    depth: int = 4,
    kernel_size: int = 7,
    name: str = "segnet_mini",
) -> keras.Model:
    """SegNet-Basic: ``depth`` stages of one ``kernel_size`` convolution of ``filters`` each.

    The paper's small SegNet (4 stages, 64 filters, 7x7: the wide kernels give the context a
    deeper network would), trained from scratch on images in [0, 1]. The CPU profiles use
    fewer filters.
    """
    positive_int(n_classes, "n_classes")
    filters, depth = positive_int(filters, "filters"), positive_int(depth, "depth")
    stages = [(f"stage{s}", [filters]) for s in range(1, depth + 1)]
    inputs = keras.Input(shape=input_shape, name="image")
    x = PadToMultiple(2**depth, name="pad")(inputs)
    return _segnet(inputs, x, stages, n_classes, positive_int(kernel_size, "kernel_size"), name)
