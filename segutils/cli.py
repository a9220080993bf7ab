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


def _course(args: argparse.Namespace) -> int:
    from segutils import course

    return course.main(args)


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

    from segutils import course

    run = sub.add_parser("course", help="execute every notebook headless and summarise")
    course.add_arguments(run)
    run.set_defaults(func=_course)
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
