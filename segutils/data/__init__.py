"""Data on disk and in memory: class tables, mask formats, folder datasets, the built-in dataset
and the ``tf.data`` pipeline.

The pipeline (``segutils.data.pipeline``) imports TensorFlow; everything else here needs only
NumPy and Pillow, so it is not imported until used: ``from segutils.data.pipeline import
make_dataset``.
"""

from segutils.data.classes import (  # noqa: F401
    CLASSES_FILE,
    IGNORE_INDEX,
    ClassInfo,
    class_frequencies,
    class_pixel_counts,
    colors_to_ids,
    ids_to_colors,
)
from segutils.data.datasets import available  # noqa: F401,E402
from segutils.data.folders import Pair, available_splits, find_pairs, load_classes  # noqa: F401
from segutils.data.io import read_image, read_mask, write_image, write_mask  # noqa: F401
from segutils.data.source import load_dataset, open_source  # noqa: F401,E402
