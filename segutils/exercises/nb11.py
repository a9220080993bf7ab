"""Exercises of notebook 11: a receptive field from the layer list, and SegNet's unpooling."""

from __future__ import annotations

import numpy as np

from segutils.exercises.core import Case, Mistake, exact_arrays, exercise

# The references import Keras (and so TensorFlow) on first use only, so that importing
# segutils.exercises stays fast and silent.


def receptive_field(layers):
    from segutils.evaluate.anatomy import theoretical_receptive_field

    return theoretical_receptive_field(layers)


def unpool(values, indices):
    from segutils.models.layers import MaxUnpooling

    x = np.asarray(values, np.float32)[None, :, :, None]
    where = np.asarray(indices, np.int32)[None, :, :, None]
    return np.asarray(MaxUnpooling()([x, where]))[0, :, :, 0]


# --- 11.1: receptive field of a chain of layers ----------------------------------------------


def _layers(layers):
    return [(tuple(layer) + (1, 1))[:3] for layer in layers]


def _no_dilation(layers):
    field, jump = 1, 1
    for k, s, _ in _layers(layers):
        field += (k - 1) * jump
        jump *= s
    return field


def _own_stride_too(layers):
    field, jump = 1, 1
    for k, s, d in _layers(layers):
        jump *= s
        field += (k - 1) * d * jump
    return field


def _kernels_only(layers):
    return 1 + sum((k - 1) * d for k, _, d in _layers(layers))


def _sum_of_kernels(layers):
    return sum(k for k, _, _ in _layers(layers))


@exercise(
    "11.1",
    "Compute the receptive field of a chain of (kernel, stride, dilation) layers",
    reference=receptive_field,
    compare=exact_arrays,
    hint=(
        "Start from 1 pixel. A layer widens the field by (kernel - 1) * dilation pixels of its "
        "input, and one input pixel of that layer is as many image pixels wide as the product "
        "of the strides of the layers before it (not its own)."
    ),
    mistakes=[
        Mistake(_no_dilation, "A dilated kernel skips dilation - 1 pixels between its taps: it "
                              "spans (kernel - 1) * dilation + 1 pixels."),
        Mistake(_own_stride_too, "A layer's own stride does not widen what it sees: it only "
                                 "spaces out the next layer's taps. Multiply the stride into "
                                 "the jump after adding the layer's widening."),
        Mistake(_kernels_only, "After a stride-2 layer, one step of the next kernel is two "
                               "image pixels: multiply by the product of earlier strides."),
        Mistake(_sum_of_kernels, "Two 3x3 convolutions see 5 pixels, not 6: each adds "
                                 "kernel - 1 to a field that starts at 1."),
    ],
)
def _cases_11_1() -> list[Case]:
    return [
        Case("VGG16's first block: two 3x3 convolutions and a 2x2 pooling",
             ([(3, 1, 1), (3, 1, 1), (2, 2, 1)],)),
        Case("ResNet's stem: a 7x7 stride-2 convolution and a 3x3 stride-2 pooling, then a "
             "3x3 convolution", ([(7, 2, 1), (3, 2, 1), (3, 1, 1)],)),
        Case("an ASPP branch: a 3x3 convolution at rate 6 after three stride-2 layers",
             ([(2, 2, 1), (2, 2, 1), (2, 2, 1), (3, 1, 6)],)),
        Case("SegNet-Basic's encoder: four 7x7 convolutions, each followed by a 2x2 pooling",
             ([(7, 1, 1), (2, 2, 1)] * 4,)),
        Case("edge case: a single 1x1 convolution", ([(1, 1, 1)],)),
    ]


# --- 11.2: SegNet's unpooling ------------------------------------------------------------------


def _nearest(values, indices):
    return np.repeat(np.repeat(np.asarray(values, np.float32), 2, axis=0), 2, axis=1)


def _transposed_index(values, indices):
    return unpool(values, np.asarray(indices)[:, :] // 2 + 2 * (np.asarray(indices) % 2))


def _all_top_left(values, indices):
    return unpool(values, np.zeros_like(np.asarray(indices)))


@exercise(
    "11.2",
    "Unpool a map: put each value at its window's recorded maximum, zeros elsewhere",
    reference=unpool,
    compare=exact_arrays,
    hint=(
        "The output is twice as high and wide, all zeros but one pixel per 2x2 window: the "
        "value of pooled pixel (i, j) goes to (2i + di, 2j + dj), where (di, dj) = "
        "divmod(index, 2) (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)."
    ),
    mistakes=[
        Mistake(_nearest, "Unpooling is not nearest-neighbour upsampling: only the position "
                          "of the maximum gets the value, the other three stay zero."),
        Mistake(_transposed_index, "Index 1 is top-right and 2 bottom-left (row-major): the "
                                   "row is index // 2, the column index % 2."),
        Mistake(_all_top_left, "Use the recorded indices: each window puts its value where its "
                               "own maximum was, not always at the top-left."),
    ],
)
def _cases_11_2() -> list[Case]:
    rng = np.random.default_rng(11)
    return [
        Case("a 1x1 map, maximum at bottom-right", (np.array([[5.0]]), np.array([[3]]))),
        Case("a 2x2 map, one of each position", (np.array([[1.0, 2.0], [3.0, 4.0]]),
                                                 np.array([[0, 1], [2, 3]]))),
        Case("a 3x4 map of random values and positions",
             (rng.random((3, 4)).round(2), rng.integers(0, 4, (3, 4)))),
        Case("edge case: negative values (zeros are not smaller everywhere)",
             (np.array([[-1.5, -0.5]]), np.array([[1, 2]]))),
    ]
