"""``python -m segutils student``: student versions of the notebooks."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")
    parser.add_argument("--src", type=Path, default=Path("notebooks"),
                        help="instructor notebooks (default: notebooks)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils import student

    return student.main(args.out, args.src)
