"""Check a whole dataset before training on it, and report every problem at once.

Bad labels rarely crash training: a 0/255 mask, an RGB colour mask or a mask one pixel too small
trains quietly and gives a model that is wrong for reasons nobody can see. So
:func:`verify_dataset` reads every file and lists *all* problems (never only the first), each
with the file, a short kind, the details and how to fix it. Errors make a dataset unusable;
warnings describe files that load but may not mean what their author thought.

The checks themselves live where the data is read: pairing, duplicates and header checks in
:mod:`segutils.data.folders`, decoding and mask formats in :mod:`segutils.data.io`. This module
adds what needs the decoded pixels (label range, 0/255 masks, image modes, EXIF orientation),
collects class statistics on the way and formats the report.
"""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from segutils.data.classes import IGNORE_INDEX, class_pixel_counts
from segutils.data.folders import Pair, available_splits, load_classes, scan_split
from segutils.data.io import inspect_image, read_mask
from segutils.errors import DatasetError

ERROR, WARNING = "error", "warning"
#: Every kind of problem: its severity and a short label for tables. Errors first.
KINDS: dict[str, tuple[str, str]] = {
    "no_dataset": (ERROR, "no dataset here"),
    "classes_file": (ERROR, "broken classes.json"),
    "missing_folder": (ERROR, "folder missing"),
    "empty_folder": (ERROR, "empty folder"),
    "missing_mask": (ERROR, "image without mask"),
    "missing_image": (ERROR, "mask without image"),
    "duplicate_stem": (ERROR, "two files, one stem"),
    "unsupported_format": (ERROR, "unsupported format"),
    "empty_file": (ERROR, "zero-byte file"),
    "unreadable": (ERROR, "unreadable file"),
    "truncated": (ERROR, "truncated file"),
    "size_mismatch": (ERROR, "size mismatch"),
    "lossy_mask": (ERROR, "lossy (JPEG) mask"),
    "sixteen_bit_mask": (ERROR, "16-bit mask"),
    "unsupported_mode": (ERROR, "unsupported mask mode"),
    "color_mask": (ERROR, "RGB colour mask"),
    "binary_mask": (ERROR, "0/255 binary mask"),
    "label_out_of_range": (ERROR, "label out of range"),
    "dataset_files": (ERROR, "dataset file missing or not convertible"),
    "no_classes": (WARNING, "number of classes unknown"),
    "exif_orientation": (WARNING, "EXIF orientation tag"),
    "image_mode": (WARNING, "image converted on load"),
}
_MODE_NAMES = {"L": "greyscale", "LA": "greyscale + alpha", "RGBA": "RGBA", "P": "palette",
               "1": "1-bit", "CMYK": "CMYK", "I;16": "16-bit greyscale", "I": "32-bit greyscale"}
_BINARY_FIX = ("divide the mask by 255 (segutils.validate.fix_binary_mask(mask)) and save it "
               "again, so the object is class 1; 255 means 'ignore' in this course")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem: its ``kind`` (a key of :data:`KINDS`), the file, the details, the fix."""

    kind: str
    path: Path | None
    details: str
    fix: str
    split: str | None = None

    @property
    def severity(self) -> str:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        return KINDS[self.kind][1]


@dataclasses.dataclass
class ClassStats:
    """Class statistics of one split, gathered from the masks that passed every check."""

    n_classes: int
    pixel_counts: np.ndarray  # labelled pixels of each class
    presence: np.ndarray  # number of masks in which each class appears
    n_masks: int = 0
    ignored_pixels: int = 0
    sizes: Counter = dataclasses.field(default_factory=Counter)  # (h, w) of the images

    def frequencies(self) -> np.ndarray:
        total = self.pixel_counts.sum()
        return self.pixel_counts / total if total else np.zeros(self.n_classes)

    def size_summary(self) -> str:
        """'128x128 (48 images)', or the range and the most common size when sizes vary."""
        if not self.sizes:
            return "no images"
        (h, w), n = self.sizes.most_common(1)[0]
        if len(self.sizes) == 1:
            return f"{h}x{w} ({n} images)"
        hs, ws = zip(*self.sizes, strict=True)
        return (f"{len(self.sizes)} sizes, heights {min(hs)}..{max(hs)}, widths {min(ws)}.."
                f"{max(ws)}; most common {h}x{w} ({n} of {sum(self.sizes.values())} images)")


@dataclasses.dataclass
class Report:
    """What :func:`verify_dataset` found. ``ok`` is true when there are no errors."""

    root: Path
    problems: list[Problem]
    pairs: dict[str, int]  # pairs found per split (a pair may still have problems)
    stats: dict[str, ClassStats]
    n_classes: int | None
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def by_kind(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def name(self, path: Path | None) -> str:
        """A path relative to the dataset root, as tables show it."""
        if path is None:
            return "-"
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in self.pairs.items()) or "none"
        e, w = len(self.errors), len(self.warnings)
        return (f"{self.root}: pairs {splits}; {e} error{'s' * (e != 1)}, "
                f"{w} warning{'s' * (w != 1)} ({self.seconds:.1f} s)")

    def table(self, max_per_kind: int = 10, width: int = 100) -> str:
        """The problems as text, grouped by kind (errors first), at most ``max_per_kind`` each:
        a row with severity, kind and file, then the details and the fix, wrapped to ``width``."""
        lines = [self.summary()]
        if not self.problems:
            return "\n".join([*lines, "No problems found."])
        col = max(len(k) for k in self.kinds()) + 2
        lines.append(f"{'severity':<9}{'kind':<{col}}file")
        for kind in sorted(self.kinds(), key=list(KINDS).index):
            rows = self.by_kind(kind)
            for p in rows[:max_per_kind]:
                lines.append(f"{p.severity.upper():<9}{kind:<{col}}{self.name(p.path)}")
                for text in (p.details, f"fix: {p.fix}"):
                    lines += textwrap.wrap(text, width, initial_indent=" " * 9,
                                           subsequent_indent=" " * 11)
            if len(rows) > max_per_kind:
                lines.append(f"{'':9}... and {len(rows) - max_per_kind} more "
                             f"({KINDS[kind][1]})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_json(self) -> dict:
        def stats(s: ClassStats) -> dict:
            return {"pixel_counts": s.pixel_counts.tolist(), "presence": s.presence.tolist(),
                    "n_masks": s.n_masks, "ignored_pixels": s.ignored_pixels,
                    "sizes": {f"{h}x{w}": n for (h, w), n in sorted(s.sizes.items())}}

        return {
            "root": str(self.root), "ok": self.ok, "n_classes": self.n_classes,
            "n_errors": len(self.errors), "n_warnings": len(self.warnings),
            "pairs": self.pairs, "seconds": round(self.seconds, 3),
            "problems": [{"severity": p.severity, "kind": p.kind, "split": p.split,
                          "file": self.name(p.path), "details": p.details, "fix": p.fix}
                         for p in self.problems],
            "stats": {split: stats(s) for split, s in self.stats.items()},
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def verify_dataset(root, n_classes: int | None = None,
                   ignore_index: int = IGNORE_INDEX, *, splits: Sequence[str] | None = None,
                   workers: int | None = None) -> Report:
    """Check every file of a dataset and return a :class:`Report`; never raises on bad files or
    folders, it reports them.

    ``root`` is a dataset folder, or a :class:`segutils.data.source.DataSource` (a registered
    dataset such as CamVid or VOC in its own layout: its label files are converted first, and a
    value the conversion does not know is reported like any other problem).
    ``n_classes`` defaults to the length of ``root/classes.json`` (the registered dataset's
    class table); without either, label ranges are not checked (a warning says so). ``splits``
    defaults to every split present. Pairs are checked in ``workers`` threads (Pillow decodes
    without holding the GIL).
    """
    from segutils.data.source import DataSource

    start = time.perf_counter()
    source = root if isinstance(root, DataSource) else None
    root = source.root if source is not None else Path(root)
    problems: list[Problem] = []
    if n_classes is None:
        try:
            info = (source.classes() if source is not None else
                    load_classes(root) if root.is_dir() else None)
        except DatasetError as err:
            info = None
            problems.append(Problem("classes_file", err.path, err.problem, err.fix))
        n_classes = info.n_classes if info is not None else None
        if n_classes is None:
            problems.append(Problem("no_classes", root, "no n_classes given and no classes.json",
                                    "pass n_classes (--n-classes N) to check the label range"))
    report = Report(root, problems, {}, {}, n_classes)
    try:
        if splits is not None:
            splits = list(splits)
        else:
            splits = source.splits() if source is not None else available_splits(root)
    except DatasetError as err:
        problems.append(Problem("no_dataset", err.path, err.problem, err.fix))
        splits = []
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for split in splits:
            try:
                if source is not None and source.registered:
                    pairs, issues = source.pairs(split), []
                else:
                    pairs, issues = scan_split(root, split)
            except DatasetError as err:
                found = getattr(err, "problems", None) or [(err.path, err.problem, err.fix)]
                kind = "no_dataset" if source is None else "dataset_files"
                problems += [Problem(kind, path, what, fix, split) for path, what, fix in found]
                continue
            problems += [Problem(i.kind, i.path, i.problem, i.fix, split) for i in issues]
            seen = {(i.path, i.kind) for i in issues}
            stats = ClassStats(n_classes or 0, np.zeros(n_classes or 0, np.int64),
                               np.zeros(n_classes or 0, np.int64))
            for found, size, mask_stats in pool.map(
                    lambda p: _check_pair(p, n_classes, ignore_index), pairs):
                problems += [Problem(*f, split=split) for f in found if (f[1], f[0]) not in seen]
                if size is not None:
                    stats.sizes[size] += 1
                if mask_stats is not None:
                    stats.pixel_counts += mask_stats[0]
                    stats.presence += mask_stats[0] > 0
                    stats.ignored_pixels += mask_stats[1]
                    stats.n_masks += 1
            report.pairs[split], report.stats[split] = len(pairs), stats
    report.seconds = time.perf_counter() - start
    return report


def _check_pair(pair: Pair, n_classes: int | None, ignore_index: int):
    """Decode one pair. Returns (problems as (kind, path, details, fix) tuples, the image size
    or None, (class pixel counts, ignored pixels) of a clean mask or None)."""
    found: list[tuple] = []
    size = mask_stats = None
    try:
        info = inspect_image(pair.image)
        size = (info.height, info.width)
        if info.mode != "RGB":
            found.append(("image_mode", pair.image,
                          f"{_MODE_NAMES.get(info.mode, info.mode)} image (mode {info.mode}); "
                          "converted to RGB on load", "nothing, if that is what you meant; save "
                          "the image as RGB to make it explicit"))
        if info.orientation != 1:
            found.append(("exif_orientation", pair.image,
                          f"EXIF orientation {info.orientation}: viewers show the image rotated "
                          "or mirrored, segutils reads it as stored; a mask drawn on the rotated "
                          "view would not line up", "rotate the pixels and drop the tag, e.g. "
                          "PIL.ImageOps.exif_transpose(im).save(...), then check the mask"))
    except DatasetError as err:
        found.append((getattr(err, "kind", "unreadable"), pair.image, err.problem, err.fix))
    try:
        ids = read_mask(pair.mask)
    except DatasetError as err:
        kind = getattr(err, "kind", "unreadable")
        details = (_color_details(err.colors, err.counts) if kind == "color_mask"
                   else err.problem)
        found.append((kind, pair.mask, details, err.fix))
        return found, size, None
    problem = label_problem(ids, n_classes, ignore_index)
    if problem is not None:
        found.append((*problem[:1], pair.mask, *problem[1:]))
    elif n_classes:
        hist = np.bincount(ids.ravel(), minlength=256)
        mask_stats = (class_pixel_counts([ids], n_classes, ignore_index), int(hist[ignore_index]))
    return found, size, mask_stats


def _color_details(colors: np.ndarray, counts: np.ndarray, limit: int = 12) -> str:
    listed = ", ".join(f"{tuple(int(v) for v in c)} {n} px"
                       for c, n in zip(colors[:limit], counts[:limit], strict=False))
    more = f" and {len(colors) - limit} more" if len(colors) > limit else ""
    return (f"RGB colour mask where class IDs were expected; {len(colors)} distinct colours: "
            f"{listed}{more}")


def label_problem(mask: np.ndarray, n_classes: int | None, ignore_index: int = IGNORE_INDEX
                  ) -> tuple[str, str, str] | None:
    """(kind, details, fix) when a mask's IDs are wrong: a 0/255 binary mask or IDs outside
    0..n_classes-1 (other than ``ignore_index``); ``None`` when they are fine or unknowable."""
    hist = np.bincount(np.asarray(mask).ravel().astype(np.int64), minlength=256)
    values = np.flatnonzero(hist)
    if values.tolist() == [0, 255] and (n_classes is None or n_classes <= 255):
        share = hist[255] / hist.sum()
        return ("binary_mask", f"the mask holds only 0 and 255 ({share:.1%} of the pixels are "
                "255): a binary mask saved for viewing, so the object is 255 (ignore or out of "
                "range) instead of class 1", _BINARY_FIX)
    if n_classes is None:
        return None
    bad = [int(v) for v in values if v >= n_classes and v != ignore_index]
    if not bad:
        return None
    shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    return ("label_out_of_range", f"IDs {shown} ({int(hist[bad].sum())} pixels) are not classes: "
            f"the classes are 0..{n_classes - 1} and {ignore_index} means ignore",
            "check n_classes and the class table; map the extra IDs to a class or to "
            f"{ignore_index}; if the mask was resized, redo it with nearest neighbour")


def fix_binary_mask(mask: np.ndarray) -> np.ndarray:
    """A 0/255 mask as class IDs 0/1 (uint8); any other mask is returned unchanged (a copy).

    Only masks whose values are exactly 0 and 255 are changed: in a mask that also holds other
    IDs, 255 is a real "ignore" region and must stay.
    """
    mask = np.asarray(mask)
    if np.unique(mask).tolist() == [0, 255]:
        return (mask // 255).astype(np.uint8)
    return mask.copy()


def class_presence(masks: Iterable[np.ndarray], n_classes: int) -> np.ndarray:
    """In how many masks each class appears (at least one pixel), shape (n_classes,) int64.

    IDs outside 0..n_classes-1, such as the ignore label, are not counted.
    """
    presence = np.zeros(n_classes, np.int64)
    for mask in masks:
        hist = np.bincount(np.asarray(mask).ravel().astype(np.int64), minlength=n_classes)
        presence += hist[:n_classes] > 0
    return presence


# --- one-hot labels (the check of seed 001) -------------------------------------------------


def one_hot(mask: np.ndarray, n_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(H, W) IDs -> (H, W, n_classes) float32 with one 1 per pixel; ignored pixels are all 0.

    An ID that is neither a class nor ``ignore_index`` also becomes all zeros, which is exactly
    what :func:`check_one_hot` exists to catch.
    """
    mask = np.asarray(mask)
    labels = (mask[..., None] == np.arange(n_classes)).astype(np.float32)
    labels[mask == ignore_index] = 0.0  # already zero unless ignore_index < n_classes
    return labels


@dataclasses.dataclass(frozen=True)
class OneHotCheck:
    """Result of :func:`check_one_hot`: how many label vectors were checked and how many fail."""

    checked: int
    all_zero: int  # no class at all: the loss sees no target
    several: int  # more than one class: the target is not a probability distribution
    not_binary: int  # values other than 0 and 1 (e.g. a bilinearly resized one-hot label)
    first_bad: tuple[int, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.all_zero == self.several == self.not_binary == 0


def check_one_hot(labels: np.ndarray, valid: np.ndarray | None = None) -> OneHotCheck:
    """Check that every label vector (last axis) of ``labels`` is one-hot.

    Softmax cross-entropy assumes each target row is a probability distribution; a row of zeros
    or with two ones silently gives wrong gradients. ``valid`` (``labels.shape[:-1]``, bool)
    selects the pixels to check, e.g. ``mask != 255``; by default all are checked.
    """
    labels = np.asarray(labels, np.float64)
    valid = np.ones(labels.shape[:-1], bool) if valid is None else np.asarray(valid, bool)
    sums = labels.sum(axis=-1)
    not_binary = ((labels != 0) & (labels != 1)).any(axis=-1) & valid
    zero = (sums == 0) & valid
    several = (sums > 1) & valid & ~not_binary
    bad = np.argwhere(zero | several | not_binary)
    return OneHotCheck(int(valid.sum()), int(zero.sum()), int(several.sum()),
                       int(not_binary.sum()), tuple(int(i) for i in bad[0]) if len(bad) else None)
