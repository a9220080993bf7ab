"""``python -m segutils visualize``: image | mask | overlay PNGs of a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from segutils.data import source

    source.add_arguments(parser, positional=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--split", action="append",
                        help="draw only this split (repeatable; default: all present)")
    parser.add_argument("--n", type=int, default=20, help="pairs per split (default 20)")
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    parser.add_argument("--contours", action="store_true", help="draw class boundaries")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils import viz
    from segutils.data import source
    from segutils.data.folders import scan_split
    from segutils.data.io import read_image, read_mask, write_image
    from segutils.errors import DatasetError

    data = source.from_args(args) if source.is_dataset_name(args.data) else \
        source.DataSource(args.data, Path(args.data))
    classes = data.classes()
    if classes is None:
        if args.n_classes is None:
            raise DatasetError(data.root / "classes.json", "no class table for the colours",
                               "write a classes.json or pass --n-classes N (VOC colours)")
        classes = viz.default_classes(args.n_classes)
    written, skipped = 0, 0
    for split in args.split or data.splits():
        # a registered dataset is checked (and converted) whole; a folder reports bad pairs
        pairs, issues = (data.pairs(split), []) if data.registered else \
            scan_split(data.root, split)
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
        print(f"{skipped} problem(s) skipped; run `python -m segutils verify {args.data}`")
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
