"""Class names, colours and the conversions between colour masks and class-ID masks.

A segmentation mask in this course is an integer array of class IDs, shape (H, W), dtype uint8,
where 255 means "ignore this pixel". Colours exist only for people to look at: a palette maps
ID -> colour for drawing, and :func:`colors_to_ids` maps a colour-coded mask back to IDs, failing
loudly on any colour it does not know.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from segutils.errors import DatasetError

IGNORE_INDEX = 255
#: Colour used to draw ignored pixels.
IGNORE_COLOR = (0, 0, 0)
CLASSES_FILE = "classes.json"


@dataclasses.dataclass(frozen=True)
class ClassInfo:
    """The classes of a dataset: names and drawing colours, indexed by class ID."""

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    ignore_index: int = IGNORE_INDEX

    def __post_init__(self):
        if len(self.names) != len(self.colors):
            raise ValueError(f"{len(self.names)} class names but {len(self.colors)} colours")
        if not 0 < len(self.names) <= self.ignore_index:
            raise ValueError(f"need 1 to {self.ignore_index} classes, got {len(self.names)}")
        if len(set(map(tuple, self.colors))) != len(self.colors):
            raise ValueError("two classes share a colour; colour masks could not be decoded")

    @property
    def n_classes(self) -> int:
        return len(self.names)

    def palette(self) -> np.ndarray:
        """A (256, 3) uint8 lookup table: row i is the colour of ID i (ignore and unused: black)."""
        table = np.zeros((256, 3), np.uint8)
        table[: self.n_classes] = np.asarray(self.colors, np.uint8)
        table[self.ignore_index] = IGNORE_COLOR
        return table

    def to_json(self) -> dict:
        return {
            "classes": [
                {"id": i, "name": n, "color": list(c)}
                for i, (n, c) in enumerate(zip(self.names, self.colors, strict=True))
            ],
            "ignore_index": self.ignore_index,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``classes.json`` (into ``path`` when it is a folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / CLASSES_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ClassInfo:
        """Read ``classes.json`` (from ``path`` when it is a folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / CLASSES_FILE
        if not path.is_file():
            raise DatasetError(
                path,
                "no classes file",
                f"write a {CLASSES_FILE} with the class names and colours "
                "(see data/README.md), or pass the class names to the function you called",
            )
        try:
            doc = json.loads(path.read_text())
            entries = sorted(doc["classes"], key=lambda e: e["id"])
            if [e["id"] for e in entries] != list(range(len(entries))):
                raise ValueError("class IDs must be 0, 1, 2, ... without gaps")
            return cls(
                names=tuple(str(e["name"]) for e in entries),
                colors=tuple(tuple(int(v) for v in e["color"]) for e in entries),
                ignore_index=int(doc.get("ignore_index", IGNORE_INDEX)),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(
                path, f"the classes file cannot be read ({err})", "fix the JSON; see data/README.md"
            ) from err


def ids_to_colors(mask: np.ndarray, colors: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """Colour a class-ID mask: (H, W) integer IDs -> (H, W, 3) uint8 RGB.

    ``colors`` is a list of (r, g, b), one per class, or a (256, 3) palette. IDs without a
    colour (ignore, unused) are drawn black.
    """
    table = np.zeros((256, 3), np.uint8)
    colors = np.asarray(colors, np.uint8).reshape(-1, 3)
    table[: len(colors)] = colors[:256]
    mask = np.asarray(mask)
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError("class IDs must lie in 0..255")
    return table[mask.astype(np.uint8)]


def colors_to_ids(
    rgb: np.ndarray,
    colors: Sequence[Sequence[int]],
    *,
    ignore_colors: Iterable[Sequence[int]] = (),
    ignore_index: int = IGNORE_INDEX,
    path: str | Path | None = None,
) -> np.ndarray:
    """Decode a colour-coded mask: (H, W, 3) RGB -> (H, W) uint8 class IDs.

    Pixel colour ``colors[i]`` becomes ID ``i``; a colour in ``ignore_colors`` becomes
    ``ignore_index``. Any other colour is an error that lists the unknown colours and how many
    pixels have each, never a silent background pixel. ``path`` only names the file in errors.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise DatasetError(path, f"expected an (H, W, 3) colour mask, got shape {rgb.shape}",
                           "pass the RGB mask; for a class-ID mask no conversion is needed")
    # One integer per colour makes the lookup a single vectorised search.
    codes = _color_codes(rgb.reshape(-1, 3))
    known = [(c, i) for i, c in enumerate(colors)]
    known += [(c, ignore_index) for c in ignore_colors]
    known_codes = _color_codes(np.asarray([c for c, _ in known], np.int64).reshape(-1, 3))
    known_ids = np.asarray([i for _, i in known], np.uint8)
    order = np.argsort(known_codes, kind="stable")
    known_codes, known_ids = known_codes[order], known_ids[order]
    pos = np.clip(np.searchsorted(known_codes, codes), 0, len(known_codes) - 1)
    hit = known_codes[pos] == codes
    if not hit.all():
        bad, counts = np.unique(codes[~hit], return_counts=True)
        top = np.argsort(-counts)[:10]
        listed = ", ".join(
            f"{tuple(int(v) for v in _code_color(bad[j]))}: {counts[j]} px" for j in top
        )
        more = f" and {len(bad) - len(top)} more" if len(bad) > len(top) else ""
        raise DatasetError(
            path,
            f"{len(bad)} colour(s) not in the colour table: {listed}{more}",
            "add the colours to the class table (or to ignore_colors); if the mask was saved as "
            "JPEG or resized with interpolation, re-export it as PNG with nearest-neighbour "
            "resizing",
        )
    return known_ids[pos].reshape(rgb.shape[:2])


def _color_codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def _code_color(code: int) -> tuple[int, int, int]:
    code = int(code)
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


def class_pixel_counts(
    masks: Iterable[np.ndarray], n_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Pixels of each class summed over ``masks`` (one at a time: masks may be a generator).

    Ignored pixels are not counted. An ID that is neither a class nor ``ignore_index`` is an
    error: it means the mask and the class list disagree.
    """
    counts = np.zeros(n_classes, np.int64)
    for k, mask in enumerate(masks):
        ids = np.asarray(mask).ravel()
        hist = np.bincount(ids.astype(np.int64), minlength=256)
        if ignore_index < 256:
            hist[ignore_index] = 0
        if hist[n_classes:].any():
            bad = np.flatnonzero(hist[n_classes:]) + n_classes
            raise ValueError(
                f"mask {k} holds IDs {bad.tolist()} but there are only {n_classes} classes "
                f"(IDs 0..{n_classes - 1}, {ignore_index} = ignore)"
            )
        counts += hist[:n_classes]
    return counts


def class_frequencies(
    masks: Iterable[np.ndarray], n_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Fraction of all non-ignored pixels that belong to each class (sums to 1)."""
    counts = class_pixel_counts(masks, n_classes, ignore_index)
    total = counts.sum()
    if total == 0:
        raise ValueError("no labelled pixels: every pixel is ignored or there are no masks")
    return counts / total
