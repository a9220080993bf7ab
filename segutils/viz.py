"""Drawing helpers shared by every notebook: coloured masks, overlays, legends and sample grids.

Colours always come from the dataset's :class:`~segutils.data.classes.ClassInfo`, so a class has
the same colour in every figure of the course. Ignored pixels (255) are drawn black in coloured
masks and left unblended in overlays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segutils.data.classes import ClassInfo, ids_to_colors


def colorize(mask: np.ndarray, classes: ClassInfo) -> np.ndarray:
    """(H, W) class IDs -> (H, W, 3) uint8 colours of the class table."""
    return ids_to_colors(mask, classes.palette())


def overlay(image: np.ndarray, mask: np.ndarray, classes: ClassInfo,
            alpha: float = 0.5) -> np.ndarray:
    """Blend the class colours over the image: ``(1 - alpha) * image + alpha * colour``.

    ``image`` is uint8 in 0..255 or float in [0, 1]; the result is uint8. Ignored pixels keep
    the image's own colour so the eye can tell "not labelled" from a class.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.asarray(img, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    mask = np.asarray(mask)
    if img.shape[:2] != mask.shape:
        raise ValueError(f"image is {img.shape[:2]} but mask is {mask.shape}")
    colours = colorize(mask, classes).astype(np.float32)
    blended = (1.0 - alpha) * img.astype(np.float32) + alpha * colours
    blended[mask == classes.ignore_index] = img[mask == classes.ignore_index]
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


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
