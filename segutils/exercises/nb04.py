"""Exercises of notebook 04: bilinear upsampling with transposed convolutions."""

from __future__ import annotations

import numpy as np

from segutils.exercises.core import Case, Mistake, close_arrays, exact_arrays, exercise

# The references live in segutils.upsampling, which imports Keras (and so TensorFlow). They are
# imported on first use, so that importing segutils.exercises (the student-notebook tools do)
# stays fast and silent.


def bilinear_kernel(k):
    from segutils.upsampling import bilinear_kernel as reference

    return reference(k)


def bilinear_profile(k):
    from segutils.upsampling import bilinear_profile as reference

    return reference(k)


def conv_transpose_output_size(size, kernel_size, strides, padding="same"):
    from segutils.upsampling import conv_transpose_output_size as reference

    return reference(size, kernel_size, strides, padding)

# --- 04.1: the bilinear kernel -----------------------------------------------------------------


def _outer(profile):
    return np.outer(profile, profile)


def _half_k_factor(k):
    """factor = k / 2 instead of (k + 1) // 2: right for even k, too narrow for odd k."""
    return _outer(1 - np.abs(np.arange(k) - (k - 1) / 2) / (k / 2))


def _centre_k_half(k):
    """centre = k / 2: the tent is off by half a tap (not symmetric)."""
    f = (k + 1) // 2
    return _outer(1 - np.abs(np.arange(k) - k / 2) / f)


def _factor_k(k):
    """Dividing by k instead of the factor: a tent twice as wide, never reaching small values."""
    return _outer(1 - np.abs(np.arange(k) - (k - 1) / 2) / k)


def _normalised(k):
    kernel = bilinear_kernel(k)
    return kernel / kernel.sum()


@exercise(
    "04.1",
    "Write the k x k bilinear upsampling kernel",
    reference=bilinear_kernel,
    compare=close_arrays(1e-6),
    hint=(
        "factor = (k + 1) // 2; centre = (k - 1) / 2 (the middle of the kernel); the 1-D weights "
        "are 1 - |t - centre| / factor for t = 0 .. k-1, and the 2-D kernel is the outer "
        "product of the 1-D weights with themselves (np.outer). For k = 4 the first row is "
        "0.25 * [0.25, 0.75, 0.75, 0.25]."
    ),
    mistakes=[
        Mistake(
            _half_k_factor,
            "Right for even k, wrong for odd k: the factor is (k + 1) // 2, not k / 2 "
            "(a 3-tap kernel upsamples by 2, its outer taps weigh 0.5).",
        ),
        Mistake(
            _centre_k_half,
            "The kernel is not symmetric: the centre of taps 0 .. k-1 is (k - 1) / 2, not k / 2.",
        ),
        Mistake(
            _factor_k,
            "Divide |t - centre| by the upsampling factor (k + 1) // 2, not by k: the tent "
            "falls to zero one factor away from its centre.",
        ),
        Mistake(
            _normalised,
            "Do not normalise the kernel to sum 1. Its taps sum to factor**2 because every "
            "input pixel spreads over factor x factor outputs; each output still gets weights "
            "summing to 1.",
        ),
        Mistake(
            bilinear_profile,
            "That is the 1-D profile; return the (k, k) kernel: np.outer(profile, profile).",
        ),
    ],
)
def _cases_04_1() -> list[Case]:
    return [
        Case("k = 4 (upsampling by 2)", (4,)),
        Case("k = 16 (upsampling by 8)", (16,)),
        Case("k = 3, an odd size", (3,)),
        Case("k = 7, another odd size", (7,)),
        Case("edge case: k = 1, the identity", (1,)),
    ]


# --- 04.2: the output size of a transposed convolution ------------------------------------------


def _textbook_valid(size, kernel_size, strides, padding):
    if padding == "same":
        return size * strides
    return (size - 1) * strides + kernel_size


def _always_n_times_s(size, kernel_size, strides, padding):
    return size * strides


def _forward_conv(size, kernel_size, strides, padding):
    """The size of a (forward) convolution: the direction mixed up."""
    if padding == "same":
        return -(-size // strides)
    return (size - kernel_size) // strides + 1


def _plus_kernel(size, kernel_size, strides, padding):
    return size * strides + kernel_size


@exercise(
    "04.2",
    "Predict the output length of a Conv2DTranspose layer",
    reference=conv_transpose_output_size,
    compare=exact_arrays,
    hint=(
        "'same': size * strides. 'valid': every input pixel stamps the kernel, strides apart, "
        "so the stamps cover (size - 1) * strides + kernel_size pixels; Keras never returns "
        "fewer than size * strides."
    ),
    mistakes=[
        Mistake(
            _textbook_valid,
            "Right whenever kernel_size >= strides. With a kernel shorter than the stride, Keras "
            "keeps the gap after the last stamp: the output is never shorter than "
            "size * strides (use max).",
        ),
        Mistake(
            _always_n_times_s,
            "size * strides holds for padding='same' only; 'valid' keeps the kernel's overhang, "
            "kernel_size - strides more pixels.",
        ),
        Mistake(
            _forward_conv,
            "That is the size a (forward) convolution produces. A transposed convolution goes "
            "the other way: it makes the input strides times larger.",
        ),
        Mistake(
            _plus_kernel,
            "One stride too many: the last stamp starts at (size - 1) * strides.",
        ),
    ],
)
def _cases_04_2() -> list[Case]:
    return [
        Case("size 4, kernel 4, stride 2, 'same'", (4, 4, 2, "same")),
        Case("size 4, kernel 4, stride 2, 'valid'", (4, 4, 2, "valid")),
        Case("size 5, kernel 3, stride 2, 'valid'", (5, 3, 2, "valid")),
        Case("size 7, kernel 64, stride 32, 'same' (FCN-32s)", (7, 64, 32, "same")),
        Case("size 7, kernel 64, stride 32, 'valid'", (7, 64, 32, "valid")),
        Case("edge case: size 3, kernel 1, stride 2, 'valid'", (3, 1, 2, "valid")),
    ]
