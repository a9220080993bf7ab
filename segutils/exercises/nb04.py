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

# --- 04.1: a bilinear kernel for different factors along rows and columns ---------------------


def bilinear_kernel_2d(factor_rows, factor_cols):
    """Reference: each axis gets the kernel size and tent of its own factor; rows come first."""
    from segutils.upsampling import bilinear_profile, upsampling_kernel_size

    return np.outer(bilinear_profile(upsampling_kernel_size(factor_rows)),
                    bilinear_profile(upsampling_kernel_size(factor_cols)))


def _square_of_the_larger(factor_rows, factor_cols):
    from segutils.upsampling import upsampling_kernel_size

    return bilinear_kernel(upsampling_kernel_size(max(factor_rows, factor_cols)))


def _axes_swapped(factor_rows, factor_cols):
    return bilinear_kernel_2d(factor_cols, factor_rows)


def _always_2f(factor_rows, factor_cols):
    return np.outer(bilinear_profile(2 * factor_rows), bilinear_profile(2 * factor_cols))


def _factor_as_size(factor_rows, factor_cols):
    return np.outer(bilinear_profile(factor_rows), bilinear_profile(factor_cols))


def _normalised(factor_rows, factor_cols):
    kernel = bilinear_kernel_2d(factor_rows, factor_cols)
    return kernel / kernel.sum()


@exercise(
    "04.1",
    "Write the bilinear kernel that upsamples rows by one factor and columns by another",
    reference=bilinear_kernel_2d,
    compare=close_arrays(1e-6),
    hint=(
        "Bilinear interpolation is linear along rows, then linear along columns, so the kernel "
        "is still an outer product, but of two different 1-D tents: one for the row factor "
        "(length k_rows) and one for the column factor (length k_cols), where k = 2f for an "
        "even factor and 2f - 1 for an odd one, and each tent is 1 - |t - centre| / f. The "
        "result has shape (k_rows, k_cols)."
    ),
    mistakes=[
        Mistake(_square_of_the_larger, "You made a square kernel for the larger factor. Each "
                "axis has its own factor, so its own kernel size and its own tent."),
        Mistake(_axes_swapped, "Rows and columns are swapped: the first axis (rows) belongs to "
                "factor_rows, so the shape is (k_rows, k_cols)."),
        Mistake(_always_2f, "Right for even factors only: for an odd factor f the kernel has "
                "2f - 1 taps, centred on a tap (see upsampling_kernel_size in the notebook)."),
        Mistake(_factor_as_size, "You used the factor as the kernel size. The tent falls to zero "
                "one factor away from its centre on both sides, so it needs about 2f taps."),
        Mistake(_normalised, "Do not normalise the kernel to sum 1: each output pixel already "
                "gets weights summing to 1, and the taps sum to f_rows * f_cols."),
    ],
)
def _cases_04_1() -> list[Case]:
    return [
        Case("rows x2, columns x4 (shape (4, 8))", (2, 4)),
        Case("rows x4, columns x2 (shape (8, 4))", (4, 2)),
        Case("rows x3, columns x2: an odd factor (shape (5, 4))", (3, 2)),
        Case("rows x8, columns x8: FCN-8s's square kernel", (8, 8)),
        Case("edge case: rows x1 (no upsampling), columns x3", (1, 3)),
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
