"""``python -m segutils download``: fetch, verify and extract a public dataset
(:mod:`segutils.data.download` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segutils.data.datasets import DATASETS
from segutils.data.download import download, say


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``python -m segutils download``; sets ``func`` to :func:`run`."""
    parser.description = ("Download a public dataset, verify its SHA-256 and extract it safely. "
                          "Run it again after an interruption: finished steps are skipped.")
    parser.add_argument("name", choices=sorted(DATASETS), metavar="NAME",
                        help=f"one of {', '.join(sorted(DATASETS))}")
    parser.add_argument("--data-root", "--root", dest="root", type=Path, default=None,
                        help="folder for the dataset (default: data/NAME)")
    parser.add_argument("--with", dest="extras", action="append", default=[], metavar="PART",
                        help="an optional part, e.g. sbd for voc2012 (repeatable)")
    parser.add_argument("--delete-archives", action="store_true",
                        help="delete each archive once extracted (saves disk space)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``download``; prints where the dataset is and how to load it."""
    base = download(args.name, args.root, extras=args.extras,
                    keep_archives=not args.delete_archives, progress=not args.quiet)
    root = f", root={str(args.root)!r}" if args.root is not None else ""
    say(f"Load it with: segutils.data.load_dataset({args.name!r}{root}, "
         f"split='train', image_size=(H, W))  [{base}]")
    return 0
