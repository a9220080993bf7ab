"""An augmentation playground (ipywidgets): pick augmenters and strengths, see what they do.

:class:`AugmentationPlayground` shows one image of a dataset and several augmented versions of
it, each with its mask drawn over it, so a learner sees at once that geometric augmenters move
the mask with the image and photometric ones leave it alone, and where added pixels become
"ignore" (they stay uncoloured). Controls: a preset menu (``custom``, ``light``, ``medium``,
``heavy``), one checkbox, strength slider and probability slider per course augmenter, the image
index, the number of samples, the overlay opacity and a "re-draw" button.

Choosing a preset ticks exactly its augmenters and sets their strengths and probabilities from
``segutils.augment.PRESET_STEPS``, the table :func:`segutils.augment.preset` is built from, so
what is ticked is what is applied; changing any control then starts a ``custom`` choice from
that state, so nothing of the preset is silently dropped.

Every control calls :meth:`AugmentationPlayground.render`, which keeps what it drew
(``draws``: the augmented (image, mask) pairs; ``array``: the whole picture), so tests can move a
slider or press the button and look at pixels without a browser. The same settings and the same
number of re-draws give the same pictures.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from segutils import viz
from segutils.augment import core
from segutils.data.classes import ClassInfo
from segutils.data.folders import find_pairs, load_classes
from segutils.data.io import read_image, read_mask
from segutils.errors import DatasetError
from segutils.widgets.base import TextFallback, png_bytes

CUSTOM = "custom"


def tile(pictures: list[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Equal-sized uint8 (H, W, 3) pictures in a grid, ``gap`` white pixels apart."""
    h, w = pictures[0].shape[:2]
    rows = -(-len(pictures) // columns)
    out = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), 255,
                  np.uint8)
    for k, picture in enumerate(pictures):
        r, c = divmod(k, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = picture
    return out


class AugmentationPlayground(TextFallback):
    """Try augmenters on the images of ``root`` (a dataset folder).

    Parameters
    ----------
    root: a dataset folder; ``split`` chooses which of its splits to show.
    classes: class names and colours; default ``root/classes.json``.
    samples: how many augmented versions to draw at first.
    columns: pictures per row (the first picture is the original).
    seed: the first draw's seed; "re-draw" moves on from it.
    zoom: each picture is enlarged by this whole factor (nearest neighbour, edges stay sharp).
    """

    def __init__(self, root: str | Path, classes: ClassInfo | None = None, *,
                 split: str = "train", samples: int = 5, columns: int = 3, seed: int = 0,
                 zoom: int = 2, alpha: float = 0.45):
        import ipywidgets as w

        self.root = Path(root)
        self.classes = classes or load_classes(self.root)
        if self.classes is None:
            raise DatasetError(self.root / "classes.json", "no class table for the colours",
                               "pass classes=ClassInfo(...) or write a classes.json")
        self.pairs = find_pairs(self.root, split)
        self.columns, self.zoom, self.seed = int(columns), int(zoom), int(seed)
        self.redraws = 0
        table = core.transforms()
        self.preset = w.Dropdown(options=[CUSTOM, *core.PRESETS], value="light",
                                 description="preset")
        self.index = w.IntSlider(value=0, min=0, max=len(self.pairs) - 1, description="image",
                                 continuous_update=False)
        self.samples = w.IntSlider(value=samples, min=1, max=11, description="samples",
                                   continuous_update=False)
        self.opacity = w.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05,
                                     description="opacity", continuous_update=False)
        self.redraw = w.Button(description="re-draw", icon="refresh")
        self.boxes = {name: w.Checkbox(value=False, description=name, indent=False,
                                       tooltip=t.about, layout=w.Layout(width="110px"))
                      for name, t in table.items()}
        self.strengths = {name: w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05,
                                              readout_format=".2f", continuous_update=False,
                                              tooltip="strength",
                                              layout=w.Layout(width="200px"))
                          for name in table}
        self.probabilities = {name: w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05,
                                                  description="p", readout_format=".2f",
                                                  continuous_update=False,
                                                  tooltip="share of the images it is applied to",
                                                  style={"description_width": "initial"},
                                                  layout=w.Layout(width="170px"))
                              for name in table}
        self.picture = w.Image(format="png")
        self.info = w.HTML()

        def column(geometric: bool, title: str):
            rows = [w.HBox([self.boxes[n], self.strengths[n], self.probabilities[n]])
                    for n, t in table.items() if t.geometric == geometric]
            return w.VBox([w.HTML(f"<b>{title}</b>"), *rows])

        self.widget = w.VBox([
            w.HBox([self.preset, self.index]),
            w.HBox([self.samples, self.opacity, self.redraw]),
            w.HBox([column(True, "geometric: the mask moves too"),
                    column(False, "photometric: the mask stays")]),
            self.picture,
            self.info,
        ])
        self._updating = False
        self.preset.observe(self.on_preset, names="value")
        for control in (*self.boxes.values(), *self.strengths.values(),
                        *self.probabilities.values()):
            control.observe(self.on_custom, names="value")
        for control in (self.index, self.samples, self.opacity):
            control.observe(self.render, names="value")
        self.redraw.on_click(self.on_redraw)
        self.on_preset()

    def __repr__(self) -> str:
        return (f"AugmentationPlayground({self.root.name}: {len(self.pairs)} images, "
                f"{self.spec()!r})")

    # --- what to apply ---------------------------------------------------------------------

    def state(self) -> dict[str, tuple[float, float]]:
        """What the controls show: ``{augmenter: (strength, probability)}`` of the ticked ones."""
        return {n: (float(self.strengths[n].value), float(self.probabilities[n].value))
                for n, box in self.boxes.items() if box.value}

    def spec(self):
        """The current choice: a preset name, or :meth:`state` when ``custom``."""
        return self.preset.value if self.preset.value != CUSTOM else self.state()

    def _show(self, chosen) -> None:
        """Tick exactly the augmenters of ``chosen`` (see :func:`segutils.augment.steps`) and
        set their sliders, without treating it as a change by hand."""
        chosen = core.steps(chosen)
        self._updating = True
        try:
            for n, box in self.boxes.items():
                box.value = n in chosen
                if n in chosen:
                    self.strengths[n].value, self.probabilities[n].value = chosen[n]
        finally:
            self._updating = False

    def choose(self, **chosen: float | tuple[float, float]) -> None:
        """Tick exactly these augmenters, each at a strength or a (strength, probability),
        e.g. ``choose(rotate=0.8, blur=(0.5, 0.3))`` (switches to ``custom``; renders once)."""
        unknown = set(chosen) - set(self.boxes)
        if unknown:
            raise ValueError(f"unknown augmenters {sorted(unknown)}; known: {list(self.boxes)}")
        self._show(chosen)
        self._updating = True
        try:
            self.preset.value = CUSTOM
        finally:
            self._updating = False
        self.render()

    # --- callbacks -------------------------------------------------------------------------

    def on_preset(self, change=None) -> None:
        """A preset was chosen: show its augmenters in the checkboxes and render it."""
        if self.preset.value != CUSTOM:
            self._show(core.PRESET_STEPS[self.preset.value])
        self.render()

    def on_custom(self, change=None) -> None:
        """A checkbox or strength changed by hand: that is a custom choice now."""
        if self._updating:
            return
        if self.preset.value != CUSTOM:
            self._updating = True
            try:
                self.preset.value = CUSTOM
            finally:
                self._updating = False
        self.render()

    def on_redraw(self, button=None) -> None:
        """New random draws with the same settings."""
        self.redraws += 1
        self.render()

    # --- drawing ---------------------------------------------------------------------------

    def _pair(self) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[self.index.value]
        return read_image(pair.image), read_mask(pair.mask)

    def render(self, change=None) -> np.ndarray:
        """Draw the original and the augmented samples; returns the picture (before zoom)."""
        image, mask = self._pair()
        spec = self.spec()
        n = int(self.samples.value)
        if spec:
            runner = core.JointAugmenter(spec, keep_size=True)
            images, masks = runner.batch(np.stack([image] * n), np.stack([mask] * n),
                                         seed=self.seed + self.redraws)
        else:  # nothing ticked: the samples are the original
            images, masks = np.stack([image] * n), np.stack([mask] * n)
        self.draws = list(zip(images, masks, strict=True))
        alpha = float(self.opacity.value)
        pictures = [viz.overlay(image, mask, self.classes, alpha, contours=True)]
        pictures += [viz.overlay(i, m, self.classes, alpha, contours=True) for i, m in self.draws]
        self.array = tile(pictures, self.columns)
        big = self.array.repeat(self.zoom, axis=0).repeat(self.zoom, axis=1)
        self.picture.value = png_bytes(big)
        self.picture.width, self.picture.height = big.shape[1], big.shape[0]
        self.info.value = self._describe(spec, masks)
        return self.array

    def _describe(self, spec, masks: np.ndarray) -> str:
        if not spec:
            what = "nothing ticked: tick an augmenter or choose a preset"
        elif isinstance(spec, str):
            what = f"preset <b>{spec}</b> ({html.escape(core.preset_about(spec))})"
        else:
            what = html.escape(core.describe(spec))
        ignored = [float((m == self.classes.ignore_index).mean()) for m in masks]
        return (f"First picture: the original. Then {len(masks)} draws of {what} "
                f"(re-draw {self.redraws}). Ignored (added) pixels per draw: "
                + ", ".join(f"{v:.0%}" for v in ignored))
