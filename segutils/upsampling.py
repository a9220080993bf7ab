"""Bilinear upsampling as a transposed convolution: the kernel, its initializer, the layer.

Fully convolutional networks (Long, Shelhamer and Darrell, "Fully Convolutional Networks for
Semantic Segmentation", 2015) bring a coarse score map back to the input resolution with
transposed convolutions ("deconvolutions") whose kernels start as bilinear interpolation. This
module builds exactly that with ``keras`` and NumPy (no TensorFlow), so it runs on every Keras
backend:

>>> bilinear_kernel(4)[0]   # the first row of the 4x4 kernel for upsampling by 2
array([0.0625, 0.1875, 0.1875, 0.0625])
>>> layer = bilinear_upsampling(8, channels=21)   # x8, one channel per class, fixed weights

What was verified numerically (``tests/test_upsampling.py``, notebook 04), for every factor
``f`` from 2 to 32 with TensorFlow's ``padding="same"`` arithmetic:

* **Interior:** the layer agrees with ``keras.ops.image.resize(x, size, "bilinear")`` (half-pixel
  centres; ``antialias`` makes no difference when enlarging) to float32 rounding (under 1e-6
  for values in [0, 1]).
* **Borders:** the outermost ``f // 2`` rows and columns on each side differ (see
  :func:`border_width`). There the output's sample position lies outside the input; ``resize``
  clamps to the edge pixel, the transposed convolution misses the stamp of the pixel beyond the
  edge (as if it were zero) and darkens the edge: the output there is ``resize`` times
  ``(1 - d_row) * (1 - d_col)``, ``d`` being how far outside the sample lies (at most
  ``0.5 - 0.5 / f``). The factor is the same for every channel, so the argmax over class scores
  equals that of ``resize`` everywhere.
* **Odd factors** need an odd kernel, ``k = 2f - 1`` (see :func:`upsampling_kernel_size`): with
  ``k = 2f`` the 'same' padding cuts ``(f - 1) / 2`` pixels from the start of the full output
  instead of ``f / 2``, and every output is shifted by half an output pixel (interior errors of
  0.03 to 0.3 on random images). FCN's formula already covers odd sizes; only the size changes.
"""

from __future__ import annotations

import keras
import numpy as np

from segutils.errors import ConfigError, positive_int

__all__ = [
    "BilinearInitializer",
    "bilinear_kernel",
    "bilinear_profile",
    "bilinear_upsampling",
    "border_width",
    "conv_transpose_output_size",
    "upsampling_kernel_size",
]


def bilinear_profile(k: int) -> np.ndarray:
    """The 1-D bilinear interpolation weights of a kernel of size ``k`` (float64).

    FCN's formula: ``factor = (k + 1) // 2``; the centre is ``factor - 1`` for odd ``k`` and
    ``factor - 0.5`` for even ``k`` (both are ``(k - 1) / 2``, the middle of the kernel); tap
    ``t`` weighs ``1 - |t - centre| / factor``. It is the "tent" of linear interpolation,
    stretched to ``factor`` output pixels per input pixel and sampled at the taps. For ``k = 4``:
    ``[0.25, 0.75, 0.75, 0.25]``.
    """
    k = positive_int(k, "The kernel size k")
    factor = (k + 1) // 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    return 1.0 - np.abs(np.arange(k) - centre) / factor


def bilinear_kernel(k: int) -> np.ndarray:
    """The ``(k, k)`` bilinear kernel: ``w[i, j] = profile[i] * profile[j]`` (float64).

    Bilinear interpolation is linear interpolation along rows, then along columns, so the 2-D
    kernel is the outer product of the 1-D :func:`bilinear_profile` with itself.
    """
    profile = bilinear_profile(k)
    return np.outer(profile, profile)


def upsampling_kernel_size(factor: int) -> int:
    """The kernel size that makes a stride-``factor`` transposed conv exact bilinear upsampling.

    ``2 * factor`` for even factors (FCN's rule); ``2 * factor - 1`` for odd ones. Why odd
    factors differ: with ``padding="same"`` Keras/TensorFlow cut ``(k - factor) // 2`` pixels
    from the start of the full transposed convolution. Exact half-pixel alignment needs that cut
    to equal ``(k - 1) / 2 - (factor - 1) / 2``, which holds for ``k = 2f`` only when ``f`` is even
    and for ``k = 2f - 1`` always. The odd kernel has the same taps where they matter, by FCN's
    own formula (``factor = (k + 1) // 2 = f``). For ``factor = 1`` it gives the identity, ``[1]``.
    """
    factor = positive_int(factor, "The upsampling factor")
    return 2 * factor - factor % 2


def border_width(factor: int) -> int:
    """How many rows/columns at each border differ from ``keras.ops.image.resize``: ``f // 2``.

    Output pixel ``o`` samples input coordinate ``(o + 0.5) / f - 0.5``, which is below 0 for
    ``o < (f - 1) / 2``, i.e. for the first ``f // 2`` outputs, and past the last input pixel for
    the last ``f // 2``. Resizing clamps such positions to the edge pixel; the transposed
    convolution mixes in the zeros of its padding instead. Everything further inside agrees.
    """
    return positive_int(factor, "The upsampling factor") // 2


def conv_transpose_output_size(
    size: int, kernel_size: int, strides: int, padding: str = "same"
) -> int:
    """Output length of Keras' ``Conv*DTranspose`` along one axis (no ``output_padding``).

    ``"same"``: ``size * strides``. ``"valid"``: the full transposed convolution,
    ``(size - 1) * strides + kernel_size``, but never less than ``size * strides``: when the
    kernel is shorter than the stride, Keras keeps the empty gap after the last stamp, so the
    result is ``size * strides + max(kernel_size - strides, 0)``.
    """
    size = positive_int(size, "The input size")
    kernel_size = positive_int(kernel_size, "The kernel size")
    strides = positive_int(strides, "The stride")
    if padding == "same":
        return size * strides
    if padding == "valid":
        return size * strides + max(kernel_size - strides, 0)
    raise ConfigError(f"padding must be 'same' or 'valid', got {padding!r}.")


@keras.saving.register_keras_serializable(package="segutils")
class BilinearInitializer(keras.initializers.Initializer):
    """Kernel initializer: bilinear interpolation on the channel diagonal, zeros elsewhere.

    For a ``Conv2DTranspose`` kernel of shape ``(kh, kw, filters, in_channels)`` it writes the
    bilinear kernel into ``[:, :, c, c]`` for every channel ``c``, so each channel is upsampled
    on its own: a class's scores never leak into another class. Non-square kernels get the outer
    product of two 1-D profiles; 1-D and 3-D transposed convolutions work the same way.

    Registered as ``"segutils>BilinearInitializer"``: a model that uses it saves to ``.keras``
    and loads with ``keras.saving.load_model(path)`` in any session that has imported
    ``segutils.upsampling``, with no ``custom_objects``.
    """

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        if len(shape) < 3:
            raise ConfigError(
                f"BilinearInitializer needs a convolution kernel shape (spatial..., out, in), "
                f"got {shape}. Use it as kernel_initializer of a Conv*DTranspose layer."
            )
        *spatial, n_out, n_in = shape
        if n_out != n_in:
            raise ConfigError(
                f"BilinearInitializer maps channel c to channel c, so the layer needs as many "
                f"filters as input channels; got kernel shape {shape} ({n_out} filters, "
                f"{n_in} input channels). Set filters={n_in}, or change channels with a 1x1 "
                "convolution before upsampling."
            )
        weights = np.ones(spatial)
        for axis, k in enumerate(spatial):
            view = [1] * len(spatial)
            view[axis] = k
            weights = weights * bilinear_profile(k).reshape(view)
        kernel = np.zeros(shape)
        for c in range(n_in):
            kernel[..., c, c] = weights
        return keras.ops.convert_to_tensor(kernel, dtype=keras.backend.standardize_dtype(dtype))

    def get_config(self) -> dict:
        return {}


def bilinear_upsampling(
    factor: int, channels: int, trainable: bool = False, name: str | None = None, **kwargs
) -> keras.layers.Conv2DTranspose:
    """A ``Conv2DTranspose`` layer that upsamples ``channels`` channels ``factor`` times.

    Kernel :func:`upsampling_kernel_size` (``2 * factor``, or ``2 * factor - 1`` for odd
    factors), stride ``factor``, ``padding="same"`` (output exactly ``factor`` times the input),
    no bias, :class:`BilinearInitializer`. ``trainable=False`` keeps the weights fixed, as FCN
    did (learning them made no significant difference there); ``True`` lets training refine
    them. ``name`` defaults to Keras' unique automatic name (a model may hold several x2
    layers). Extra keyword arguments (``dtype``, ``data_format``, ...) go to the layer.
    """
    factor = positive_int(factor, "The upsampling factor")
    channels = positive_int(channels, "channels")
    return keras.layers.Conv2DTranspose(
        filters=channels,
        kernel_size=upsampling_kernel_size(factor),
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearInitializer(),
        trainable=trainable,
        name=name,
        **kwargs,
    )
