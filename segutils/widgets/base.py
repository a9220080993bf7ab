"""What the course's widgets share: PNG encoding for ``ipywidgets.Image`` and a text fallback."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 (H, W, 3) array as PNG bytes (fast settings: this runs on every change)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, np.uint8)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class TextFallback:
    """Mixin for the course's widgets: a short text where a page cannot show widgets.

    GitHub and nbviewer render only ``text/plain`` of a widget; the class's ``__repr__`` then
    says what the widget shows instead of Jupyter's generic placeholder.
    """

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)
        return bundle
