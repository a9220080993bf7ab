"""Segmentation models built with ``keras`` only (any backend).

- ``per_pixel_classifier``: the colour-only baseline.
- ``unet_mini``, ``unet``, ``vgg_unet``: the U-Net family (encoder-decoder, skip concatenation).
- ``fcn32``, ``fcn16``, ``fcn8``: the fully convolutional networks on VGG16 (skip addition), and
  ``transfer_weights`` for staged training.
- ``segnet``, ``segnet_mini``: upsampling with the encoder's max-pooling indices.
- On ``keras.applications`` encoders (ResNet-50, MobileNetV2; ``encoders``): U-Net and FCN-8s
  heads (``pretrained``), PSPNet and DeepLabV3+ (``pyramid``).
- ``build(name, n_classes, profile=P)``: every model by name, sized for the run's profile;
  ``available()`` lists the names. ``count_flops`` counts a model's floating-point operations.

Every model takes float32 images in [0, 1] of any size and returns logits of the same height and
width. Importing this package registers the custom layers, so saved ``.keras`` files reload with
a plain ``keras.models.load_model``.
"""

from segutils.models import layers, vgg  # noqa: F401  (register the serializable layers)
from segutils.models.baseline import per_pixel_classifier
from segutils.models.fcn import fcn8, fcn16, fcn32, transfer_weights
from segutils.models.flops import count_flops
from segutils.models.registry import available, build
from segutils.models.unet import unet, unet_mini, vgg_unet

__all__ = ["available", "build", "count_flops", "fcn8", "fcn16", "fcn32", "per_pixel_classifier",
           "transfer_weights", "unet", "unet_mini", "vgg_unet"]
