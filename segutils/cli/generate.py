"""``python -m segutils generate``: write the built-in street-scene dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    parser.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"),
                        help="image height and width (default 128 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils.data import synthetic

    out = synthetic.generate(args.out, n=args.n, size=tuple(args.size), seed=args.seed,
                             progress=not args.quiet)
    print(f"Wrote the built-in dataset to {out}")
    return 0
