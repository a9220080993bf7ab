"""``python -m segutils train``: the command-line front door to :mod:`segutils.train`.

Only ``argparse`` is imported at the top: Keras and TensorFlow load when the command runs, so
``python -m segutils --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from segutils.data import source

    parser.description = ("Train a course model on a dataset folder or a named dataset, writing "
                          "best.keras, last.keras, history.csv, report.json and TensorBoard logs "
                          "to --out. Interrupted? Run it again with --resume.")
    parser.set_defaults(func=run)

    source.add_arguments(parser, required=False)
    parser.add_argument("--recipe", default=None,
                        help="a named recipe (camvid, oxford_iiit_pet) that sets the dataset, "
                        "model, image size, batch, epochs, augmentation and class weights of the "
                        "profile; any option given as well wins")
    parser.add_argument("--model", default=None,
                        help="model name: per_pixel, unet_mini, unet, vgg_unet, fcn32, fcn16, "
                        "fcn8, segnet_mini, segnet, resnet50_unet, mobilenet_unet, resnet50_fcn8, "
                        "mobilenet_fcn8, resnet50_pspnet, mobilenet_pspnet, "
                        "resnet50_deeplabv3plus, mobilenet_deeplabv3plus, or fcn_staged "
                        "(32s -> 16s -> 8s); required without --recipe")
    parser.add_argument("--encoder-weights", default=None, metavar="imagenet|none|FILE",
                        help="start the encoder from ImageNet (the file Keras caches in "
                        "~/.keras/models), from a weights file, or from scratch (none); default: "
                        "the profile's (imagenet on a GPU)")
    parser.add_argument("--freeze-encoder-epochs", type=int, default=0, metavar="N",
                        help="fine-tuning: keep the pretrained encoder frozen (batch norm in "
                        "inference mode) for the first N epochs, then train everything at a "
                        "tenth of the learning rate")
    parser.add_argument("--val-split", type=source.val_split_argument, default="val",
                        metavar="SPLIT|FRACTION",
                        help="the validation split (default val), or a fraction of train to hold "
                        "out, e.g. 0.1, for data without a val split")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs (default: the profile's; fcn_staged: per stage)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default: runs/<profile>/<model>, or "
                        "runs/<profile>/<recipe>/<model> with --recipe; fcn_staged: the parent "
                        "of one folder per stage)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in --out after an interruption (or extend it)")
    again.add_argument("--overwrite", action="store_true",
                       help="delete the run in --out and start over")
    parser.add_argument("--profile", choices=("quick", "cpu", "gpu"), default=None,
                        help="sizes of model, images and batch (default: gpu with a GPU, else cpu)")
    parser.add_argument("--batch-size", type=int, default=None, help="images per step")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="resize images (and masks, nearest neighbour) to H x W")
    parser.add_argument("--learning-rate", type=float, default=None, help="default 1e-3")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="cap on training steps per epoch (default: the whole training set)")
    parser.add_argument("--patience", type=int, default=None,
                        help="stop after N epochs without a better val mIoU (default: never)")
    parser.add_argument("--class-weights", choices=("none", "median_frequency"), default=None,
                        help="weight each pixel's loss by its class: median_frequency balancing "
                        "(SegNet's, frequencies of the training masks) or none (default)")
    parser.add_argument("--augment", default=None, help="augmentation preset: light, medium, heavy")
    parser.add_argument("--precision", default="auto",
                        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
                        help="default: mixed precision on a GPU/TPU, float32 on a CPU")
    parser.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                        help="XLA compilation of the training step (default: on for GPU/TPU)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--deterministic", action="store_true",
                        help="identical results run to run on a GPU too (slower)")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")


def _apply_recipe(args: argparse.Namespace, profile) -> None:
    """Fill the options the user left out from ``--recipe`` (then from the built-in defaults)."""
    from segutils.train import runs

    r = runs.recipe(args.recipe, profile) if args.recipe else None
    chosen = {"data": "dataset", "model": "model", "image_size": "image_size",
              "batch_size": "batch_size", "epochs": "epochs", "augment": "augment",
              "class_weights": "class_weights", "learning_rate": "learning_rate",
              "steps_per_epoch": "steps_per_epoch"}
    for option, field in chosen.items():
        if getattr(args, option) is None and r is not None:
            setattr(args, option, getattr(r, field))
    args.model_options = dict(r.model_options) if r is not None else {}
    if args.model is None:
        raise ConfigError("name a model (--model unet, for example) or a recipe (--recipe camvid)")
    if args.encoder_weights is not None:
        from segutils.models import registry

        option = registry.weights_option(args.model)
        if option is None:
            raise ConfigError(f"--encoder-weights: {args.model} has no pretrained encoder; "
                              "models that have one: vgg_unet, fcn8, segnet, resnet50_*, "
                              "mobilenet_*")
        weights = args.encoder_weights
        args.model_options[option] = None if weights.lower() == "none" else weights
    if args.class_weights is None:
        args.class_weights = "none"
    if args.learning_rate is None:
        args.learning_rate = 1e-3


def run(args: argparse.Namespace) -> int:
    from segutils import config

    config.import_quietly()  # before anything imports TensorFlow: no start-up log lines
    from segutils.train import hardware, run_folder, runs
    from segutils.train.recipe import plot_history

    p = config.profile(args.profile)
    _apply_recipe(args, p)
    if args.steps_per_epoch is not None:
        p = p.replace(steps_per_epoch=args.steps_per_epoch)
    staged = args.model == "fcn_staged"
    # runs/<profile>/<model>, or runs/<profile>/<recipe>/<model> (where notebook 10 looks)
    default = run_folder.default_run_dir(args.model, p, args.recipe)
    if staged:
        default = default.parent
    out = args.out or default
    run_dirs = [out / s for s in runs.FCN_STAGES] if staged else [out]
    if not (args.resume or args.overwrite) and any(run_folder.existing_run(d) for d in run_dirs):
        raise ConfigError(f"{out} already holds a training run. Pass --resume to continue it "
                          "(or to train a finished run for more --epochs), --overwrite to start "
                          "over, or another --out.")
    if args.deterministic:
        hardware.deterministic(args.seed)
    else:
        config.seed_everything(args.seed)
    xla = {"auto": "auto", "on": True, "off": False}[args.xla]
    acc = hardware.setup(args.precision, xla)
    print(acc.describe())
    data = runs.load_data(args.data, p, image_size=args.image_size, batch_size=args.batch_size,
                          n_classes=args.n_classes, augment=args.augment, seed=args.seed,
                          data_root=args.data_root, val_split=args.val_split,
                          progress=not args.quiet)
    weights = runs.class_weights(data, args.class_weights)
    if weights is not None:
        print("class weights: " + ", ".join(f"{n} {w:.2f}" for n, w in
                                             zip(data.classes.names, weights, strict=True)))
    options = dict(profile=p, resume=not args.overwrite, learning_rate=args.learning_rate,
                   class_weights=weights,
                   accelerator=acc, patience=args.patience, verbose=2 if args.quiet else "auto",
                   batch_size=args.batch_size or p.batch_size,
                   freeze_encoder_epochs=args.freeze_encoder_epochs,
                   image_size=tuple(args.image_size) if args.image_size else p.image_size)
    if staged:
        if options.pop("freeze_encoder_epochs"):
            raise ConfigError("--freeze-encoder-epochs: fcn_staged trains in its own stages; "
                              "use it with --model fcn8")
        lr = options.pop("learning_rate")  # halved at each finer stage
        reports = runs.train_fcn_staged(data, epochs=args.epochs, runs_root=out,
                                        learning_rates=(lr, lr / 2, lr / 4), **options)
    else:
        reports = {args.model: runs.train_model(args.model, data, epochs=args.epochs, run_dir=out,
                                          model_options=args.model_options, **options)}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for report in reports.values():
        fig = plot_history(report, title=f"{report.model} on {data.source}")
        fig.savefig(Path(report.run_dir) / "history.png", dpi=100)
        plt.close(fig)
        print(report)
    return 0
