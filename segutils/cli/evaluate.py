"""``python -m segutils evaluate``: score a trained model on a dataset split (FCN metrics, one
confusion matrix over the split), at the labels' own size."""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.data.classes import CLASSES_FILE, ClassInfo


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.set_defaults(func=run)


def _model_file(path: Path) -> Path:
    return path / "best.keras" if path.is_dir() else path


def run_size(args: argparse.Namespace, model) -> tuple[int, int] | None:
    """The size to run the model at: ``--image-size``, else the model's fixed input size, else
    the size its run trained at (the run folder's ``training.json``), else ``None``."""
    from segutils.evaluate.predict import model_input_size
    from segutils.train.run_folder import training_size

    if args.image_size:
        return tuple(args.image_size)
    return model_input_size(model) or training_size(_model_file(args.model).parent)


def classes_for(model, model_path: Path, given: Path | None) -> ClassInfo | None:
    if given is not None:
        return ClassInfo.load(given)
    beside = _model_file(model_path).parent / CLASSES_FILE
    if beside.is_file():
        info = ClassInfo.load(beside)
        if info.n_classes == int(model.outputs[0].shape[-1]):
            return info
    return None


def run(args: argparse.Namespace) -> int:
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
    classes = data.classes() or classes_for(model, args.model, None)
    size = run_size(args, model)
    report = evaluate(model, ds, classes, image_size=size,
                      meta={"model": str(args.model), "data": data.label, "split": args.split,
                            "image_size": list(size) if size else None})
    out = args.out or _model_file(args.model).parent
    json_path, md_path = report.save(out, f"evaluation_{args.split}")
    print(report.to_json() if args.json else report.table())
    print(f"\nWrote {json_path} and {md_path}")
    return 0
