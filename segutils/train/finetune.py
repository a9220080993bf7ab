"""Fine-tuning a pretrained encoder: train the head first, then everything, gently.

A model whose encoder starts from ImageNet has a good encoder and a random head. Trained
together from the first step, the head's large, random gradients flow into the encoder and
wreck the features that made it worth starting from. The usual recipe has two stages:

1. **Frozen**: the encoder's weights do not change (``trainable = False``) for the first
   ``freeze_epochs`` epochs, so only the head learns, at the full learning rate. Batch
   normalisation inside the encoder runs in inference mode while frozen: it keeps ImageNet's
   statistics instead of re-estimating them from small segmentation batches.
2. **Fine-tuning**: everything trains, at the learning rate times ``factor`` (0.1 by
   default), so the encoder moves a little towards the task.

Both stages write into one run folder: one ``history.csv``, one ``best.keras`` over all epochs.
Each stage has its own backup (``backup_frozen/``, then ``backup/``), because freezing changes
which variables the optimizer keeps. Rerun the same call after an interruption and it resumes
in the stage it was in: with a second-stage backup it goes straight on fine-tuning; without
one it lets the first stage finish (or restore it, when it had finished) and then unfreezes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import keras

from segutils.errors import ConfigError
from segutils.train import run_folder
from segutils.train.recipe import TrainingReport, fit

__all__ = ["encoder_layers", "fit_fine_tuned", "set_encoder_trainable"]

#: How much lower the learning rate of the fine-tuning stage is.
FACTOR = 0.1


def encoder_layers(model: keras.Model) -> list:
    """The layers of ``model``'s pretrained encoder.

    The nested model ``encoder`` of the ``keras.applications`` models (``resnet50_*``,
    ``mobilenet_*``), else VGG16's convolutions (``block{b}_conv{i}``, with their batch
    normalisation in SegNet) of ``vgg_unet``, the FCNs and ``segnet``.
    """
    names = {layer.name for layer in model.layers}
    if "encoder" in names:
        return [model.get_layer("encoder")]
    layers = [layer for layer in model.layers if layer.name.startswith("block")
              and not layer.name.endswith("_pool")]
    if not layers:
        raise ConfigError(
            f"{model.name} has no pretrained encoder to freeze. Freezing serves the models that "
            "start from ImageNet: vgg_unet, fcn8, segnet and the resnet50_* and mobilenet_* "
            "models (segutils.models.registry.weights_option tells).")
    return layers


def set_encoder_trainable(model: keras.Model, trainable: bool) -> int:
    """Freeze (``False``) or unfreeze the encoder of ``model``; returns how many weights that
    concerns. Compile again afterwards: the optimizer is built for the trainable weights."""
    layers = encoder_layers(model)
    for layer in layers:
        layer.trainable = trainable
    return sum(math.prod(w.shape) for layer in layers for w in layer.weights)


def fit_fine_tuned(model: keras.Model, train_ds, val_ds, *, epochs: int, freeze_epochs: int,
                   run_dir: str | Path, learning_rate: float,
                   compile_fn: Callable[[keras.Model, float], None], factor: float = FACTOR,
                   resume: bool = True, **fit_options) -> TrainingReport:
    """Train ``model`` with its encoder frozen for ``freeze_epochs``, then all of it.

    ``compile_fn(model, learning_rate)`` compiles the model (the same loss and metrics both
    times); it is called once per stage. The first stage runs at ``learning_rate`` with a
    constant schedule, the second at ``learning_rate * factor`` with ``fit_options``' schedule
    over the whole run. ``epochs`` counts both stages. Other options go to
    :func:`segutils.train.fit`. Returns the report of the whole run (every epoch in its
    history).
    """
    freeze_epochs, epochs = int(freeze_epochs), int(epochs)
    if not 0 < freeze_epochs <= epochs:
        raise ConfigError(f"freeze_epochs must be between 1 and epochs ({epochs}), got "
                          f"{freeze_epochs}.")
    run_dir = Path(run_dir)
    if not resume:
        run_folder.clear_run(run_dir)
    done_fine_tuning = run_folder.resume_point(run_dir, run_folder.BACKUP)
    report = None
    if done_fine_tuning < freeze_epochs:  # no second-stage backup: the first stage comes first
        set_encoder_trainable(model, False)
        compile_fn(model, learning_rate)
        stage = {**fit_options, "schedule": "constant"}
        report = fit(model, train_ds, val_ds, epochs=freeze_epochs, run_dir=run_dir,
                     backup=run_folder.FROZEN_BACKUP, **stage)
        if freeze_epochs == epochs:
            return report
    set_encoder_trainable(model, True)
    compile_fn(model, learning_rate * factor)
    return fit(model, train_ds, val_ds, epochs=epochs, run_dir=run_dir,
               initial_epoch=freeze_epochs, **fit_options)
