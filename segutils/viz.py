"""Drawing helpers shared by every notebook: coloured masks, overlays, contours, legends, sample
grids and class statistics.

Colours always come from the dataset's :class:`~segutils.data.classes.ClassInfo`, so a class has
the same colour in every figure of the course. Ignored pixels (255) are drawn black in coloured
masks and left unblended in overlays. Everything that returns an array works without matplotlib,
so the command line and the widgets can use it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from segutils.data.classes import ClassInfo, ids_to_colors

#: The course's figure style: 100 dpi, so a 7.5-inch figure is 750 pixels wide and fills a
#: JupyterLab cell without being shrunk, and text no smaller than 9 points at that size.
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.grid": False,
}


def use_style() -> dict:
    """Apply :data:`STYLE` to matplotlib (every notebook's Setup cell calls this); returns it."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return dict(STYLE)


def colorize(mask: np.ndarray, classes: ClassInfo) -> np.ndarray:
    """(H, W) class IDs -> (H, W, 3) uint8 colours of the class table."""
    return ids_to_colors(mask, classes.palette())


def _as_uint8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.asarray(img, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return img


def overlay(image: np.ndarray, mask: np.ndarray, classes: ClassInfo,
            alpha: float = 0.5, *, show: Sequence[int] | None = None,
            contours: bool = False) -> np.ndarray:
    """Blend the class colours over the image: ``(1 - alpha) * image + alpha * colour``.

    ``image`` is uint8 in 0..255 or float in [0, 1]; the result is uint8. Ignored pixels keep
    the image's own colour so the eye can tell "not labelled" from a class. ``show`` lists the
    class IDs to colour (default: all); the others stay unblended too. With ``contours`` the
    class boundaries are drawn on top in full colour, which shows whether a mask's edges sit on
    the object's edges even when ``alpha`` is small.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = _as_uint8(image)
    mask = np.asarray(mask)
    if img.shape[:2] != mask.shape:
        raise ValueError(f"image is {img.shape[:2]} but mask is {mask.shape}")
    colours = colorize(mask, classes).astype(np.float32)
    blended = (1.0 - alpha) * img.astype(np.float32) + alpha * colours
    out = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    keep = _hidden(mask, classes, show)
    out[keep] = img[keep]
    if contours:
        edge = boundaries(mask) & ~keep
        out[edge] = colours[edge].astype(np.uint8)
    return out


def _hidden(mask: np.ndarray, classes: ClassInfo, show: Sequence[int] | None) -> np.ndarray:
    """Pixels an overlay leaves as they are: ignored ones and classes not in ``show``."""
    hidden = mask == classes.ignore_index
    if show is not None:
        hidden |= ~np.isin(mask, np.asarray(list(show), np.int64))
    return hidden


def boundaries(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose left, right, upper or lower neighbour has another ID.

    Both sides of a boundary are marked, so each class outlines itself in its own colour.
    """
    mask = np.asarray(mask)
    edge = np.zeros(mask.shape, bool)
    horizontal = mask[:, 1:] != mask[:, :-1]
    vertical = mask[1:, :] != mask[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return edge


def draw_contours(image: np.ndarray, mask: np.ndarray, classes: ClassInfo,
                  color: Sequence[int] | None = None) -> np.ndarray:
    """The image with the mask's class boundaries drawn on it (uint8 (H, W, 3)).

    Each boundary pixel takes its class colour, or ``color`` for all; ignored pixels are skipped.
    """
    out = _as_uint8(image).copy()
    mask = np.asarray(mask)
    edge = boundaries(mask) & (mask != classes.ignore_index)
    out[edge] = colorize(mask, classes)[edge] if color is None else np.asarray(color, np.uint8)
    return out


def side_by_side(image: np.ndarray, mask: np.ndarray, classes: ClassInfo, alpha: float = 0.5,
                 *, gap: int = 2, contours: bool = False) -> np.ndarray:
    """One uint8 picture: image | coloured mask | overlay, separated by ``gap`` white columns."""
    img = _as_uint8(image)
    panels = [img, colorize(mask, classes), overlay(img, mask, classes, alpha, contours=contours)]
    white = np.full((img.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([panels[0], white, panels[1], white, panels[2]], axis=1)


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC palette, (n, 3) uint8: bit k of the index sets bit 7 - k // 3 of r, g or b
    (k % 3 = 0, 1, 2). Used when a dataset has no colour table of its own."""
    ids = np.arange(n)
    table = np.zeros((n, 3), np.int64)
    for k in range(24):
        table[:, k % 3] |= ((ids >> k) & 1) << (7 - k // 3)
    return table.astype(np.uint8)


def default_classes(n_classes: int) -> ClassInfo:
    """Classes named ``class 0``, ``class 1``, ... with VOC colours, for datasets without a
    ``classes.json``."""
    colors = tuple(tuple(int(v) for v in c) for c in voc_palette(n_classes))
    return ClassInfo(tuple(f"class {i}" for i in range(n_classes)), colors)


def legend_handles(classes: ClassInfo, present: Sequence[int] | None = None):
    """Matplotlib patches, one per class (or per class ID in ``present``), for ``ax.legend``."""
    from matplotlib.patches import Patch

    ids = range(classes.n_classes) if present is None else sorted(set(present))
    return [
        Patch(facecolor=np.asarray(classes.colors[i]) / 255.0, edgecolor="black", linewidth=0.5,
              label=f"{i} {classes.names[i]}")
        for i in ids if i < classes.n_classes
    ]


def show_samples(images, masks, classes: ClassInfo, *, titles: Sequence[str] | None = None,
                 max_rows: int = 4, alpha: float = 0.5, size: float = 2.2):
    """A grid with one row per sample: image | coloured mask | overlay, and a class legend.

    Returns the matplotlib figure (the notebook shows it).
    """
    import matplotlib.pyplot as plt

    n = min(len(images), max_rows)
    fig, axes = plt.subplots(n, 3, figsize=(3 * size + 1.6, n * size), squeeze=False)
    for row in range(n):
        image, mask = np.asarray(images[row]), np.asarray(masks[row])
        panels = (image, colorize(mask, classes), overlay(image, mask, classes, alpha))
        for col, (ax, panel) in enumerate(zip(axes[row], panels, strict=True)):
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(("image", "mask (class IDs)", "overlay")[col], fontsize=9)
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row], fontsize=8)
    fig.legend(handles=legend_handles(classes), loc="center right", fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.02, right=1 - 1.5 / (3 * size + 1.6), wspace=0.04, hspace=0.04)
    return fig


def plot_class_stats(pixel_counts: np.ndarray, presence: np.ndarray, classes: ClassInfo, *,
                     n_images: int | None = None, sizes: Mapping | None = None, title: str = ""):
    """Bar charts of each class's share of the labelled pixels (log scale) and of the images
    it appears in, in the class colours, plus a histogram of image sizes when ``sizes``
    (a mapping (h, w) -> count) holds more than one size. Returns the figure."""
    import matplotlib.pyplot as plt

    counts = np.asarray(pixel_counts, np.float64)
    presence = np.asarray(presence, np.float64)
    several = sizes is not None and len(sizes) > 1
    fig, axes = plt.subplots(1, 3 if several else 2, figsize=(11 if several else 8.5, 3.2))
    colours = np.asarray(classes.colors[: len(counts)]) / 255
    names = list(classes.names[: len(counts)])
    share = counts / counts.sum() if counts.sum() else counts
    axes[0].bar(names, share, color=colours, edgecolor="black", linewidth=0.5)
    axes[0].set_yscale("log")
    axes[0].set_title("share of labelled pixels (log)", fontsize=9)
    n = n_images or max(presence.max(initial=0), 1)
    axes[1].bar(names, presence / n, color=colours, edgecolor="black", linewidth=0.5)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title(f"share of the {int(n)} images containing the class", fontsize=9)
    for ax in axes[:2]:
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    if several:
        areas = [h * w for (h, w), c in sizes.items() for _ in range(c)]
        axes[2].hist(areas, bins=20, color="grey")
        axes[2].set_title("image sizes (pixels per image)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
