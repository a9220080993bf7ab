"""segutils: the small, tested library behind the course *Semantic Segmentation with Keras*.

One module per stage of the course (see the README's course map). Importing ``segutils`` is
cheap: TensorFlow and Keras are imported only by the modules that need them, so a notebook can
call :func:`segutils.config.import_quietly` first and keep TensorFlow's start-up lines out of
its outputs.
"""

__version__ = "0.1.0"

from segutils import config, errors  # noqa: E402,F401
