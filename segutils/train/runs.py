"""Whole runs from names: a dataset and a model name in, a run directory out.

:func:`train_model` is what ``python -m segutils train`` calls, and what a notebook calls to train a
course model in one line; :func:`train_fcn_staged` trains FCN-32s, then FCN-16s from it, then
FCN-8s from that, as the FCN paper did, each stage in its own run directory (so each stage
resumes on its own after an interruption).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from segutils import config
from segutils.errors import ConfigError
from segutils.train import callbacks as cb
from segutils.train import run_folder
from segutils.train.recipe import TrainingReport, compile_model, fit

#: The stages of FCN training, coarse to fine.
FCN_STAGES = ("fcn32", "fcn16", "fcn8")


@dataclasses.dataclass
class Data:
    """Training and validation batches of a dataset, with its classes and where it lies."""

    train: object
    val: object
    classes: object
    n_classes: int
    source: str
    #: The training split's (stem, image, mask) files, for statistics over the labels as stored.
    train_pairs: list = dataclasses.field(default_factory=list, repr=False)


def load_data(data: str | Path | None, profile, *, image_size=None, batch_size=None,
              n_classes: int | None = None, augment=None, seed: int = config.DEFAULT_SEED,
              data_root: str | Path | None = None, download: bool = False,
              val_split: str | float = "val", progress: bool = True) -> Data:
    """Train and val batches from a folder (``train/``, ``val/`` splits) or a dataset name.

    ``data`` is a folder in any layout :mod:`segutils.data.folders` reads, a name known to
    :mod:`segutils.data.datasets` (``"synthetic"``, ``"oxford_iiit_pet"``, ...; ``data_root``
    says where it lies), or ``None`` for the profile's dataset (see
    :func:`segutils.data.source.open_source`). Classes come from the folder's ``classes.json``
    or the dataset's table; without either, ``n_classes`` or else the largest ID in the
    training masks sets their number.
    ``download=True`` fetches a named public dataset that is not on disk yet. ``val_split``
    names the validation split, or holds out that fraction of ``train`` (``0.1``), for datasets
    without one.
    """
    from segutils.data.pipeline import dataset_from_pairs
    from segutils.data.source import infer_n_classes, open_source

    p = profile
    size = tuple(image_size) if image_size else p.image_size
    options = {"image_size": size, "batch_size": int(batch_size or p.batch_size), "seed": seed}
    src = open_source(data, data_root, profile=p, progress=progress, download=download)
    # every file of both splits is checked before anything is decoded
    pairs, val_pairs = src.train_val_pairs(val_split, seed=seed)
    train = dataset_from_pairs(pairs, augment=augment, shuffle=True, name=f"{src.label}/train",
                               **options)
    val = dataset_from_pairs(val_pairs, shuffle=False, name=f"{src.label}/val ({val_split})",
                             **options)
    classes = src.classes()
    count = int(n_classes) if n_classes is not None else (
        classes.n_classes if classes is not None else infer_n_classes(pairs))
    if classes is None:
        from segutils import viz

        classes = viz.default_classes(count)
    source = src.label
    return Data(train, val, classes, count, source, pairs)


#: What ``class_weights=`` of :func:`train_model` and ``--class-weights`` accept by name.
CLASS_WEIGHTS = ("none", "median_frequency")


def class_weights(data: Data, method: str = "median_frequency", definition: str = "image"):
    """Per-class loss weights computed from the training masks as stored (before any resize or
    augmentation), or ``None`` for ``method="none"``.

    ``"median_frequency"``: :func:`segutils.balancing.median_frequency_weights` with the
    ``"image"`` frequency of Eigen & Fergus (SegNet's choice) or the ``"pixel"`` one.
    """
    if method not in CLASS_WEIGHTS:
        raise ConfigError(f"unknown class weighting {method!r}; use one of "
                          f"{', '.join(CLASS_WEIGHTS)}")
    if method == "none":
        return None
    if not data.train_pairs:
        raise ConfigError(f"{data.source}: no training files to count class frequencies on")
    from segutils.balancing import class_statistics, median_frequency_weights
    from segutils.data.io import read_mask

    stats = class_statistics((read_mask(p.mask) for p in data.train_pairs), data.n_classes)
    return median_frequency_weights(stats.frequencies(definition), list(data.classes.names))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train a model on one dataset in one profile: every choice in one place, for the
    notebooks and for ``python -m segutils train --recipe NAME``.

    ``image_size`` is the size the model trains (and is run) at; scores are always taken on the
    labels at their own size. ``measured`` says whether the figures of this recipe were
    measured (``benchmarks/results/``) or are a plan.
    """

    dataset: str
    model: str
    image_size: tuple[int, int]
    batch_size: int
    epochs: int
    augment: str | None = "light"
    class_weights: str = "median_frequency"
    learning_rate: float = 1e-3
    steps_per_epoch: int | None = None
    model_options: tuple[tuple[str, object], ...] = ()
    measured: bool = False


#: Named recipes, by profile. ``camvid``: U-Net from scratch at half resolution on two CPU
#: cores (``cpu``, measured: benchmarks/results/camvid.md); at full size from an ImageNet VGG16
#: encoder on a GPU (``gpu``, a plan: not measured here). ``oxford_iiit_pet``: pet against
#: background (the trimap border ignored); only the ``quick`` one runs in the tests.
RECIPES: dict[str, dict[str, Recipe]] = {
    "camvid": {
        "quick": Recipe("camvid", "unet", (48, 64), 4, 1, steps_per_epoch=3),
        "cpu": Recipe("camvid", "unet", (180, 240), 8, 24, measured=True),
        "gpu": Recipe("camvid", "vgg_unet", (360, 480), 8, 80, augment="medium",
                      learning_rate=3e-4),
    },
    "oxford_iiit_pet": {
        "quick": Recipe("oxford_iiit_pet", "unet", (64, 64), 8, 1, class_weights="none",
                        steps_per_epoch=3),
        "cpu": Recipe("oxford_iiit_pet", "unet", (128, 128), 8, 12, class_weights="none"),
        "gpu": Recipe("oxford_iiit_pet", "vgg_unet", (256, 256), 32, 40, augment="medium",
                      class_weights="none", learning_rate=3e-4),
    },
}


def recipe(name: str, profile=None) -> Recipe:
    """The recipe ``name`` for ``profile`` (a Profile, its name, or None for the current one)."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    p = config.profile(profile)
    return RECIPES[name][p.name]


def _preview(data: Data, n: int = 4):
    from segutils.data.pipeline import take_batch

    images, masks = take_batch(data.val)[:2]
    return images[:n], masks[:n]


def train_model(model_name: str, data: Data, *, profile=None, epochs: int | None = None,
          run_dir: str | Path | None = None, resume: bool = True, learning_rate: float = 1e-3,
          class_weights=None, model_options: dict | None = None, init_from=None,
          accelerator=None, freeze_encoder_epochs: int = 0, **fit_options) -> TrainingReport:
    """Build ``model_name`` through the registry, compile it and :func:`fit` it.

    ``profile`` sizes the model (and ``epochs`` by default); ``run_dir`` defaults to
    :func:`default_run_dir`. ``init_from`` (a model or a ``.keras`` path) copies the weights of
    every layer with the same name and shape before training: how FCN-16s starts from FCN-32s.
    ``accelerator`` (from :func:`segutils.train.setup`) gives the distribution scope.
    ``freeze_encoder_epochs`` > 0 fine-tunes in two stages (:mod:`segutils.train.finetune`):
    the encoder frozen for that many epochs, then everything at a tenth of the learning rate.
    """
    from segutils.models import registry
    from segutils.train import finetune

    p = config.profile(profile)
    epochs = int(epochs if epochs is not None else p.epochs)
    run_dir = Path(run_dir) if run_dir is not None else run_folder.default_run_dir(model_name, p)

    def compile_at(model, rate):
        with _scope(accelerator):
            compile_model(model, data.n_classes, learning_rate=rate, class_weights=class_weights,
                          jit_compile=None if accelerator is None else accelerator.jit_compile)

    with _scope(accelerator):
        model = registry.build(model_name, data.n_classes, profile=p, **(model_options or {}))
        if init_from is not None:
            _transfer(init_from, model)
    fit_options.setdefault("preview", _preview(data))
    fit_options.setdefault("classes", data.classes)
    fit_options.setdefault("image_size", p.image_size)
    fit_options.setdefault("batch_size", p.batch_size)
    fit_options.setdefault("steps_per_epoch", p.steps_per_epoch)
    if freeze_encoder_epochs:
        return finetune.fit_fine_tuned(model, data.train, data.val, epochs=epochs,
                                       freeze_epochs=freeze_encoder_epochs, run_dir=run_dir,
                                       learning_rate=learning_rate, compile_fn=compile_at,
                                       resume=resume, **fit_options)
    compile_at(model, learning_rate)
    return fit(model, data.train, data.val, epochs=epochs, run_dir=run_dir, resume=resume,
               **fit_options)


def _scope(accelerator):
    """The accelerator's distribution scope, or a scope that does nothing without one."""
    import contextlib

    return accelerator.scope() if accelerator is not None else contextlib.nullcontext()


def _transfer(source, model) -> list[str]:
    import keras

    from segutils.models.fcn import transfer_weights

    if isinstance(source, (str, Path)):
        source = keras.models.load_model(source, compile=False)
    copied = transfer_weights(source, model)
    if not copied:
        raise ConfigError(f"no layer of {source.name} matches {model.name} by name and shape: "
                          "nothing to start from (another number of classes or width?)")
    return copied


def train_fcn_staged(data: Data, *, profile=None, epochs: int | Sequence[int] | None = None,
                     runs_root: str | Path | None = None, resume: bool = True,
                     learning_rates: Sequence[float] = (1e-3, 3e-4, 1e-4),
                     **train_options) -> dict[str, TrainingReport]:
    """FCN-32s -> FCN-16s -> FCN-8s in one call; returns the three reports by stage name.

    Each stage starts from the previous stage's ``best.keras`` (copied layer by layer: encoder,
    fc6/fc7, the score and upsampling layers the finer net shares; its new skip score layer
    starts at zero, so the finer net begins exactly where the coarser one ended) and trains
    at a lower learning rate. ``epochs`` is one number for every stage or one per stage
    (default: the profile's epochs split over three stages). Runs go to
    ``runs_root/<stage>`` (default ``config.runs_dir()/<profile>/``), so the last stage is an
    ordinary ``fcn8`` run. With ``resume=True`` a finished stage is not trained again.
    """
    p = config.profile(profile)
    if epochs is None:
        epochs = max(1, p.epochs // 3)
    per_stage = [int(epochs)] * 3 if isinstance(epochs, int) else [int(e) for e in epochs]
    if len(per_stage) != 3 or len(learning_rates) != 3:
        raise ConfigError("give three epoch counts and three learning rates (32s, 16s, 8s)")
    root = Path(runs_root) if runs_root is not None else config.runs_dir() / p.name
    reports, previous = {}, None
    for stage, n, lr in zip(FCN_STAGES, per_stage, learning_rates, strict=True):
        reports[stage] = train_model(stage, data, profile=p, epochs=n, run_dir=root / stage,
                               resume=resume, learning_rate=lr, init_from=previous,
                               **train_options)
        previous = root / stage / cb.BEST
    return reports
