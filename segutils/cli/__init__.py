"""The command line: ``python -m segutils <command> ...``, one module per command.

Each module of this package (``generate``, ``verify``, ``visualize``, ``download``, ``convert``,
``train``, ``evaluate``, ``predict``, ``student``) has ``add_arguments(parser)`` and ``run(args)``
and imports Keras and TensorFlow only inside ``run``, so ``python -m segutils --help`` stays fast.
They are a thin front door over the same functions the notebooks use. Every command that reads
data takes the same dataset arguments (:func:`segutils.data.source.add_arguments`). Errors that
segutils raises on purpose (bad files, bad settings) print as one clear message and exit with
status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from segutils.errors import SegutilsError

#: command -> (module of this package, one-line help)
COMMANDS = {
    "generate": ("generate", "write the built-in street-scene dataset"),
    "verify": ("verify", "check every image and mask of a dataset"),
    "visualize": ("visualize", "write image | mask | overlay PNGs of a dataset"),
    "download": ("download", "download, verify and extract a public dataset"),
    "convert": ("convert", "convert a dataset's label files to class-ID masks"),
    "train": ("train", "train a model; a rerun with --resume continues it"),
    "evaluate": ("evaluate", "score a trained model on a dataset split"),
    "predict": ("predict", "segment images with a trained model"),
    "student": ("student", "write student versions of the notebooks"),
    "course": ("course", "execute every notebook headless and summarise"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segutils",
        description="Helpers of the course 'Semantic Segmentation with Keras'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"segutils.cli.{module}")
        mod.add_arguments(sub.add_parser(command, help=help_text))
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
