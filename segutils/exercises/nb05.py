"""Exercises of notebook 05: fully convolutional networks (net surgery, parameter counts)."""

from __future__ import annotations

import numpy as np

from segutils.exercises.core import Case, Mistake, exact_arrays, exercise

# The references live in segutils.models, which imports Keras (and so TensorFlow). They are
# imported on first use, so that importing segutils.exercises stays fast and silent.


def dense_to_conv(kernel, kernel_size):
    from segutils.models.vgg import dense_to_conv as reference

    return reference(kernel, kernel_size)


def fcn8_parameters(n_classes, encoder_width, fc_width):
    from segutils.models.fcn import parameter_count

    return parameter_count(8, n_classes, encoder_width=encoder_width, fc_width=fc_width)


# --- 05.1: net surgery ---------------------------------------------------------------------------


def _channels_first(kernel, kernel_size):
    """Flatten order (c, h, w), as in PyTorch or Caffe, not Keras' channels-last (h, w, c)."""
    kh, kw = kernel_size
    kernel = np.asarray(kernel)
    c = kernel.shape[0] // (kh * kw)
    return kernel.reshape(c, kh, kw, -1).transpose(1, 2, 0, 3)


def _units_first(kernel, kernel_size):
    """Reshaping the transposed kernel: the units end up in front, then moved back."""
    kh, kw = kernel_size
    kernel = np.asarray(kernel)
    c = kernel.shape[0] // (kh * kw)
    return kernel.T.reshape(-1, kh, kw, c).transpose(1, 2, 3, 0)


def _width_first(kernel, kernel_size):
    """Rows and columns swapped: (w, h, c) order, transposed back to (h, w, c)."""
    kh, kw = kernel_size
    kernel = np.asarray(kernel)
    c = kernel.shape[0] // (kh * kw)
    return kernel.reshape(kw, kh, c, -1).transpose(1, 0, 2, 3)


def _net_surgery_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    return [
        Case("a 2x3 map of 4 channels to 5 units", (rng.normal(size=(24, 5)), (2, 3))),
        Case("VGG's fc6 in small: a 7x7 map of 2 channels", (rng.normal(size=(98, 3)), (7, 7))),
        Case("a 3x2 map of 3 channels to 2 units", (rng.normal(size=(18, 2)), (3, 2))),
        Case("edge case: fc7, a 1x1 convolution", (rng.normal(size=(6, 4)), (1, 1))),
    ]


@exercise(
    "05.1",
    "Reshape a Dense kernel into the convolution kernel that computes the same outputs",
    reference=dense_to_conv,
    compare=exact_arrays,
    hint=(
        "Keras' Flatten reads a (h, w, c) map row by row, channels last: input number "
        "(i * w + j) * c + k is pixel (i, j), channel k. The convolution kernel has shape "
        "(h, w, c, units), so a plain kernel.reshape(h, w, c, units) puts every weight where "
        "the convolution needs it (c = inputs // (h * w))."
    ),
    mistakes=[
        Mistake(
            _channels_first,
            "That is channels-first flatten order (c, h, w), as PyTorch and Caffe flatten. "
            "Keras flattens channels last: (h, w, c).",
        ),
        Mistake(
            _units_first,
            "The units are the last axis of a Dense kernel (inputs, units); reshape the kernel "
            "itself, not its transpose.",
        ),
        Mistake(
            _width_first,
            "Rows and columns are swapped: Flatten goes row by row, so the height axis comes "
            "first, then the width.",
        ),
    ],
)
def _cases_05_1() -> list[Case]:
    return _net_surgery_cases()


# --- 05.2: where the parameters are ---------------------------------------------------------------

_VGG = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def _count(n, width, fc, *, bias=True, up_bias=False, fixed=True, fc6_kernel=7):
    """A configurable count, so that each mistake below is one switch away from the truth."""
    b = 1 if bias else 0
    total, c_in, widths = 0, 3, []
    for channels, n_convs in _VGG:
        c_out = max(1, int(round(channels * width)))
        for _ in range(n_convs):
            total += 9 * c_in * c_out + b * c_out
            c_in = c_out
        widths.append(c_out)
    total += fc6_kernel**2 * c_in * fc + b * fc + fc * fc + b * fc + fc * n + b * n
    total += widths[3] * n + b * n + widths[2] * n + b * n  # score_pool4, score_pool3
    ups = [4, 4] + ([16] if fixed else [])
    return total + sum(k * k * n * n + (n if up_bias else 0) for k in ups)


@exercise(
    "05.2",
    "Count the parameters of FCN-8s from its layer shapes",
    reference=fcn8_parameters,
    compare=exact_arrays,
    hint=(
        "A k x k convolution from c_in to c_out channels has k*k*c_in*c_out weights plus c_out "
        "biases. VGG16's blocks have 2, 2, 3, 3, 3 convolutions of 64, 128, 256, 512, 512 "
        "channels times encoder_width (the first reads 3 channels); fc6 is 7x7, fc7 1x1, "
        "the score layers 1x1 to n_classes (on fc7, pool4, pool3); the three transposed "
        "convolutions (4x4, 4x4, 16x16, n_classes to n_classes) have no bias."
    ),
    mistakes=[
        Mistake(lambda n, w, f: _count(n, w, f, bias=False),
                "Every convolution and score layer also has one bias per output channel."),
        Mistake(lambda n, w, f: _count(n, w, f, up_bias=True),
                "The upsampling layers (transposed convolutions) are built with use_bias=False: "
                "bilinear interpolation has no offset to learn."),
        Mistake(lambda n, w, f: _count(n, w, f, fixed=False),
                "Count the fixed x8 upsampling too: its weights are not trained, but they are "
                "parameters of the model (count_params includes them)."),
        Mistake(lambda n, w, f: _count(n, w, f, fc6_kernel=1),
                "fc6 is a 7x7 convolution (it replaces a Dense layer that read a 7x7 map), "
                "not a 1x1 one."),
    ],
)
def _cases_05_2() -> list[Case]:
    return [
        Case("the paper's FCN-8s for PASCAL VOC (21 classes)", (21, 1.0, 4096)),
        Case("the cpu profile's width, 7 classes", (7, 0.25, 256)),
        Case("half width, 11 classes (CamVid)", (11, 0.5, 1024)),
        Case("edge case: a single class", (1, 0.125, 16)),
    ]
