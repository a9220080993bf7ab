"""``python -m segutils course``: execute every notebook headless and summarise
(:mod:`segutils.course` does the work)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from segutils import course

    course.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segutils import course

    return course.main(args)
