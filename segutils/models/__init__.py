"""Segmentation models built with ``keras`` only (any backend).

``per_pixel_classifier`` is the colour-only baseline; ``unet_mini`` the small U-Net of the first
training notebooks. Importing this package registers the custom layers, so saved ``.keras``
files reload with a plain ``keras.models.load_model``.
"""

from segutils.models import layers  # noqa: F401  (registers the serializable layers)
from segutils.models.baseline import per_pixel_classifier
from segutils.models.unet import unet_mini

__all__ = ["per_pixel_classifier", "unet_mini"]
