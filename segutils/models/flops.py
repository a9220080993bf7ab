"""Count a model's floating-point operations analytically, from its layers' shapes.

A convolution computes, for every output pixel and output channel, one multiply-add per kernel
weight. Each multiply-add counts as two operations here. Many tables count multiply-adds once
(the "15.5 GFLOPs" often quoted for VGG16 at 224x224 are 15.5 G multiply-adds, 31 GFLOPs
here): mind the factor 2 when comparing.

* ``Conv2D`` (any stride, dilation or groups): ``2 * H_out * W_out * kh * kw * C_in/groups * C_out``
  (the kernel holds exactly ``kh * kw * C_in/groups * C_out`` weights).
* ``Conv2DTranspose``: every *input* pixel stamps the whole kernel once, so
  ``2 * H_in * W_in * kh * kw * C_in * C_out``.
* ``DepthwiseConv2D`` and ``SeparableConv2D``: the same rule per kernel.
* ``Dense``: ``2 * (positions) * C_in * C_out``, positions being every leading axis but the batch.

Ignored, because they cost one operation per value rather than per weight (a few percent of a
convolutional network's total): biases, batch normalisation, activations, pooling, padding and
cropping, concatenation and addition, and fixed resizing (``UpSampling2D``). A transposed
convolution with fixed bilinear weights *is* counted: it runs as a convolution.

The count depends on the image size, and the course's models accept any size, so
:func:`count_flops` takes the size and rebuilds the model's graph for it (a clone with fresh,
unused weights; the original model is untouched).
"""

from __future__ import annotations

import math

import keras

from segutils.errors import ConfigError

__all__ = ["conv2d_flops", "conv2d_transpose_flops", "count_flops", "dense_flops", "static_clone",
           "flops_by_layer"]


def conv2d_flops(height: int, width: int, kernel_size: int, c_in: int, c_out: int,
                 strides: int = 1) -> int:
    """FLOPs of a square 'same' convolution on an ``height x width`` input (multiply-adds x2).

    The output has ``ceil(height / strides) x ceil(width / strides)`` pixels, each needing
    ``kernel_size**2 * c_in`` multiply-adds per output channel.
    """
    h_out, w_out = -(-height // strides), -(-width // strides)
    return 2 * h_out * w_out * kernel_size**2 * c_in * c_out


def conv2d_transpose_flops(height: int, width: int, kernel_size: int, c_in: int,
                           c_out: int) -> int:
    """FLOPs of a square transposed convolution on an ``height x width`` input.

    Every input pixel multiplies its ``c_in`` values into a ``kernel_size**2 x c_out`` stamp,
    whatever the stride; the stride only spreads the stamps out.
    """
    return 2 * height * width * kernel_size**2 * c_in * c_out


def dense_flops(c_in: int, c_out: int, positions: int = 1) -> int:
    """FLOPs of a ``Dense`` layer applied at ``positions`` places (1 for a flat vector)."""
    return 2 * positions * c_in * c_out


def _layer_flops(layer) -> int:
    """FLOPs of one (built, called once) layer, from its kernel shape and input/output shapes."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return 2 * math.prod(layer.input.shape[1:-1]) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.SeparableConv2D):
        positions_in = math.prod(layer.output.shape[1:-1])
        return 2 * positions_in * (math.prod(layer.depthwise_kernel.shape)
                                   + math.prod(layer.pointwise_kernel.shape))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return 2 * math.prod(layer.output.shape[1:-1]) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
        return 2 * math.prod(layer.output.shape[1:-1]) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        return 2 * math.prod(layer.output.shape[1:-1]) * math.prod(layer.kernel.shape)
    return 0


def static_clone(model: keras.Model, image_size) -> keras.Model:
    """``model``'s graph rebuilt for inputs of a fixed (height, width) (``model`` itself when
    it already has that fixed size)."""
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise ConfigError("count_flops needs a Keras model with one image input.")
    shape = tuple(model.inputs[0].shape[1:])
    if image_size is not None:
        height, width = (int(s) for s in image_size)
        shape = (height, width, *shape[2:])
    if any(s is None for s in shape):
        raise ConfigError(
            f"The model accepts any image size (input shape {shape}), so FLOPs depend on the "
            "size: pass image_size=(height, width)."
        )
    if tuple(model.inputs[0].shape[1:]) == shape:
        return model  # already built for that size: nothing to rebuild
    inputs = keras.Input(shape=shape, batch_size=1, dtype=model.inputs[0].dtype)
    return keras.models.clone_model(model, input_tensors=inputs)


def flops_by_layer(model: keras.Model, image_size=None) -> dict[str, int]:
    """FLOPs of every counted layer of ``model`` for one ``image_size`` = (height, width) image.

    ``image_size=None`` uses the model's own input size (it must be fixed). Layers that are
    ignored (see the module docstring) are left out; nested models are counted layer by layer,
    under ``"outer/inner"`` names.
    """
    static = static_clone(model, image_size)
    counts: dict[str, int] = {}
    for layer in static.layers:
        if isinstance(layer, keras.Model):
            # The size it is called at in this graph (its own input may accept any size).
            called_with = layer._inbound_nodes[0].input_tensors[0]
            inner = flops_by_layer(layer, tuple(called_with.shape[1:3]))
            counts.update({f"{layer.name}/{k}": v for k, v in inner.items()})
            continue
        n = _layer_flops(layer)
        if n:
            counts[layer.name] = int(n)
    return counts


def count_flops(model: keras.Model, image_size=None) -> int:
    """Total FLOPs (multiply-adds x2) of one forward pass on one image of ``image_size``.

    ``image_size`` is (height, width); ``None`` uses the model's fixed input size. Models that
    pad inside (all the course's) are counted at the padded size they really compute on.
    """
    return sum(flops_by_layer(model, image_size).values())
