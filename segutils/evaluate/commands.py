"""``python -m segutils evaluate`` and ``python -m segutils predict``.

Argument definitions and handlers live here, next to the functions they call, so that
:mod:`segutils.cli` only wires them in. Keras and TensorFlow are imported inside the handlers:
``python -m segutils --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.data.classes import CLASSES_FILE, ClassInfo


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Score a trained model on a dataset split with the FCN metrics (one confusion matrix over "
        "the whole split), print the per-class table and write it as JSON and markdown.")
    parser.add_argument("--model", type=Path, required=True,
                        help="the .keras file (or a run folder holding best.keras)")
    from segutils.data import source

    source.add_arguments(parser, n_classes=False)
    parser.add_argument("--split", default="val", help="split to score (default val)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for evaluation_SPLIT.json/.md (default: the model's folder)")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="run the model at this size (default: its input size, else the "
                        "size its run trained at (training.json), else each image's own size); "
                        "the scores are always taken on the labels at their own size")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run_evaluate)


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.set_defaults(func=run_predict)


def _model_file(path: Path) -> Path:
    return path / "best.keras" if path.is_dir() else path


def trained_size(model_path: Path) -> tuple[int, int] | None:
    """The image size the run beside ``model_path`` trained at (its ``training.json``)."""
    import json

    from segutils.train.callbacks import TRAINING

    path = _model_file(model_path).parent / TRAINING
    if not path.is_file():
        return None
    size = json.loads(path.read_text()).get("image_size")
    return tuple(int(v) for v in size) if size else None


def _run_size(args: argparse.Namespace, model) -> tuple[int, int] | None:
    from segutils.evaluate.predict import model_input_size

    if args.image_size:
        return tuple(args.image_size)
    return model_input_size(model) or trained_size(args.model)


def _classes_for(model, model_path: Path, given: Path | None) -> ClassInfo | None:
    if given is not None:
        return ClassInfo.load(given)
    beside = _model_file(model_path).parent / CLASSES_FILE
    if beside.is_file():
        info = ClassInfo.load(beside)
        if info.n_classes == int(model.outputs[0].shape[-1]):
            return info
    return None


def run_evaluate(args: argparse.Namespace) -> int:
    from segutils.data import source
    from segutils.data.io import image_size as file_image_size

    data = source.from_args(args)
    pairs = data.pairs(args.split)  # bad data is reported before the model loads

    from segutils.data.pipeline import dataset_from_pairs
    from segutils.evaluate.deploy import load_model
    from segutils.evaluate.report import evaluate

    model = load_model(args.model)
    one_size = len({file_image_size(p.image) for p in pairs}) == 1
    ds = dataset_from_pairs(pairs, batch_size=args.batch_size if one_size else 1, shuffle=False,
                            cache=False, name=f"{data.label}/{args.split}")
    classes = data.classes() or _classes_for(model, args.model, None)
    size = _run_size(args, model)
    report = evaluate(model, ds, classes, image_size=size,
                      meta={"model": str(args.model), "data": data.label, "split": args.split,
                            "image_size": list(size) if size else None})
    out = args.out or _model_file(args.model).parent
    json_path, md_path = report.save(out, f"evaluation_{args.split}")
    print(report.to_json() if args.json else report.table())
    print(f"\nWrote {json_path} and {md_path}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from segutils.evaluate.deploy import load_model
    from segutils.evaluate.predict import find_images, predict

    find_images(args.inputs)  # bad inputs fail before the model loads
    model = load_model(args.model)
    classes = _classes_for(model, args.model, args.classes)
    results = predict(model, args.inputs, args.out, classes, image_size=_run_size(args, model),
                      alpha=args.alpha, overlays=not args.no_overlays)
    where = f"{args.out / 'masks'}" + ("" if args.no_overlays else
                                       f" and overlays to {args.out / 'overlays'}")
    print(f"Wrote {len(results)} mask(s) to {where}")
    return 0
