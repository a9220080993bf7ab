"""What a model sees: its output stride and its receptive field, measured.

* **Output stride**: how many input pixels one step of the model's coarsest feature map spans
  (32 for VGG16, ResNet-50 or MobileNetV2 as classifiers; 8 for PSPNet's dilated encoder). Fine
  detail thinner than that has to be recovered by the decoder.
* **Receptive field**: which input pixels can change one output pixel at all. Here it is
  measured, not derived: the gradient of the centre pixel's logits with respect to the input
  is non-zero exactly on the pixels that reach it. A ReLU can switch a path off, so the
  measured field can be a little smaller than the theoretical one; a global
  pooling (PSPNet's 1x1 bin, DeepLab's image pooling) makes it the whole image.

:func:`value_and_grad` is the backend-neutral gradient these measurements (and the loss
tests) use.
"""

from __future__ import annotations

import keras
import numpy as np

from segutils.models.flops import static_clone

__all__ = ["output_stride", "receptive_field", "theoretical_receptive_field", "value_and_grad"]


def value_and_grad(fn, x: np.ndarray):
    """``(fn(x), d fn / d x)`` for a scalar ``fn`` of a float32 array, on the running backend."""
    x = np.asarray(x, np.float32)
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(jax.numpy.asarray(x))
        return float(value), np.asarray(grad)
    if backend == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        value = fn(t)
        value.backward()
        return float(value.detach()), t.grad.numpy()
    import tensorflow as tf

    t = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = fn(t)
    return float(value), tape.gradient(value, t).numpy()


def output_stride(model: keras.Model, image_size=(96, 128)) -> int:
    """The largest factor by which any feature map of ``model`` is smaller than its input.

    Measured by running the model's graph at ``image_size`` (whose sides should be multiples
    of 48 so that no padding blurs the ratio) and comparing the 4-D intermediate maps: those of
    the nested ``encoder`` where there is one (PSPNet's pooled bins and DeepLab's image
    pooling summarise the map, they are not a finer or coarser grid of it), else all.
    """
    height = int(image_size[0])
    if "encoder" in {layer.name for layer in model.layers}:
        maps = model.get_layer("encoder")(np.zeros((1, *image_size, 3), np.float32))
        maps = maps if isinstance(maps, list | tuple) else [maps]
        return height // min(int(m.shape[1]) for m in maps)
    smallest = height
    for layer in static_clone(model, image_size).layers:
        outputs = layer.output if isinstance(layer.output, list | tuple) else [layer.output]
        for tensor in outputs:
            shape = getattr(tensor, "shape", None)
            if shape is not None and len(shape) == 4 and shape[1] and shape[1] > 1:
                smallest = min(smallest, int(shape[1]))
    return height // smallest


def receptive_field(model: keras.Model, image_size=(96, 128), seed: int = 0) -> tuple[int, int]:
    """(height, width) of the input region that can change the centre output pixel.

    The extent of the non-zero gradient of the sum of the centre pixel's logits with respect to
    a random image of ``image_size`` (through a copy of the model built for that size, unless
    it is built for it already). A value equal to the image size means "at least the whole
    image".
    """
    h, w = (int(s) for s in image_size)
    rng = np.random.default_rng(seed)
    image = rng.random((1, h, w, 3), dtype=np.float32)
    # Zero-initialised layers (FCN's score layers) get small random kernels for the
    # measurement, and their zeros back afterwards: a zero kernel would hide every path through
    # it.
    probe = static_clone(model, image_size)
    zeroed = []
    for weight in probe.weights:
        value = np.asarray(weight.value if hasattr(weight, "value") else weight)
        if value.ndim == 4 and not value.any():
            zeroed.append((weight, value))
            weight.assign(rng.normal(0, 0.01, value.shape).astype(value.dtype))

    def centre(x):
        return keras.ops.sum(probe(x, training=False)[0, h // 2, w // 2, :])

    try:
        _, grad = value_and_grad(centre, image)
    finally:
        for weight, value in zeroed:
            weight.assign(value)
    rows, cols = np.nonzero(np.abs(grad[0]).sum(axis=-1))
    if rows.size == 0:
        return (0, 0)
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def theoretical_receptive_field(layers) -> int:
    """The receptive field of a chain of layers, from their (kernel, stride, dilation).

    Each layer widens the field by ``(kernel - 1) * dilation`` of *its input's* pixels, and
    one pixel of its input is as many image pixels apart as the product of the strides before
    it: ``r = 1 + sum_i (k_i - 1) * d_i * prod_{j < i} s_j``. A 2x2 pooling is kernel 2,
    stride 2; VGG16's first block, two 3x3 convolutions and a pooling, sees 6 pixels.
    """
    field, jump = 1, 1
    for layer in layers:
        kernel, stride, dilation = (tuple(layer) + (1, 1))[:3]
        field += (int(kernel) - 1) * int(dilation) * jump
        jump *= int(stride)
    return field
