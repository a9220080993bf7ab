"""``python -m segutils predict``: class-ID masks and overlays of new images, at each image's
own size."""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.cli.evaluate import classes_for, run_size
from segutils.data.classes import CLASSES_FILE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Segment images with a trained model. Writes OUT/masks/STEM.png (palette PNGs whose "
        "pixel values are the class IDs) and OUT/overlays/STEM.png, both at each input's size.")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                        help="image files or folders of images")
    parser.add_argument("--model", type=Path, required=True,
                        help="the .keras file (or a run folder holding best.keras)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--classes", type=Path, default=None,
                        help=f"{CLASSES_FILE} for names and colours (default: the one next to "
                        "the model, else VOC colours)")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="run the model at this size (default: its input size, else the "
                        "size its run trained at (training.json), else each image's own size)")
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    parser.add_argument("--no-overlays", action="store_true", help="write the masks only")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils.evaluate.deploy import load_model
    from segutils.evaluate.predict import find_images, predict

    find_images(args.inputs)  # bad inputs fail before the model loads
    model = load_model(args.model)
    classes = classes_for(model, args.model, args.classes)
    results = predict(model, args.inputs, args.out, classes, image_size=run_size(args, model),
                      alpha=args.alpha, overlays=not args.no_overlays)
    where = f"{args.out / 'masks'}" + ("" if args.no_overlays else
                                       f" and overlays to {args.out / 'overlays'}")
    print(f"Wrote {len(results)} mask(s) to {where}")
    return 0
