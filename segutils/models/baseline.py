"""The per-pixel baseline: a classifier that sees one pixel's colour and nothing else.

It is a single 1x1 convolution, i.e. multinomial logistic regression on (r, g, b) applied to every
pixel independently. Whatever it reaches is what colour alone can tell; everything a real
segmentation network adds on top comes from looking at neighbourhoods (texture, shape, layout).
"""

from __future__ import annotations

import keras


def per_pixel_classifier(n_classes: int, input_shape=(None, None, 3)) -> keras.Model:
    """A 1x1 convolution from RGB to ``n_classes`` logits per pixel.

    Parameters
    ----------
    n_classes:
        Number of classes; the output has this many channels.
    input_shape:
        (height, width, channels); ``None`` sizes accept any image size.

    Returns
    -------
    A Keras model mapping float32 images in [0, 1], shape (B, H, W, C), to logits
    (B, H, W, n_classes). No softmax: train with ``from_logits=True`` and take ``argmax``.
    It has ``C * n_classes + n_classes`` parameters (one weight per channel and a bias per class).
    """
    inputs = keras.Input(shape=input_shape, name="image")
    logits = keras.layers.Conv2D(n_classes, 1, name="logits", dtype="float32")(inputs)
    return keras.Model(inputs, logits, name="per_pixel")
