"""FCN-32s, FCN-16s and FCN-8s on VGG16, for images of any size.

Long, Shelhamer and Darrell ("Fully Convolutional Networks for Semantic Segmentation", 2015)
turned an ImageNet classifier into a segmenter in three moves: the dense layers become
convolutions (``fc6`` 7x7, ``fc7`` 1x1; "net surgery" loads their ImageNet weights), a 1x1
convolution ``score_fr`` scores every class at 1/32 of the input resolution, and a transposed
convolution initialised to bilinear interpolation brings the scores back to full size. That is
FCN-32s. FCN-16s adds scores from ``pool4`` (stride 16) to the coarse scores upsampled x2, then
upsamples x16; FCN-8s does the same once more with ``pool3`` (stride 8) and upsamples x8.

Any input size, exactly. Caffe's FCN padded ``conv1_1`` by 100 pixels and cropped every fused
map by hand-computed offsets (19; 5 then 27; 5, 9 then 31). Here every convolution uses 'same'
padding, so a feature map of stride ``s`` has its pixel ``i`` centred on input pixel
``s * i + (s - 1) / 2`` whenever the input is a multiple of 32. The model zero-pads its
(preprocessed) input at the bottom and right up to that multiple (:class:`PadToMultiple`, padding
with the ImageNet mean colour, as Caffe's zero padding after mean subtraction did), and crops the
full-size logits back to the input (:class:`CropToReference`). Skips then line up with no offsets
at all, and pixel (0, 0) stays at (0, 0).

Layer names are the same in all three variants (``fc6``, ``fc7``, ``score_fr``, ``upscore2``,
``score_pool4``, ...), so :func:`transfer_weights` can start an FCN-16s from a trained FCN-32s.
"""

from __future__ import annotations

import keras

from segutils.errors import ConfigError, positive_int
from segutils.models.layers import CropToReference, PadToMultiple
from segutils.models.vgg import (
    CONV_BLOCKS,
    VGGPreprocess,
    convolutionize,
    scaled_channels,
    vgg16_encoder,
    weights_source,
)
from segutils.upsampling import bilinear_upsampling, upsampling_kernel_size

__all__ = ["OUTPUT_STRIDE", "fcn8", "fcn16", "fcn32", "fcn_head", "fcn_variant",
           "parameter_count", "transfer_weights"]

#: Five 2x2 poolings: the coarsest map is 1/32 of the (padded) input.
OUTPUT_STRIDE = 32
#: Fixed scaling of the skip inputs in "at-once" training (FCN's ``voc-fcn8s-atonce``).
AT_ONCE_SCALES = {"pool4": 0.01, "pool3": 0.0001}


def _score(x, n_classes: int, name: str):
    """A zero-initialised 1x1 class-scoring convolution.

    FCN zero-initialises every score layer: "random initialization yielded neither better
    performance nor faster convergence". For the skip layers of staged training it matters more:
    at zero, a new skip adds nothing, so the finer net starts exactly where the coarser one ended.
    """
    return keras.layers.Conv2D(n_classes, 1, kernel_initializer="zeros", name=name)(x)


def _fcn(
    stride: int,
    n_classes: int,
    input_shape,
    *,
    weights,
    encoder_width: float,
    fc_width: int,
    at_once: bool,
    dropout: float,
    name: str | None,
) -> keras.Model:
    n_classes = positive_int(n_classes, "n_classes")
    fc_width = positive_int(fc_width, "fc_width")
    if not 0 <= dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}.")
    if weights is not None and (fc_width != 4096 or encoder_width != 1.0):
        raise ConfigError(
            f"ImageNet weights fit only the paper's model (encoder_width=1.0, fc_width=4096), "
            f"got encoder_width={encoder_width}, fc_width={fc_width}. Use weights=None for a "
            "slimmer model trained from scratch."
        )
    source = weights_source(weights)  # load (or fail) before building anything large

    inputs = keras.Input(shape=input_shape, name="image")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    x = PadToMultiple(OUTPUT_STRIDE, name="pad")(x)
    features = vgg16_encoder(x, width=encoder_width, weights=source, preprocess=False)

    # fc6/fc7 as convolutions; 'same' padding keeps the 1/32 map's size for any input.
    fc6 = keras.layers.Conv2D(fc_width, 7, padding="same", activation="relu",
                              kernel_initializer="he_uniform", name="fc6")
    fc7 = keras.layers.Conv2D(fc_width, 1, activation="relu",
                              kernel_initializer="he_uniform", name="fc7")
    x = keras.layers.Dropout(dropout, name="drop6")(fc6(features["pool5"]))
    x = keras.layers.Dropout(dropout, name="drop7")(fc7(x))
    if source is not None:
        convolutionize(source, fc6, fc7)
    skips = {16: ("pool4", features["pool4"]), 8: ("pool3", features["pool3"])}
    logits = fcn_head(x, skips, inputs, n_classes, stride=stride, at_once=at_once)
    return keras.Model(inputs, logits, name=name or f"fcn{stride}")


def fcn_head(x, skips: dict, inputs, n_classes: int, *, stride: int = 8, at_once: bool = False):
    """FCN's scoring and skip fusion on any encoder; returns the logits at ``inputs``' size.

    ``x`` is the stride-32 feature map (VGG16's fc7, or a ResNet's last stage); ``skips`` maps
    strides 16 and 8 to ``(name, feature map)`` (``"pool4"``, ``"pool3"`` for VGG16). The
    scores of ``x`` (``score_fr``) are upsampled x2 (learnable, bilinear start) and added to
    the zero-initialised scores of the stride-16 skip (``score_<name>``), and again for stride
    8; a fixed bilinear upsampling by ``stride`` gives full size, then the crop to ``inputs``.
    """
    score = _score(x, n_classes, "score_fr")
    # Skip fusion, coarse to fine. Layer names as in FCN's Caffe nets.
    up_names = {16: "upscore2", 8: f"upscore_{skips[16][0]}"}
    for skip_stride in (16, 8):
        if stride > skip_stride:
            break
        skip_name, skip = skips[skip_stride]
        score = bilinear_upsampling(2, n_classes, trainable=True,
                                    name=up_names[skip_stride])(score)
        if at_once:
            skip = keras.layers.Rescaling(AT_ONCE_SCALES[skip_name],
                                          name=f"scale_{skip_name}")(skip)
        score = keras.layers.Add(name=f"fuse_{skip_name}")(
            [score, _score(skip, n_classes, f"score_{skip_name}")])

    # The final upsampling stays bilinear (fixed), as in FCN.
    x = bilinear_upsampling(stride, n_classes, trainable=False, name=f"upscore{stride}")(score)
    return CropToReference(name="logits", dtype="float32")([x, inputs])


_DOC_ARGS = """
    Parameters
    ----------
    n_classes:
        Number of classes; the logits have this many channels.
    input_shape:
        (height, width, 3). Any size works, also ``None`` for sizes chosen per batch: the input
        is padded to a multiple of 32 inside the model and the logits are cropped back, so the
        output always has the input's height and width.
    weights:
        ``None`` (train from scratch), ``"imagenet"`` (VGG16's ImageNet weights for the 13
        convolutions and, by net surgery, for fc6/fc7; downloads 528 MB once, needs the paper's
        widths), or a ``keras.applications.VGG16(include_top=True)`` model to copy from.
    encoder_width:
        Scales VGG16's channels (1.0: 64..512). Smaller values train on a CPU.
    fc_width:
        Filters of fc6 and fc7 (the paper: 4096).
    at_once:
        ``True``: FCN's at-once variant, which scales pool4 by 0.01 and pool3 by 0.0001 (fixed
        ``Rescaling`` layers) before their score layers, so the skips cannot swamp the coarse
        scores while everything trains together. ``False`` (default): staged training; the skip
        score layers start at zero, so a model initialised by :func:`transfer_weights` from the
        coarser variant predicts what that one predicts.
    dropout:
        Dropout after fc6 and after fc7 (FCN: 0.5).
    name:
        Model name (default ``"fcn32"``, ``"fcn16"``, ``"fcn8"``).

    Returns
    -------
    A Keras model from float32 RGB images in [0, 1], (B, H, W, 3), to float32 logits
    (B, H, W, n_classes) from a layer named ``"logits"``: no softmax, train with
    ``from_logits=True``. The last upsampling (``upscore32``/``16``/``8``) is fixed bilinear
    interpolation; the x2 upsamplings of the skips start bilinear and learn; all score layers
    start at zero.
"""


def fcn32(n_classes: int, input_shape=(None, None, 3), *, weights=None, encoder_width=1.0,
          fc_width=4096, at_once=False, dropout=0.5, name=None) -> keras.Model:
    return _fcn(32, n_classes, input_shape, weights=weights, encoder_width=encoder_width,
                fc_width=fc_width, at_once=at_once, dropout=dropout, name=name)


def fcn16(n_classes: int, input_shape=(None, None, 3), *, weights=None, encoder_width=1.0,
          fc_width=4096, at_once=False, dropout=0.5, name=None) -> keras.Model:
    return _fcn(16, n_classes, input_shape, weights=weights, encoder_width=encoder_width,
                fc_width=fc_width, at_once=at_once, dropout=dropout, name=name)


def fcn8(n_classes: int, input_shape=(None, None, 3), *, weights=None, encoder_width=1.0,
         fc_width=4096, at_once=False, dropout=0.5, name=None) -> keras.Model:
    return _fcn(8, n_classes, input_shape, weights=weights, encoder_width=encoder_width,
                fc_width=fc_width, at_once=at_once, dropout=dropout, name=name)


fcn32.__doc__ = "FCN-32s: score at stride 32, upsample x32 (no skips)." + _DOC_ARGS
fcn16.__doc__ = "FCN-16s: FCN-32s plus the pool4 skip, upsample x16." + _DOC_ARGS
fcn8.__doc__ = "FCN-8s: FCN-16s plus the pool3 skip, upsample x8." + _DOC_ARGS


def fcn_variant(stride: int):
    """The builder for output stride 32, 16 or 8 (``fcn_variant(8) is fcn8``)."""
    builders = {32: fcn32, 16: fcn16, 8: fcn8}
    if stride not in builders:
        raise ConfigError(f"FCN variants have stride 32, 16 or 8, got {stride!r}.")
    return builders[stride]


def transfer_weights(src: keras.Model, dst: keras.Model) -> list[str]:
    """Copy into ``dst`` the weights of every ``src`` layer with the same name and shapes.

    This is how staged training goes FCN-32s -> FCN-16s -> FCN-8s: the encoder, fc6/fc7,
    ``score_fr`` and (16s -> 8s) ``upscore2``/``score_pool4`` carry over; the new skip's score
    layer keeps its zero start. Layers of ``dst`` that ``src`` lacks, or whose weight shapes
    differ (another ``n_classes`` or width), keep their own weights. Returns the copied names,
    in ``dst``'s layer order, so a caller can check that nothing expected was skipped.
    """
    src_layers = {layer.name: layer for layer in src.layers}
    copied = []
    for layer in dst.layers:
        mine = layer.get_weights()
        if not mine or layer.name not in src_layers:
            continue
        theirs = src_layers[layer.name].get_weights()
        if [w.shape for w in theirs] != [w.shape for w in mine]:
            continue
        layer.set_weights(theirs)
        copied.append(layer.name)
    return copied


def parameter_count(stride: int, n_classes: int, *, encoder_width: float = 1.0,
                    fc_width: int = 4096) -> int:
    """Parameters of FCN-``stride``s, counted from layer shapes without building the model.

    A k x k convolution from ``c_in`` to ``c_out`` channels has ``k * k * c_in * c_out`` weights
    plus ``c_out`` biases; the upsampling layers have no bias. For the paper's FCN-8s with 21
    classes this gives 134,489,759, three quarters of it in fc6 (7 * 7 * 512 * 4096 weights):
    the classifier's first dense layer, not the convolutions, is what makes VGG16 heavy.
    """
    fcn_variant(stride)
    n = positive_int(n_classes, "n_classes")
    total, c_in, widths = 0, 3, {}
    for block, (channels, n_convs) in enumerate(CONV_BLOCKS, start=1):
        c_out = scaled_channels(channels, encoder_width)
        for _ in range(n_convs):
            total += 3 * 3 * c_in * c_out + c_out
            c_in = c_out
        widths[f"pool{block}"] = c_out
    total += 7 * 7 * c_in * fc_width + fc_width  # fc6
    total += fc_width * fc_width + fc_width  # fc7
    total += fc_width * n + n  # score_fr
    for skip_stride, pool in ((16, "pool4"), (8, "pool3")):
        if stride <= skip_stride:
            total += 4 * 4 * n * n + widths[pool] * n + n  # x2 upsampling, skip score layer
    return total + upsampling_kernel_size(stride) ** 2 * n * n
