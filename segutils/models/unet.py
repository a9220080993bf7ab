"""A mini U-Net: the smallest encoder-decoder with skip connections that segments well.

The architecture follows the small U-Net of the keras_segmentation guide (seed 003): two
convolution blocks that each halve the resolution, a bottleneck block, and two decoder steps that
upsample and concatenate the encoder features of the same resolution (the skip connections that
give U-Net its sharp boundaries). Blocks 1, 2 and 3 are identical apart from their width
(f, 2f, 4f). With ``base_filters=16`` it has about 120k parameters and trains on two CPU cores
in minutes on 128x128 images. Batch normalisation (on by default) is this course's addition.

The model pads its input to a multiple of 4 and crops the logits back (two 2x2 poolings need
it), so it accepts any image size.
"""

from __future__ import annotations

import keras

from segutils.models.layers import CropToReference, PadToMultiple

#: Two 2x2 poolings: height and width must be divisible by 2**2 inside the network.
DOWNSAMPLING = 4


def conv_block(x, filters: int, dropout: float, name: str, batch_norm: bool = False):
    """Conv3x3-ReLU, dropout, Conv3x3-ReLU: the repeated unit of encoder and decoder.

    Dropout sits between the two convolutions as in the seed; with ``batch_norm`` each
    convolution is followed by batch normalisation before the ReLU (faster, steadier training).
    """
    for part in ("a", "b"):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}{part}_conv"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}{part}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}{part}_relu")(x)
        if part == "a" and dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def unet_mini(
    n_classes: int,
    input_shape=(None, None, 3),
    base_filters: int = 16,
    dropout: float = 0.1,
    *,
    batch_norm: bool = True,
) -> keras.Model:
    """Build the mini U-Net.

    Parameters
    ----------
    n_classes:
        Number of classes; the output has this many channels.
    input_shape:
        (height, width, channels). ``None`` sizes accept any image size: the input is padded
        to a multiple of 4 inside the model and the logits are cropped back to the input size.
    base_filters:
        Width f of the first block; the blocks have f, 2f and 4f filters.
    dropout:
        Dropout rate between the two convolutions of every block (0 disables it).
    batch_norm:
        Batch normalisation after every 3x3 convolution (default). The seed's model has none
        (``batch_norm=False`` rebuilds it); with it, training converges markedly faster at
        the short schedules of the ``cpu`` profile and tolerates larger learning rates. The
        momentum is 0.9,
        not Keras' 0.99, so that the moving statistics used at inference settle within the
        few hundred steps of a CPU run.

    Returns
    -------
    A Keras model from float32 images in [0, 1], (B, H, W, C), to logits
    (B, H, W, n_classes): no softmax, so train with ``from_logits=True``.

    Layer names follow the stage: ``encoder_stage{1,2}``, ``bottleneck``, ``decoder_stage{1,2}``
    (decoder stage 1 is the coarser one), ``logits``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = PadToMultiple(DOWNSAMPLING, name="pad")(inputs)

    skips = []
    for stage in (1, 2):
        x = conv_block(x, base_filters * 2 ** (stage - 1), dropout, f"encoder_stage{stage}",
                       batch_norm)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder_stage{stage}_pool")(x)

    x = conv_block(x, base_filters * 4, dropout, "bottleneck", batch_norm)

    for stage, skip in zip((1, 2), reversed(skips), strict=True):
        x = keras.layers.UpSampling2D(2, name=f"decoder_stage{stage}_up")(x)
        x = keras.layers.Concatenate(name=f"decoder_stage{stage}_concat")([x, skip])
        x = conv_block(x, base_filters * 2 ** (2 - stage), dropout, f"decoder_stage{stage}",
                       batch_norm)

    x = keras.layers.Conv2D(n_classes, 1, name="logits_padded")(x)
    logits = CropToReference(name="logits")([x, inputs])
    return keras.Model(inputs, logits, name="unet_mini")
