"""Small Keras layers that let the course's models take images of any size.

A U-Net with two 2x2 poolings needs a height and width divisible by 4, or the upsampled decoder
maps no longer line up with the encoder's skip connections (the "divisible by 32" rule that trips
up so many users of deeper models). Instead of asking the learner to resize, the model pads its
input up to the next multiple and crops its output back. Both layers are registered with Keras,
so a saved ``.keras`` file reloads without ``custom_objects`` once ``segutils.models`` is imported.

Only ``keras`` and ``keras.ops`` are used, so the layers run on every Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "segutils"


def _padded(size, multiple):
    """The smallest multiple of ``multiple`` that is >= ``size`` (``None`` stays ``None``)."""
    if size is None:
        return None
    return -(-size // multiple) * multiple


@keras.saving.register_keras_serializable(package=PACKAGE)
class PadToMultiple(keras.layers.Layer):
    """Zero-pad height and width at the bottom and right up to a multiple of ``multiple``.

    Padding only at the end keeps pixel (0, 0) of the input at (0, 0) of every feature map, so a
    plain crop of the top-left corner undoes it (see :class:`CropToReference`).
    """

    def __init__(self, multiple: int = 4, **kwargs):
        super().__init__(**kwargs)
        if int(multiple) < 1:
            raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
        self.multiple = int(multiple)

    def call(self, x):
        m = self.multiple
        shape = ops.shape(x)
        # (-size) % m is how many rows/columns are missing up to the next multiple of m.
        pad_h = (-shape[1]) % m
        pad_w = (-shape[2]) % m
        return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, _padded(h, self.multiple), _padded(w, self.multiple), c)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropToReference(keras.layers.Layer):
    """Crop ``x`` to the height and width of ``reference``, keeping the top-left corner.

    Called as ``CropToReference()([x, reference])``; the inverse of :class:`PadToMultiple`
    when ``reference`` is the unpadded input.
    """

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])
