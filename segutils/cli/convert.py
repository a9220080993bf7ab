"""``python -m segutils convert``: label files to class-ID PNGs, for a registered dataset or any
folder of colour-coded masks (:mod:`segutils.data.convert` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.data.classes import ClassInfo
from segutils.data.convert import convert_color_folder
from segutils.errors import DatasetError


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``python -m segutils convert``; sets ``func`` to :func:`run`."""
    from segutils.data.datasets import DATASETS

    parser.description = (
        "Convert label files to class-ID PNGs: the masks of a registered dataset (into its cache "
        "folder), or any folder of colour-coded masks with a classes.json colour table.")
    parser.add_argument("dataset", nargs="?", choices=sorted(DATASETS), metavar="DATASET",
                        help=f"a registered dataset: {', '.join(sorted(DATASETS))}")
    parser.add_argument("--data-root", "--root", dest="root", type=Path, default=None,
                        help="the dataset's folder (default: data/<dataset>)")
    parser.add_argument("--split", action="append", default=None,
                        help="convert only this split (repeatable; default: all)")
    parser.add_argument("--variant", default=None, help="label variant (see data/README.md)")
    parser.add_argument("--classes", type=Path, default=None,
                        help="colour table (classes.json) for converting a folder of colour masks")
    parser.add_argument("--src", type=Path, default=None, help="folder of colour-coded masks")
    parser.add_argument("--out", type=Path, default=None, help="folder for the ID masks")
    parser.add_argument("--ignore-color", type=int, nargs=3, action="append", default=[],
                        metavar=("R", "G", "B"), help="a colour to mark 255 = ignore (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``convert``; prints where the ID masks are. Returns the exit status."""
    if args.classes is not None or args.src is not None:
        if args.dataset or args.classes is None or args.src is None or args.out is None:
            raise DatasetError(None, "folder conversion needs --classes, --src and --out, and no "
                               "dataset name", "e.g. python -m segutils convert --classes "
                               "classes.json --src masks_rgb --out masks")
        written = convert_color_folder(args.src, args.out, ClassInfo.load(args.classes),
                                       args.ignore_color, progress=not args.quiet)
        print(f"Wrote {len(written)} ID masks and classes.json to {args.out}")
        return 0
    if not args.dataset:
        raise DatasetError(None, "nothing to convert", "name a dataset, or give --classes, --src "
                           "and --out")
    from segutils.data import datasets

    spec = datasets.get_spec(args.dataset)
    splits = args.split or datasets.present_splits(spec.name, args.root)
    for split in splits:
        pairs = datasets.dataset_pairs(spec.name, args.root, split, variant=args.variant,
                                       progress=not args.quiet)
        folders = sorted({str(p.mask.parent) for p in pairs})
        print(f"{spec.name} {split}: {len(pairs)} pairs; masks in {', '.join(folders)}")
    return 0

