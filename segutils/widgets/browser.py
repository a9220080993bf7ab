"""The dataset browser (ipywidgets), built so that tests can drive it.

:class:`DatasetBrowser` pages through a dataset folder: a split selector, an index slider, the
overlay opacity, a contour switch and one checkbox per class. Every control calls
:meth:`DatasetBrowser.render`, which draws with :mod:`segutils.viz` and keeps the arrays it drew
(``image_array``, ``overlay_array``, ``array``), so a test can set a slider and look at pixels
without a browser. The picture goes to an ``ipywidgets.Image`` as PNG bytes, which JupyterLab,
Jupyter Notebook and Colab all display; nothing depends on a matplotlib backend.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from segutils import viz
from segutils.data.classes import ClassInfo
from segutils.data.folders import Pair, available_splits, load_classes, scan_split
from segutils.data.io import read_image, read_mask
from segutils.errors import DatasetError
from segutils.widgets.base import TextFallback, png_bytes


class DatasetBrowser(TextFallback):
    """Browse image/mask pairs of ``root`` with the overlay drawn in the class colours.

    Parameters
    ----------
    root: a dataset folder (either layout of :mod:`segutils.data.folders`).
    classes: class names and colours; default ``root/classes.json``.
    alpha: starting overlay opacity.
    min_height: the picture is enlarged by a whole factor (nearest neighbour, so mask edges stay
        sharp) until it is at least this many pixels high.

    Use ``browser.widget`` (or let the browser be a cell's last expression) to show it. Pairs with
    problems are skipped: run :func:`segutils.validate.verify_dataset` to see them.
    """

    def __init__(self, root: str | Path, classes: ClassInfo | None = None, *,
                 alpha: float = 0.5, min_height: int = 256):
        import ipywidgets as w

        self.root = Path(root)
        self.classes = classes or load_classes(self.root)
        if self.classes is None:
            raise DatasetError(self.root / "classes.json", "no class table for the colours",
                               "pass classes=ClassInfo(...) or write a classes.json")
        self.min_height = int(min_height)
        self.pairs: dict[str, list[Pair]] = {}
        for split in available_splits(self.root):
            try:
                pairs = scan_split(self.root, split)[0]
            except DatasetError:  # e.g. a split with only an image folder
                continue
            if pairs:
                self.pairs[split] = pairs
        if not self.pairs:
            raise DatasetError(self.root, "no usable image/mask pairs to browse",
                               "run segutils.validate.verify_dataset(root) to see why")
        first = next(iter(self.pairs))
        self.split = w.Dropdown(options=list(self.pairs), value=first, description="split")
        self.index = w.IntSlider(value=0, min=0, max=len(self.pairs[first]) - 1,
                                 description="index", continuous_update=False)
        self.opacity = w.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05,
                                     description="opacity", continuous_update=False)
        self.contours = w.Checkbox(value=False, description="contours", indent=False)
        self.class_boxes = [w.Checkbox(value=True, description=f"{i} {name}", indent=False,
                                       layout=w.Layout(width="auto"))
                            for i, name in enumerate(self.classes.names)]
        self.picture = w.Image(format="png")
        self.info = w.HTML()
        self.split.observe(self.on_split, names="value")
        for control in (self.index, self.opacity, self.contours, *self.class_boxes):
            control.observe(self.render, names="value")
        self.widget = w.VBox([
            w.HBox([self.split, self.index]),
            w.HBox([self.opacity, self.contours]),
            w.HBox(self.class_boxes, layout=w.Layout(flex_flow="row wrap")),
            self.picture,
            self.info,
        ])
        self._cache: tuple[Path, np.ndarray, np.ndarray] | None = None
        self.render()

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {len(p)}" for s, p in self.pairs.items())
        return f"DatasetBrowser({self.root.name}: pairs {counts})"

    @property
    def pair(self) -> Pair:
        return self.pairs[self.split.value][self.index.value]

    @property
    def shown(self) -> list[int]:
        """The class IDs whose checkbox is ticked."""
        return [i for i, box in enumerate(self.class_boxes) if box.value]

    def show_only(self, *class_ids: int) -> None:
        """Tick the given classes and untick the others (renders once per change)."""
        for i, box in enumerate(self.class_boxes):
            box.value = i in class_ids

    def on_split(self, change=None) -> None:
        """A new split: reset the slider to its range and show the first pair."""
        n = len(self.pairs[self.split.value])
        with self.index.hold_trait_notifications():
            self.index.value = 0
            self.index.max = n - 1
        self.render()

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pair
        if self._cache is None or self._cache[0] != pair.image:
            self._cache = (pair.image, read_image(pair.image), read_mask(pair.mask))
        return self._cache[1], self._cache[2]

    def render(self, change=None) -> np.ndarray:
        """Draw the current pair: image | overlay. Returns the drawn array (before enlarging)."""
        image, mask = self._arrays()
        self.image_array = image
        self.overlay_array = viz.overlay(image, mask, self.classes, float(self.opacity.value),
                                         show=self.shown, contours=bool(self.contours.value))
        gap = np.full((image.shape[0], 4, 3), 255, np.uint8)
        self.array = np.concatenate([image, gap, self.overlay_array], axis=1)
        zoom = max(1, -(-self.min_height // image.shape[0]))
        big = self.array.repeat(zoom, axis=0).repeat(zoom, axis=1)
        self.picture.value = png_bytes(big)
        self.picture.width, self.picture.height = big.shape[1], big.shape[0]
        self.info.value = self._legend(mask)
        return self.array

    def _legend(self, mask: np.ndarray) -> str:
        counts = np.bincount(mask.ravel(), minlength=256)
        items = []
        for i in np.flatnonzero(counts[: self.classes.n_classes]):
            r, g, b = self.classes.colors[i]
            items.append(
                f'<span style="display:inline-block;width:0.9em;height:0.9em;'
                f'background:rgb({r},{g},{b});border:1px solid #333"></span> '
                f"{html.escape(self.classes.names[i])} {counts[i] / mask.size:.1%}")
        ignored = counts[self.classes.ignore_index]
        if ignored:
            items.append(f"ignored {ignored / mask.size:.1%}")
        name = html.escape(self.pair.stem)
        return (f"<b>{html.escape(self.split.value)}/{name}</b> ({mask.shape[0]}x"
                f"{mask.shape[1]}): " + " &nbsp; ".join(items))
