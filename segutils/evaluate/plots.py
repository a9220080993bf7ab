"""Figures of an evaluation: where the confusion is, which classes fail, which images fail.

Each function returns a matplotlib figure (a notebook shows it, a script saves it).
"""

from __future__ import annotations

import numpy as np

from segutils.data.classes import ClassInfo


def normalise_confusion(cm: np.ndarray, normalize: str | None = "true") -> np.ndarray:
    """Row-normalised (``"true"``: each row sums to 1, the diagonal is the recall),
    column-normalised (``"pred"``: the diagonal is the precision) or raw counts (None).

    Rows or columns without pixels stay 0 rather than NaN.
    """
    cm = np.asarray(cm, np.float64)
    if normalize is None:
        return cm
    axis = {"true": 1, "pred": 0}.get(normalize)
    if axis is None:
        raise ValueError(f"normalize is 'true', 'pred' or None, got {normalize!r}")
    sums = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, sums, out=np.zeros_like(cm), where=sums > 0)


def plot_confusion_matrix(cm: np.ndarray, classes: ClassInfo, *, normalize: str | None = "true",
                          ax=None, annotate: bool | None = None, cmap: str = "Blues"):
    """The confusion matrix as an image with class names on both axes.

    With the default row normalisation, cell (i, j) is the share of class i's pixels predicted
    as class j: the diagonal is each class's recall and a bright off-diagonal cell names the
    class it is mistaken for. Values are written in the cells when there are at most 12 classes.
    """
    import matplotlib.pyplot as plt

    values = normalise_confusion(cm, normalize)
    n = len(values)
    if ax is None:
        side = 1.2 + 0.45 * n
        _, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [f"{i} {name}" for i, name in enumerate(classes.names)]
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    title = {"true": "share of each true class", "pred": "share of each predicted class",
             None: "pixel counts"}[normalize]
    ax.set_title(f"Confusion matrix ({title})", fontsize=10)
    if annotate if annotate is not None else n <= 12:
        for i in range(n):
            for j in range(n):
                v = values[i, j]
                text = f"{v:.2f}" if normalize else f"{int(v)}"
                if normalize and v < 0.005:
                    text = "0"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if (v > 0.6 if normalize else v > values.max() / 2)
                        else "black")
    ax.figure.tight_layout()
    return ax.figure


def plot_per_class_iou(report, *, ax=None, sort: bool = False):
    """Horizontal bars of each class's IoU in the class colours, with the mean IoU as a line.

    Classes absent from truth and prediction have no bar and are marked "absent"; ``sort``
    orders the classes from worst to best.
    """
    import matplotlib.pyplot as plt

    rows = report.per_class()
    if sort:
        rows = sorted(rows, key=lambda r: -1.0 if r["iou"] is None else r["iou"])
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.9 + 0.35 * len(rows)))
    y = np.arange(len(rows))[::-1]
    ious = [0.0 if r["iou"] is None else r["iou"] for r in rows]
    colours = [np.asarray(report.classes.colors[r["id"]]) / 255.0 for r in rows]
    ax.barh(y, ious, color=colours, edgecolor="black", linewidth=0.5)
    for yi, r in zip(y, rows, strict=True):
        label = "absent" if r["iou"] is None else f"{r['iou']:.2f}"
        ax.text((r["iou"] or 0) + 0.01, yi, label, va="center", fontsize=8)
    ax.set_yticks(y, [f"{r['id']} {r['name']}" for r in rows], fontsize=8)
    ax.axvline(report.mean_iou, color="black", linestyle="--", linewidth=1)
    ax.text(report.mean_iou, y.max() + 0.7, f" mean IoU {report.mean_iou:.3f}", fontsize=8,
            va="center")
    ax.set_xlim(0, 1.1)
    ax.set_ylim(-0.6, len(rows) + 0.2)
    ax.set_xlabel("IoU")
    ax.set_title("IoU per class", fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


#: The colour of wrong pixels in :func:`error_map`: cyan, far from every class colour of the
#: course's datasets (built-in, CamVid, VOC, Cityscapes, KITTI, Pets), so a mistake is never
#: read as a class.
ERROR_COLOR = (0, 255, 255)
_RIGHT_COLOR = (200, 200, 200)
_IGNORED_COLOR = (0, 0, 0)  # as in every coloured mask of the course


def error_map(mask: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """RGB picture of the mistakes: wrong pixels :data:`ERROR_COLOR` (cyan), right ones grey,
    ignored ones black (as in every coloured mask of the course)."""
    out = np.full((*mask.shape, 3), _RIGHT_COLOR, np.uint8)
    out[(mask != prediction)] = ERROR_COLOR
    out[mask == 255] = _IGNORED_COLOR
    return out


def plot_worst(report, *, k: int | None = None, alpha: float = 0.5, size: float = 2.0):
    """The worst images of the evaluation: image | truth | prediction | errors, one per row.

    The title of each row gives the image's position in the dataset and its own mean IoU.
    """
    import matplotlib.pyplot as plt

    from segutils import viz

    cases = report.worst[:k] if k else report.worst
    if not cases:
        raise ValueError("the report kept no images; evaluate with worst_k > 0")
    fig, axes = plt.subplots(len(cases), 4, figsize=(4 * size + 1.6, len(cases) * size),
                             squeeze=False)
    titles = ("image", "truth", "prediction", "errors")
    for row, case in enumerate(cases):
        panels = (case.image, viz.overlay(case.image, case.mask, report.classes, alpha),
                  viz.overlay(case.image, case.prediction, report.classes, alpha),
                  error_map(case.mask, case.prediction))
        for col, (ax, panel) in enumerate(zip(axes[row], panels, strict=True)):
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=9)
        axes[row, 0].set_ylabel(f"#{case.index}\nIoU {case.iou:.2f}", fontsize=8)
    from matplotlib.patches import Patch

    error_key = [Patch(facecolor=np.array(c) / 255, edgecolor="black", linewidth=0.5, label=text)
                 for c, text in ((ERROR_COLOR, "errors: wrong"), (_RIGHT_COLOR, "errors: right"),
                                 (_IGNORED_COLOR, "not labelled"))]
    fig.legend(handles=viz.legend_handles(report.classes) + error_key, loc="center right",
               frameon=False)
    fig.subplots_adjust(left=0.05, right=1 - 1.7 / (4 * size + 1.6), wspace=0.04, hspace=0.06)
    return fig
