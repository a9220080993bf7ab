"""Interactive helpers for notebooks (ipywidgets), built so that tests can drive them.

* :class:`DatasetBrowser` (:mod:`segutils.widgets.browser`) pages through a dataset folder.
* :class:`AugmentationPlayground` (:mod:`segutils.widgets.augment`) tries augmenters on it; it
  imports imgaug, so it loads only when asked for.

Every control calls the widget's ``render``, which keeps the arrays it drew, so a test can move a
control and look at pixels without a browser. Pictures go to an ``ipywidgets.Image`` as PNG
bytes, which JupyterLab, Jupyter Notebook and Colab all display.
"""

from __future__ import annotations

from segutils.widgets.base import TextFallback, png_bytes
from segutils.widgets.browser import DatasetBrowser

__all__ = ["AugmentationPlayground", "DatasetBrowser", "TextFallback", "png_bytes"]


def __getattr__(name):
    if name == "AugmentationPlayground":
        from segutils.widgets.augment import AugmentationPlayground

        return AugmentationPlayground
    raise AttributeError(f"module 'segutils.widgets' has no attribute {name!r}")
