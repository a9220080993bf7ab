"""``python -m segutils verify``: every problem of a dataset, at once."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from segutils.data import source

    parser.description = ("List every problem of a dataset (exit status 1 when there are errors, "
                          "0 with warnings only).")
    source.add_arguments(parser, positional=True)
    parser.add_argument("--ignore-index", type=int, default=255, help="ignore label (default 255)")
    parser.add_argument("--split", action="append",
                        help="check only this split (repeatable; default: all present)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--max-rows", type=int, default=10, metavar="N",
                        help="rows shown per kind of problem (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils import validate
    from segutils.data import source

    # A registered name is opened as that dataset; anything else is a folder, and a missing or
    # unrecognised folder is reported like every other problem.
    target = source.from_args(args) if source.is_dataset_name(args.data) else Path(args.data)
    report = validate.verify_dataset(target, args.n_classes, args.ignore_index,
                                     splits=args.split)
    print(report.to_json_text() if args.json else report.table(args.max_rows))
    return 0 if report.ok else 1
