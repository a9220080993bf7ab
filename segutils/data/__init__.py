"""Data on disk and in memory: class tables, mask formats, folder datasets, the built-in dataset
and the ``tf.data`` pipeline."""

from segutils.data.classes import (  # noqa: F401
    CLASSES_FILE,
    IGNORE_INDEX,
    ClassInfo,
    class_frequencies,
    class_pixel_counts,
    colors_to_ids,
    ids_to_colors,
)
