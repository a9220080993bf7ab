"""segutils: the small, tested library behind the course *Semantic Segmentation with Keras*.

One module per stage of the course (see the README's course map). Importing ``segutils`` is
cheap: submodules load on first use (``segutils.viz`` imports ``segutils/viz.py`` when first
touched), and TensorFlow only with the modules that need it, so a notebook can call
:func:`segutils.config.import_quietly` first and keep TensorFlow's start-up lines out of its
outputs.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"augment", "balancing", "cli", "config", "course", "data", "errors", "evaluate",
               "exercises", "losses", "metrics", "models", "student", "train", "upsampling",
               "validate", "viz", "widgets"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"segutils.{name}")
    raise AttributeError(f"module 'segutils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
