"""U-Net and FCN-8s on the pretrained encoders: ``resnet50_unet``, ``mobilenet_unet``,
``resnet50_fcn8``, ``mobilenet_fcn8``.

The same two ideas as notebooks 05 and 06, on the encoders practitioners start from
(:mod:`segutils.models.encoders`):

* :func:`encoder_unet`: the U-Net decoder of :mod:`segutils.models.unet` climbs from the
  encoder's stride-32 map back to full size, concatenating the encoder's maps at strides 16,
  8, 4 and 2; its last stage (stride 2 to 1) has no encoder map to join. Decoder widths
  256, 128, 64, 32, 16 by default, as in segmentation_models' U-Net.
* :func:`encoder_fcn8`: FCN-8s' scoring and skip fusion (:func:`segutils.models.fcn.fcn_head`)
  on the maps at strides 32, 16 and 8: zero-initialised score layers, x2 upsamplings that start
  bilinear and learn, a fixed bilinear x8.

Both pad the input to a multiple of 32 (after preprocessing, so with the colour the encoder
reads as zero) and crop the logits back: any input size, logits at the input's size.
"""

from __future__ import annotations

import keras

from segutils.errors import ConfigError, positive_int
from segutils.models.encoders import build_encoder, named_variant, preprocess_layer
from segutils.models.fcn import fcn_head
from segutils.models.layers import PadToMultiple
from segutils.models.unet import _check_upsampling, decoder, logits_head

__all__ = ["encoder_fcn8", "encoder_unet", "mobilenet_fcn8", "mobilenet_unet", "resnet50_fcn8",
           "resnet50_unet"]

#: The encoders halve the resolution five times.
OUTPUT_STRIDE = 32


def _encoded(inputs, encoder: str, encoder_weights, strides):
    """Preprocess, pad to a multiple of 32 and run the encoder: the maps at ``strides``."""
    x = preprocess_layer(encoder)(inputs)
    x = PadToMultiple(OUTPUT_STRIDE, name="pad")(x)
    return build_encoder(encoder, encoder_weights=encoder_weights, strides=strides)(x)


def encoder_unet(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    encoder: str = "resnet50",
    encoder_weights=None,
    decoder_filters=(256, 128, 64, 32, 16),
    batch_norm: bool = True,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    name: str | None = None,
) -> keras.Model:
    """A U-Net decoder on a pretrained encoder.

    Parameters
    ----------
    n_classes:
        Number of classes; the logits have this many channels.
    input_shape:
        (height, width, 3); ``None`` sizes accept any image size.
    encoder:
        ``"resnet50"`` or ``"mobilenetv2"`` (:data:`segutils.models.encoders.ENCODERS`).
    encoder_weights:
        ``None`` (random), ``"imagenet"``, or the path of a weights file of the encoder (see
        :func:`segutils.models.encoders.resolve_weights`).
    decoder_filters:
        Widths of the five decoder stages, coarsest first.
    batch_norm, dropout, upsampling:
        As in :func:`segutils.models.unet.unet`, for the decoder.

    Returns
    -------
    A Keras model from float32 RGB in [0, 1] to float32 logits of the input's size. The
    encoder is the nested model ``encoder``; the decoder's layers are ``decoder_stage{1..5}``.
    """
    positive_int(n_classes, "n_classes")
    upsampling = _check_upsampling(upsampling)
    filters = [positive_int(f, "decoder_filters entries") for f in decoder_filters]
    if len(filters) != 5:
        raise ConfigError(f"The encoder U-Net has five decoder stages, so decoder_filters needs "
                          f"five widths (coarsest first), got {len(filters)}: {filters}.")
    inputs = keras.Input(shape=input_shape, name="image")
    f2, f4, f8, f16, f32 = _encoded(inputs, encoder, encoder_weights, (2, 4, 8, 16, 32))
    x = decoder(f32, [f16, f8, f4, f2, None], filters, upsampling=upsampling, dropout=dropout,
                batch_norm=batch_norm)
    return keras.Model(inputs, logits_head(x, inputs, n_classes), name=name or "encoder_unet")


def encoder_fcn8(
    n_classes: int,
    input_shape=(None, None, 3),
    *,
    encoder: str = "resnet50",
    encoder_weights=None,
    name: str | None = None,
) -> keras.Model:
    """FCN-8s' head on a pretrained encoder: scores at strides 32, 16 and 8, fused.

    Parameters as in :func:`encoder_unet`. The score layers are ``score_fr`` (on the stride-32
    map), ``score_stride16`` and ``score_stride8``, all starting at zero; ``upscore2`` and
    ``upscore_stride16`` learn from a bilinear start; ``upscore8`` stays bilinear.
    """
    positive_int(n_classes, "n_classes")
    inputs = keras.Input(shape=input_shape, name="image")
    f8, f16, f32 = _encoded(inputs, encoder, encoder_weights, (8, 16, 32))
    skips = {16: ("stride16", f16), 8: ("stride8", f8)}
    logits = fcn_head(f32, skips, inputs, n_classes, stride=8)
    return keras.Model(inputs, logits, name=name or "encoder_fcn8")


resnet50_unet = named_variant(encoder_unet, "resnet50", "resnet50_unet")
mobilenet_unet = named_variant(encoder_unet, "mobilenetv2", "mobilenet_unet")
resnet50_fcn8 = named_variant(encoder_fcn8, "resnet50", "resnet50_fcn8")
mobilenet_fcn8 = named_variant(encoder_fcn8, "mobilenetv2", "mobilenet_fcn8")
