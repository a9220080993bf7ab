"""Segmentation metrics from one confusion matrix, as defined in the FCN paper (section 5).

* :mod:`segutils.metrics.fcn`: :func:`confusion_matrix` and :func:`scores` (pixel accuracy, mean
  accuracy, per-class and mean IoU, frequency-weighted IoU) in NumPy.
* :mod:`segutils.metrics.streaming`: :class:`MeanIoU` and :class:`ClassIoU` for
  ``model.compile``, the same numbers accumulated batch by batch. They load on first use
  (``from segutils.metrics import MeanIoU``), so the NumPy functions work without Keras.
"""

from __future__ import annotations

from segutils.metrics.fcn import confusion_matrix, scores

__all__ = ["ClassIoU", "MeanIoU", "confusion_matrix", "scores"]

_STREAMING = {"MeanIoU", "ClassIoU"}


def __getattr__(name):
    if name in _STREAMING:
        from segutils.metrics import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module 'segutils.metrics' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _STREAMING)
