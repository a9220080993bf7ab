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


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResizeToReference(keras.layers.Layer):
    """Resize ``x`` to the height and width of ``reference`` (bilinear by default).

    Called as ``ResizeToReference()([x, reference])``. The size is read from ``reference`` at
    run time, so it works for inputs whose size is only known per batch (PSPNet's pooled bins
    back to the feature map, DeepLab's decoder and its final x4). Half-pixel centred, like
    ``keras.ops.image.resize``.
    """

    def __init__(self, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return ops.image.resize(x, (shape[1], shape[2]), interpolation=self.interpolation)

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BinPooling(keras.layers.Layer):
    """Average ``x`` over a ``bins x bins`` grid of equal cells: PSPNet's pyramid pooling.

    The height and width must be multiples of ``bins`` (PSPNet pads its input so that they
    are). A reshape to (B, bins, H/bins, bins, W/bins, C) and a mean over the cell axes does it
    for any size, with ``keras.ops`` only.
    """

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        if int(bins) < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        self.bins = int(bins)

    def call(self, x):
        b = self.bins
        shape = ops.shape(x)
        cells = ops.reshape(x, (-1, b, shape[1] // b, b, shape[2] // b, shape[3]))
        return ops.mean(cells, axis=(2, 4))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxPoolingWithIndices(keras.layers.Layer):
    """2x2 max pooling that also returns where each maximum was: SegNet's encoder pooling.

    Returns ``[pooled, indices]``: ``indices`` (int32, the pooled shape) holds 0..3, the
    position of the maximum inside its 2x2 window in row-major order (0 top-left, 3
    bottom-right), the first one on ties. Height and width must be even. Written with a
    reshape and an argmax so it runs on every backend (TensorFlow's ``max_pool_with_argmax``
    exists there only).
    """

    def call(self, x):
        shape = ops.shape(x)
        h, w, c = shape[1] // 2, shape[2] // 2, shape[3]
        windows = ops.reshape(x, (-1, h, 2, w, 2, c))
        windows = ops.reshape(ops.transpose(windows, (0, 1, 3, 5, 2, 4)), (-1, h, w, c, 4))
        return [ops.max(windows, axis=-1), ops.cast(ops.argmax(windows, axis=-1), "int32")]

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        pooled = (b, None if h is None else h // 2, None if w is None else w // 2, c)
        return [pooled, pooled]

    def compute_output_spec(self, x):
        shape = self.compute_output_shape(x.shape)[0]
        return [keras.KerasTensor(shape, dtype=self.compute_dtype),
                keras.KerasTensor(shape, dtype="int32")]


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxUnpooling(keras.layers.Layer):
    """SegNet's upsampling: put each value back where its 2x2 window's maximum was.

    Called as ``MaxUnpooling()([x, indices])`` with ``indices`` from
    :class:`MaxPoolingWithIndices`; the other three positions of each window are zero. The
    decoder's convolutions then fill them in: the boundaries stay where the encoder saw them,
    with no weights to learn for the upsampling itself.
    """

    def call(self, inputs):
        x, indices = inputs
        shape = ops.shape(x)
        h, w, c = shape[1], shape[2], shape[3]
        spread = ops.one_hot(indices, 4, dtype=x.dtype) * ops.expand_dims(x, -1)
        spread = ops.transpose(ops.reshape(spread, (-1, h, w, c, 2, 2)), (0, 1, 4, 2, 5, 3))
        return ops.reshape(spread, (-1, h * 2, w * 2, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape[0]
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)
