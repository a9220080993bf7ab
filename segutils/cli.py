"""The command line: ``python -m segutils <command> ...``.

A thin front door over the same functions the notebooks use. Errors that segutils raises on
purpose (bad files, bad settings) print as one clear message and exit with status 2, without a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segutils.errors import SegutilsError


def _generate(args: argparse.Namespace) -> int:
    from segutils.data import synthetic

    out = synthetic.generate(args.out, n=args.n, size=tuple(args.size), seed=args.seed,
                             progress=not args.quiet)
    print(f"Wrote the built-in dataset to {out}")
    return 0


def _student(args: argparse.Namespace) -> int:
    from segutils import student

    return student.main(args.out, args.src)


def _verify(args: argparse.Namespace) -> int:
    from segutils import validate
    from segutils.data import source
    from segutils.data.datasets import DATASETS, SYNTHETIC

    # A registered name is opened as that dataset; anything else is a folder, and a missing or
    # unrecognised folder is reported like every other problem.
    named = args.data in DATASETS or args.data == SYNTHETIC
    target = source.from_args(args) if named else Path(args.data)
    report = validate.verify_dataset(target, args.n_classes, args.ignore_index,
                                     splits=args.split)
    print(report.to_json_text() if args.json else report.table(args.max_rows))
    return 0 if report.ok else 1


def _visualize(args: argparse.Namespace) -> int:
    from segutils import viz
    from segutils.data.folders import available_splits, load_classes, scan_split
    from segutils.data.io import read_image, read_mask, write_image
    from segutils.errors import DatasetError

    classes = load_classes(args.root)
    if classes is None:
        if args.n_classes is None:
            raise DatasetError(args.root / "classes.json", "no class table for the colours",
                               "write a classes.json or pass --n-classes N (VOC colours)")
        classes = viz.default_classes(args.n_classes)
    written, skipped = 0, 0
    for split in args.split or available_splits(args.root):
        pairs, issues = scan_split(args.root, split)
        skipped += len(issues)
        for pair in pairs[: args.n]:
            try:
                image, mask = read_image(pair.image), read_mask(pair.mask)
                picture = viz.side_by_side(image, mask, classes, args.alpha,
                                           contours=args.contours)
            except (DatasetError, ValueError) as err:  # a bad pair: report it, draw the rest
                print(f"skipped {pair.stem}: {str(err).splitlines()[0]}", file=sys.stderr)
                skipped += 1
                continue
            write_image(args.out / f"{split}_{pair.stem}.png", picture)
            written += 1
    _legend(classes, args.out / "legend.png")
    print(f"Wrote {written} overlays (image | mask | overlay) and legend.png to {args.out}")
    if skipped:
        print(f"{skipped} problem(s) skipped; run `python -m segutils verify {args.root}`")
    return 0


def _legend(classes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from segutils import viz

    fig = plt.figure(figsize=(2.4, 0.3 * classes.n_classes + 0.3))
    fig.legend(handles=viz.legend_handles(classes), loc="center", frameon=False)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _course(args: argparse.Namespace) -> int:
    from segutils import course

    return course.main(args)


def _train(args: argparse.Namespace) -> int:
    from segutils.train import command

    return command.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segutils",
        description="Helpers of the course 'Semantic Segmentation with Keras'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write the built-in street-scene dataset")
    gen.add_argument("--out", type=Path, required=True, help="folder to write")
    gen.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    gen.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"),
                     help="image height and width (default 128 128)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    stu = sub.add_parser("student", help="write student versions of the notebooks")
    stu.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")
    stu.add_argument("--src", type=Path, default=Path("notebooks"),
                     help="instructor notebooks (default: notebooks)")
    stu.set_defaults(func=_student)

    from segutils.data import source

    ver = sub.add_parser("verify", help="check every image and mask of a dataset",
                         description="List every problem of a dataset (exit status 1 when there "
                         "are errors, 0 with warnings only).")
    source.add_arguments(ver, positional=True)
    ver.add_argument("--ignore-index", type=int, default=255, help="ignore label (default 255)")
    ver.add_argument("--split", action="append",
                     help="check only this split (repeatable; default: all present)")
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.add_argument("--max-rows", type=int, default=10, metavar="N",
                     help="rows shown per kind of problem (default 10)")
    ver.set_defaults(func=_verify)

    vis = sub.add_parser("visualize", help="write image | mask | overlay PNGs of a dataset")
    vis.add_argument("root", type=Path, help="dataset folder")
    vis.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    vis.add_argument("--split", action="append", choices=("train", "val", "test"),
                     help="draw only this split (repeatable; default: all present)")
    vis.add_argument("--n", type=int, default=20, help="pairs per split (default 20)")
    vis.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    vis.add_argument("--contours", action="store_true", help="draw class boundaries")
    vis.add_argument("--n-classes", type=int, default=None,
                     help="without a classes.json: the number of classes (VOC colours)")
    vis.set_defaults(func=_visualize)

    from segutils.data import convert, download

    download.add_download_arguments(
        sub.add_parser("download", help="download, verify and extract a public dataset"))
    convert.add_convert_arguments(
        sub.add_parser("convert", help="convert a dataset's label files to class-ID masks"))

    from segutils import course

    run = sub.add_parser("course", help="execute every notebook headless and summarise")
    course.add_arguments(run)
    run.set_defaults(func=_course)

    from segutils.evaluate import commands as evaluation

    evaluation.add_evaluate_arguments(
        sub.add_parser("evaluate", help="score a trained model on a dataset split"))
    evaluation.add_predict_arguments(
        sub.add_parser("predict", help="segment images with a trained model"))

    from segutils.train import command as train_command  # argparse only; Keras loads on run

    trn = sub.add_parser("train", help="train a model; a rerun with --resume continues it",
                         description="Train a course model on a dataset folder or a named "
                         "dataset, writing best.keras, last.keras, history.csv, report.json and "
                         "TensorBoard logs to --out. Interrupted? Run it again with --resume.")
    train_command.add_arguments(trn)
    trn.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SegutilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
