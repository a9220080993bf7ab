"""Pretrained encoders from ``keras.applications``: ResNet-50 and MobileNetV2.

Most segmentation networks practitioners train are an ImageNet classifier with its classifier
removed (the *encoder*, or backbone) and a segmentation head on top. This module turns a
``keras.applications`` network into such an encoder: a Keras model, named ``encoder``, that maps
an image to its feature maps at strides 2, 4, 8, 16 and 32. The heads (U-Net decoder, FCN-8s
scores, PSPNet's pyramid pooling, DeepLabV3+'s atrous pyramid) pick the strides they need.

* **Names and weights.** The encoder *is* the ``keras.applications`` network, so its layers keep
  their names (``conv4_block6_out``, ``block_13_expand_relu``) and ImageNet weights load as Keras
  itself loads them. ``encoder_weights`` is ``None`` (random), ``"imagenet"`` (the file Keras
  downloads once into its cache folder) or the path of a weights file of that network.
* **Preprocessing inside.** Every course model takes RGB in [0, 1]. ResNet-50 was trained on
  Caffe-style input (0..255, BGR, ImageNet means subtracted: :class:`~segutils.models.vgg.
  VGGPreprocess`, the same as VGG16), MobileNetV2 on [-1, 1]. The first layer of a model does
  that conversion, so a saved model needs no separate step.
* **Output stride.** Both networks halve the resolution five times (stride 32). PSPNet and
  DeepLab keep more resolution: with ``output_stride=16`` or ``8`` the last one or two stages
  keep stride 1 and dilate their 3x3 convolutions instead (rate 2, then 4), which keeps each
  layer's receptive field and its weights exactly as they were (Yu and Koltun 2016; Chen et
  al., DeepLab). See :func:`dilate`.
* **Freezing.** The encoder is one nested model, so ``model.get_layer("encoder").trainable =
  False`` freezes all of it, batch normalisation included (a frozen Keras batch-norm layer runs
  in inference mode), which is the first stage of fine-tuning (:mod:`segutils.train.finetune`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from pathlib import Path

import keras

from segutils.errors import ConfigError
from segutils.models.vgg import VGGPreprocess

__all__ = ["ENCODERS", "EncoderSpec", "build_encoder", "dilate", "keras_cache_dir",
           "preprocess_layer", "resolve_weights"]

ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """What the course needs to know about one ``keras.applications`` network.

    ``taps`` maps each stride (2 .. 32) to the layer whose output is the feature map at that
    stride: the last layer before the next downsampling. ``stages`` lists, for strides 16 and
    32, the layers that downsample into that stage and the 3x3 convolutions inside it, which is
    what :func:`dilate` changes. ``parameters`` is ``keras.applications``' own count with
    ``include_top=False``.
    """

    name: str
    application: str
    preprocess: str
    taps: dict
    stages: dict
    weights_file: str
    weights_url: str
    parameters: int


def _resnet50_stage(stage: int, blocks: int) -> dict:
    # The first block of a stage downsamples with stride 2 in its first 1x1 convolution and in
    # the 1x1 projection of its shortcut; the 3x3 convolution of each block is `_2_conv`.
    return {"down": (f"conv{stage}_block1_1_conv", f"conv{stage}_block1_0_conv"), "pad": None,
            "convs": tuple(f"conv{stage}_block{b}_2_conv" for b in range(1, blocks + 1))}


def _mobilenetv2_stage(first: int, last: int) -> dict:
    # Block `first` downsamples with a stride-2 depthwise convolution after an explicit zero
    # padding; every block has one 3x3 depthwise convolution.
    return {"down": (f"block_{first}_depthwise",), "pad": f"block_{first}_pad",
            "convs": tuple(f"block_{b}_depthwise" for b in range(first, last + 1))}


ENCODERS: dict[str, EncoderSpec] = {
    "resnet50": EncoderSpec(
        name="resnet50", application="ResNet50", preprocess="caffe",
        taps={2: "conv1_relu", 4: "conv2_block3_out", 8: "conv3_block4_out",
              16: "conv4_block6_out", 32: "conv5_block3_out"},
        stages={16: _resnet50_stage(4, 6), 32: _resnet50_stage(5, 3)},
        weights_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_url=ORIGIN + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        parameters=23_587_712,
    ),
    "mobilenetv2": EncoderSpec(
        name="mobilenetv2", application="MobileNetV2", preprocess="tf",
        taps={2: "block_1_expand_relu", 4: "block_3_expand_relu", 8: "block_6_expand_relu",
              16: "block_13_expand_relu", 32: "out_relu"},
        stages={16: _mobilenetv2_stage(6, 12), 32: _mobilenetv2_stage(13, 16)},
        weights_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        weights_url=ORIGIN + "mobilenet_v2/"
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        parameters=2_257_984,
    ),
}
#: Model-name prefixes: ``mobilenet_unet`` uses MobileNetV2, as in keras_segmentation.
PREFIXES = {"resnet50": "resnet50", "mobilenet": "mobilenetv2"}


def spec(encoder: str) -> EncoderSpec:
    """The :class:`EncoderSpec` of ``encoder`` (``"resnet50"``, ``"mobilenetv2"``)."""
    name = PREFIXES.get(encoder, encoder)
    if name not in ENCODERS:
        raise ConfigError(f"Unknown encoder {encoder!r}; the encoders are "
                          f"{', '.join(ENCODERS)}.")
    return ENCODERS[name]


def preprocess_layer(encoder: str) -> keras.layers.Layer:
    """The layer that turns RGB in [0, 1] into what ``encoder``'s ImageNet weights expect.

    Both compute in float32 whatever the dtype policy: under mixed precision, float16 would
    round ResNet's 0..255 values before the first convolution sees them.
    """
    if spec(encoder).preprocess == "caffe":
        return VGGPreprocess(name="caffe_preprocess")
    return keras.layers.Rescaling(2.0, offset=-1.0, dtype="float32", name="mobilenet_preprocess")


def keras_cache_dir() -> Path:
    """The folder where Keras keeps downloaded weights: ``$KERAS_HOME/models``, else
    ``~/.keras/models`` (the place ``keras.utils.get_file`` looks first)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_weights(encoder: str, encoder_weights) -> str | None:
    """The weights file for ``encoder``: ``None``, ImageNet's (cached or downloaded) or a path.

    ``"imagenet"`` uses the file in :func:`keras_cache_dir` when it is there and downloads it
    otherwise. A failed download raises :class:`~segutils.errors.ConfigError` saying which file
    to put where, so an offline machine gets one clear message, not a traceback.
    """
    s = spec(encoder)
    if encoder_weights is None:
        return None
    if encoder_weights == "imagenet":
        cached = keras_cache_dir() / s.weights_file
        if cached.is_file():
            return str(cached)
        try:
            return keras.utils.get_file(s.weights_file, s.weights_url, cache_subdir="models")
        except Exception as error:  # get_file raises a plain Exception when it cannot download
            raise ConfigError(
                f"The ImageNet weights of {s.application} are not in the Keras cache and could "
                f"not be downloaded ({type(error).__name__}: {error}). How to fix: on a machine "
                f"with network access, download {s.weights_url} and copy the file to "
                f"{cached}; or pass encoder_weights=None to train from scratch."
            ) from error
    if isinstance(encoder_weights, str | os.PathLike):
        path = Path(encoder_weights)
        if not path.is_file():
            raise ConfigError(
                f"encoder_weights: {path} is not a file. Pass None, 'imagenet' or the path of "
                f"a weights file of keras.applications.{s.application}(include_top=False), "
                "such as one written by model.get_layer('encoder').save_weights(...)."
            )
        return str(path)
    raise ConfigError(f"encoder_weights must be None, 'imagenet' or a file path, got "
                      f"{encoder_weights!r}.")


def dilate(model: keras.Model, encoder: str, output_stride: int) -> keras.Model:
    """A copy of the ``keras.applications`` network ``model`` that stops at ``output_stride``.

    For each stage beyond the output stride (16 and/or 32), its downsampling layers get stride
    1 and every 3x3 convolution after the step gets dilation rate 2 (then 4 in the next stage),
    so the filters see the same neighbourhood of the image as before, on a finer grid. A
    convolution that was the stride-2 step itself (MobileNetV2's depthwise ones) keeps the
    previous rate, and the explicit padding before it grows to keep the size. Weights are
    copied unchanged: dilation changes where a kernel reads, not its shape.
    """
    s = spec(encoder)
    if output_stride not in (8, 16, 32):
        raise ConfigError(f"output_stride must be 8, 16 or 32, got {output_stride!r}.")
    if output_stride == 32:
        return model
    config = copy.deepcopy(model.get_config())
    layers = {layer["name"]: layer["config"] for layer in config["layers"]}
    rate = 1
    for stage_stride in (16, 32):
        if stage_stride <= output_stride:
            continue
        stage, previous, rate = s.stages[stage_stride], rate, rate * 2
        for name in stage["down"]:
            layers[name]["strides"] = (1, 1)
        for name in stage["convs"]:
            # A convolution that was itself the stride-2 step read the finer grid: it keeps
            # the previous rate; every convolution after the step gets the new one.
            r = previous if name in stage["down"] else rate
            layers[name]["dilation_rate"] = (r, r)
        if stage["pad"]:
            layers[stage["pad"]]["padding"] = ((previous, previous), (previous, previous))
    dilated = model.__class__.from_config(config)
    dilated.set_weights(model.get_weights())
    return dilated


def build_encoder(encoder: str, *, encoder_weights=None, output_stride: int = 32,
                  strides=(2, 4, 8, 16, 32)) -> keras.Model:
    """``encoder`` as a model named ``encoder`` returning its feature maps at ``strides``.

    The input is what :func:`preprocess_layer` outputs, of any height and width divisible by
    ``output_stride`` (the models pad to that). A feature map asked for at a stride beyond the
    output stride comes out at the output stride. One stride gives one output, several a list.
    """
    s = spec(encoder)
    path = resolve_weights(encoder, encoder_weights)
    application = getattr(keras.applications, s.application)
    with warnings.catch_warnings(record=True) as caught:
        # MobileNetV2 warns that weights for 224x224 inputs are loaded for any other size;
        # a convolutional encoder does not depend on the size, so that is what we want.
        warnings.filterwarnings("ignore", message=".*input_shape.*")
        try:
            base = application(include_top=False, weights=path, input_shape=(None, None, 3))
            # Keras only warns when parts of a file do not fit, and keeps random weights there.
            error = next((str(w.message) for w in caught if "freshly-initialized" in
                          str(w.message) or "Skipping" in str(w.message)), None)
        except (ValueError, OSError, KeyError) as failure:
            error = failure
        if error is not None:
            raise ConfigError(
                f"Could not load the weights file {path} into {s.application} "
                f"({str(error)[:300]}). It must hold the weights of keras.applications."
                f"{s.application}(include_top=False), as the ImageNet file or a saved encoder "
                "does."
            ) from (error if isinstance(error, Exception) else None)
    for w in caught:  # anything else is the caller's to see
        if not ("freshly-initialized" in str(w.message) or "Skipping" in str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    base = dilate(base, s.name, output_stride)
    outputs = [base.get_layer(s.taps[stride]).output for stride in strides]
    return keras.Model(base.input, outputs if len(outputs) > 1 else outputs[0], name="encoder")


def named_variant(general, encoder: str, name: str):
    """``general`` (a builder with ``encoder`` and ``name`` options) fixed to one encoder.

    ``named_variant(encoder_unet, "resnet50", "resnet50_unet")`` is the builder the registry
    calls ``resnet50_unet``; its signature is ``general``'s without those two options, so the
    registry can say which options a model has.
    """
    import functools
    import inspect

    @functools.wraps(general)
    def build(n_classes, input_shape=(None, None, 3), **options):
        return general(n_classes, input_shape, encoder=encoder, name=name, **options)

    signature = inspect.signature(general)
    build.__signature__ = signature.replace(parameters=[
        p for p in signature.parameters.values() if p.name not in ("encoder", "name")])
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"{general.__name__} with the {spec(encoder).application} encoder "
                     f"(see :func:`{general.__module__}.{general.__name__}`).")
    del build.__wrapped__  # inspect.signature must read __signature__, not general's
    return build
