"""Exercises of notebook 06: U-Net sizes, FLOPs and parameters."""

from __future__ import annotations

from segutils.exercises.core import Case, Mistake, exact_arrays, exercise

# The references live in segutils.models, which imports Keras (and so TensorFlow). They are
# imported on first use, so that importing segutils.exercises stays fast and silent.


def padded_size(size, depth):
    from segutils.models.unet import padded_size as reference

    return reference(size, depth)


def conv_flops(height, width, kernel_size, c_in, c_out, strides=1):
    from segutils.models.flops import conv2d_flops as reference

    return reference(height, width, kernel_size, c_in, c_out, strides)


def unet_parameters(n_classes, depth, base_filters, in_channels=3):
    from segutils.models.unet import unet

    model = unet(n_classes, input_shape=(None, None, in_channels), depth=depth,
                 base_filters=base_filters, batch_norm=False)
    return model.count_params()


# --- 06.1: how far a U-Net pads ------------------------------------------------------------------


def _multiple_of_2_depth(size, depth):
    m = 2 * depth
    return -(-size // m) * m


def _always_adds(size, depth):
    m = 2**depth
    return size + m - size % m


def _floor(size, depth):
    m = 2**depth
    return size // m * m


def _rounded(size, depth):
    m = 2**depth
    return max(m, round(size / m) * m)


@exercise(
    "06.1",
    "Compute the size a U-Net of a given depth pads an image side to",
    reference=padded_size,
    compare=exact_arrays,
    hint=(
        "depth poolings halve the map depth times, so the size must be a multiple of "
        "2**depth: the smallest such multiple that is >= size. Integer ceiling division: "
        "-(-size // m) * m."
    ),
    mistakes=[
        Mistake(_multiple_of_2_depth, "The multiple is 2**depth (2 to the power depth), "
                                      "not 2 * depth."),
        Mistake(_always_adds, "A size that is already a multiple needs no padding at all: "
                              "size + m - size % m adds a whole m then."),
        Mistake(_floor, "Round up, not down: padding adds rows, it never removes any."),
        Mistake(_rounded, "Round up, not to the nearest multiple: padding adds rows, it never "
                          "removes any."),
    ],
)
def _cases_06_1() -> list[Case]:
    return [
        Case("97 rows, depth 4", (97, 4)),
        Case("131 columns, depth 4", (131, 4)),
        Case("500 columns, depth 5 (FCN's 32)", (500, 5)),
        Case("edge case: 128, already a multiple of 16", (128, 4)),
        Case("edge case: a single row, depth 3", (1, 3)),
    ]


# --- 06.2: FLOPs of a convolution ----------------------------------------------------------------


def _macs(height, width, kernel_size, c_in, c_out, strides=1):
    return conv_flops(height, width, kernel_size, c_in, c_out, strides) // 2


def _input_pixels(height, width, kernel_size, c_in, c_out, strides=1):
    return 2 * height * width * kernel_size**2 * c_in * c_out


def _floor_stride(height, width, kernel_size, c_in, c_out, strides=1):
    return 2 * (height // strides) * (width // strides) * kernel_size**2 * c_in * c_out


def _kernel_not_squared(height, width, kernel_size, c_in, c_out, strides=1):
    h, w = -(-height // strides), -(-width // strides)
    return 2 * h * w * kernel_size * c_in * c_out


@exercise(
    "06.2",
    "Count the FLOPs of a 'same' convolution",
    reference=conv_flops,
    compare=exact_arrays,
    hint=(
        "Every output pixel and output channel needs kernel_size * kernel_size * c_in "
        "multiply-adds, and a multiply-add is 2 FLOPs. With 'same' padding the output has "
        "ceil(height / strides) x ceil(width / strides) pixels."
    ),
    mistakes=[
        Mistake(_macs, "That is the number of multiply-adds: each one is two floating-point "
                       "operations (multiply, then add)."),
        Mistake(_input_pixels, "Count output pixels, not input pixels: a stride-s convolution "
                               "computes only every s-th position."),
        Mistake(_floor_stride, "With 'same' padding the output has ceil(size / strides) pixels "
                               "(a partial window at the end still counts)."),
        Mistake(_kernel_not_squared, "A kernel_size x kernel_size kernel has kernel_size**2 "
                                     "taps per input channel."),
    ],
)
def _cases_06_2() -> list[Case]:
    return [
        Case("128x128, 3x3, 3 -> 16 channels", (128, 128, 3, 3, 16)),
        Case("1x1 classifier, 64 -> 7", (64, 64, 1, 64, 7)),
        Case("97x131, 3x3, stride 2, 16 -> 32", (97, 131, 3, 16, 32), {"strides": 2}),
        Case("7x7 conv (FCN's fc6) on a 4x4 map", (4, 4, 7, 32, 64)),
        Case("edge case: stride 4 on a 3x3 map (one output pixel)", (3, 3, 3, 4, 4),
             {"strides": 4}),
    ]


# --- 06.3: parameters of the classic U-Net -------------------------------------------------------


def _formula(n_classes, depth, f, in_channels=3, *, bias=True, concat=True, up_taps=4,
             head=True):
    def conv(k, c_in, c_out):
        return k * k * c_in * c_out + (c_out if bias else 0)

    total, c = 0, in_channels
    for i in range(depth + 1):  # encoder stages, then the bottleneck
        w = f * 2**i
        total += conv(3, c, w) + conv(3, w, w)
        c = w
    for i in range(depth - 1, -1, -1):
        w = f * 2**i
        total += up_taps * c * w + (w if bias else 0)
        total += conv(3, 2 * w if concat else w, w) + conv(3, w, w)
        c = w
    return total + (conv(1, c, n_classes) if head else 0)


def _no_bias(n, d, f, in_channels=3):
    return _formula(n, d, f, in_channels, bias=False)


def _no_concat(n, d, f, in_channels=3):
    return _formula(n, d, f, in_channels, concat=False)


def _up_3x3(n, d, f, in_channels=3):
    return _formula(n, d, f, in_channels, up_taps=9)


def _no_head(n, d, f, in_channels=3):
    return _formula(n, d, f, in_channels, head=False)


@exercise(
    "06.3",
    "Count the parameters of the classic U-Net from its layer shapes",
    reference=unet_parameters,
    compare=exact_arrays,
    hint=(
        "A k x k convolution from c_in to c_out channels has k*k*c_in*c_out weights plus c_out "
        "biases. Stage i (0-based) has width w = base_filters * 2**i; the bottleneck "
        "base_filters * 2**depth. Each decoder stage: a 2x2 up-convolution to w channels, then "
        "two 3x3 convolutions, the first on the concatenation (2w channels). Last, a 1x1 "
        "convolution to n_classes."
    ),
    mistakes=[
        Mistake(_no_bias, "Every convolution here has a bias: one per output channel."),
        Mistake(_no_concat, "The first convolution of a decoder stage sees the concatenation: "
                            "the upsampled w channels plus the skip's w channels."),
        Mistake(_up_3x3, "The up-convolution is 2x2 (4 taps), not 3x3."),
        Mistake(_no_head, "Do not forget the 1x1 classifier at the end (weights and biases)."),
    ],
)
def _cases_06_3() -> list[Case]:
    return [
        Case("2 classes, depth 2, 8 filters", (2, 2, 8)),
        Case("7 classes, depth 4, 16 filters (the cpu profile)", (7, 4, 16)),
        Case("21 classes, depth 3, 12 filters, RGB", (21, 3, 12), {"in_channels": 3}),
        Case("edge case: depth 1, 1 filter, a grey image", (1, 1, 1), {"in_channels": 1}),
    ]
