"""Finding image/mask pairs in a dataset folder.

Two layouts are recognised, so that a learner can point the course at the folders they already
have::

    course layout                      keras_segmentation layout
    root/train/images/a.png            root/images_prepped_train/a.png
    root/train/masks/a.png             root/annotations_prepped_train/a.png
    root/val/...  root/test/...        root/images_prepped_val/ ...  (and _test)

An image and its mask share a file stem. :func:`find_pairs` checks every file before it returns
and reports *all* problems in one error, because fixing a dataset one error per run is miserable.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from segutils.data.classes import CLASSES_FILE, ClassInfo
from segutils.data.io import SIXTEEN_BIT_MODES, header
from segutils.errors import DatasetError

SPLITS = ("train", "val", "test")
COURSE, KERAS_SEG = "course", "keras_segmentation"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")
MASK_EXTS = (".png", ".bmp")
JPEG_EXTS = (".jpg", ".jpeg")
#: Image formats people have that the pipeline cannot decode; reported, not silently skipped.
UNSUPPORTED_EXTS = (".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm", ".pbm", ".jp2")
#: How many problem lines an error lists before summarising the rest.
MAX_LISTED = 20


class Pair(NamedTuple):
    """One training example on disk: a file stem with its image and mask paths."""

    stem: str
    image: Path
    mask: Path


def _folders(root: Path, layout: str, split: str) -> tuple[Path, Path]:
    if layout == COURSE:
        return root / split / "images", root / split / "masks"
    return root / f"images_prepped_{split}", root / f"annotations_prepped_{split}"


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DatasetError(root, "dataset folder not found" if not root.exists()
                           else "not a folder", "check the path; create the dataset first")


def detect_layout(root: str | Path) -> str:
    """``"course"`` or ``"keras_segmentation"``, from the folder names under ``root``."""
    root = Path(root)
    _check_root(root)
    found = {
        layout for layout in (COURSE, KERAS_SEG) for split in SPLITS
        if any(f.is_dir() for f in _folders(root, layout, split))
    }
    if len(found) == 1:
        return found.pop()
    expected = ("<split>/images/ + <split>/masks/ (course layout) or images_prepped_<split>/ + "
                "annotations_prepped_<split>/ (keras_segmentation layout), split = "
                + ", ".join(SPLITS))
    if not found:
        raise DatasetError(root, "no dataset layout recognised", f"arrange the files as {expected}")
    raise DatasetError(root, "both dataset layouts are present, so it is unclear which to read",
                       f"keep one layout: {expected}")


def available_splits(root: str | Path) -> list[str]:
    """The splits (in train, val, test order) that have an image or a mask folder."""
    root = Path(root)
    layout = detect_layout(root)
    return [s for s in SPLITS if any(f.is_dir() for f in _folders(root, layout, s))]


def load_classes(root: str | Path) -> ClassInfo | None:
    """The dataset's class table from ``root/classes.json``, or ``None`` when there is none."""
    path = Path(root) / CLASSES_FILE
    return ClassInfo.load(path) if path.is_file() else None


class Issue(NamedTuple):
    """One problem found while pairing files: where, what, how to fix, and a short ``kind``.

    ``kind`` (``"missing_mask"``, ``"size_mismatch"``, ...) lets :mod:`segutils.validate`
    group and grade problems without parsing the sentences.
    """

    path: Path
    problem: str
    fix: str
    kind: str


class _Problems:
    """Collects :class:`Issue` entries; raises them together as one DatasetError."""

    def __init__(self, root: Path):
        self.root = root
        self.where = root  # the folder a raised error names
        self.items: list[Issue] = []

    def add(self, path: Path, problem: str, fix: str, kind: str) -> None:
        self.items.append(Issue(path, problem, fix, kind))

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def raise_if_any(self, where: Path, split: str) -> None:
        if not self.items:
            return
        lines = [f"  - {self.name(p)}: {problem}; fix: {fix}"
                 for p, problem, fix, _ in self.items[:MAX_LISTED]]
        if len(self.items) > MAX_LISTED:
            lines.append(f"  ... and {len(self.items) - MAX_LISTED} more")
        n = len(self.items)
        err = DatasetError(
            where,
            f"{n} problem{'s' * (n != 1)} in split {split!r} (paths relative to {self.root}):\n"
            + "\n".join(lines),
            "fix each file as listed, then load the dataset again",
        )
        err.problems = [(p, problem, fix) for p, problem, fix, _ in self.items]
        err.issues = list(self.items)
        raise err


def _scan(folder: Path, exts: tuple[str, ...], role: str, problems: _Problems
          ) -> tuple[dict[str, Path], set[str]]:
    """Files of a folder by stem, and the stems that cannot be used.

    Reports JPEG masks, unsupported formats, duplicate stems, empty files and an empty folder. An
    unusable stem still appears in the first dict (with its first file), so that a missing partner
    is reported against a real file name.
    """
    by_stem: dict[str, list[Path]] = defaultdict(list)
    unusable: set[str] = set()
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        ext = f.suffix.lower()
        if ext in exts:
            by_stem[f.stem].append(f)
            continue
        if role == "mask" and ext in JPEG_EXTS:
            problems.add(f, "JPEG mask: lossy compression changes the class IDs near edges",
                         "re-export the mask as PNG from the original labels", "lossy_mask")
        elif ext in UNSUPPORTED_EXTS:
            problems.add(f, f"unsupported {role} format {ext}", f"convert it to {exts[0]}",
                         "unsupported_format")
        else:
            continue  # README.txt, Thumbs.db, ...: not part of the dataset
        by_stem[f.stem].append(f)
        unusable.add(f.stem)
    if not by_stem:
        problems.add(folder, f"the folder holds no {role} files ({' '.join(exts)})",
                     f"put the {role}s here, or check the path", "empty_folder")
    for stem, paths in by_stem.items():
        good = [p for p in paths if p.suffix.lower() in exts]
        if len(good) > 1:
            names = ", ".join(p.name for p in good)
            problems.add(good[0], f"{len(good)} {role} files share the stem {stem!r} ({names})",
                         "keep one file per stem; delete or rename the others", "duplicate_stem")
            unusable.add(stem)
        elif good and good[0].stat().st_size == 0:
            problems.add(good[0], "empty file (0 bytes)", "copy or export the file again",
                         "empty_file")
    return {stem: paths[0] for stem, paths in by_stem.items()}, unusable


def find_pairs(root: str | Path, split: str, check_sizes: bool = True) -> list[Pair]:
    """All (stem, image, mask) pairs of one split, sorted by stem.

    Every file is checked before anything is returned: missing folders, images without masks and
    masks without images, two files with one stem, JPEG masks, unreadable files and (with
    ``check_sizes``, from the file headers only) images and masks of different sizes and 16-bit
    masks. All problems are raised together as one :class:`~segutils.errors.DatasetError`; its
    ``problems`` attribute holds the (path, problem, fix) triples, ``issues`` the
    :class:`Issue` entries.
    """
    pairs, problems = _pairs_and_problems(Path(root), split, check_sizes)
    problems.raise_if_any(problems.where, split)
    return pairs


def scan_split(root: str | Path, split: str, check_sizes: bool = True
               ) -> tuple[list[Pair], list[Issue]]:
    """Like :func:`find_pairs`, but returns the usable pairs *and* the problems, raising nothing
    about single files.

    This is what :func:`segutils.validate.verify_dataset` builds on: it keeps checking the good
    pairs of a split that also has bad ones. Problems with the whole dataset (no such folder, no
    layout recognised, no such split) still raise :class:`~segutils.errors.DatasetError`.
    """
    pairs, problems = _pairs_and_problems(Path(root), split, check_sizes)
    return pairs, list(problems.items)


def _pairs_and_problems(root: Path, split: str, check_sizes: bool
                        ) -> tuple[list[Pair], _Problems]:
    if split not in SPLITS:
        raise DatasetError(None, f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    layout = detect_layout(root)
    img_dir, mask_dir = _folders(root, layout, split)
    problems = _Problems(root)
    if not img_dir.is_dir() and not mask_dir.is_dir():
        have = ", ".join(available_splits(root)) or "none"
        raise DatasetError(root, f"no split {split!r} in this {layout} dataset (splits: {have})",
                           f"create {problems.name(img_dir)}/ and {problems.name(mask_dir)}/, "
                           "or ask for a split that exists")
    found: dict[str, dict[str, Path]] = {"image": {}, "mask": {}}
    unusable: set[str] = set()
    for folder, role, exts in ((img_dir, "image", IMAGE_EXTS), (mask_dir, "mask", MASK_EXTS)):
        if folder.is_dir():
            found[role], bad = _scan(folder, exts, role, problems)
            unusable |= bad
        else:
            problems.add(folder, f"the {role} folder is missing",
                         f"create it and put the {role}s of split {split!r} there",
                         "missing_folder")
    images, masks = found["image"], found["mask"]
    if img_dir.is_dir() and mask_dir.is_dir():
        for stem in sorted(set(images) - set(masks)):
            problems.add(images[stem], "image without a mask",
                         f"add {problems.name(mask_dir)}/{stem}.png or remove the image",
                         "missing_mask")
        for stem in sorted(set(masks) - set(images)):
            problems.add(masks[stem], "mask without an image",
                         f"add the image {problems.name(img_dir)}/{stem}.png or remove the mask",
                         "missing_image")
    pairs = [Pair(s, images[s], masks[s]) for s in sorted(set(images) & set(masks) - unusable)]
    if check_sizes:
        for pair in pairs:
            _check_headers(pair, problems)
    problems.where = root / split if layout == COURSE else root
    return pairs, problems


def _check_headers(pair: Pair, problems: _Problems) -> None:
    """Compare the sizes in the two headers; flag unreadable files, JPEG data and 16-bit masks."""
    heads = []
    for path in (pair.image, pair.mask):
        if path.stat().st_size == 0:
            return  # already reported by _scan
        try:
            heads.append(header(path))
        except DatasetError as err:
            problems.add(path, err.problem, err.fix, getattr(err, "kind", "unreadable"))
    if len(heads) < 2:
        return
    image, mask = heads
    if (image.height, image.width) != (mask.height, mask.width):
        problems.add(pair.mask, f"mask is {mask.height}x{mask.width} but its image "
                     f"{pair.image.name} is {image.height}x{image.width}",
                     "export the mask at the image's size (resize masks only with nearest "
                     "neighbour)", "size_mismatch")
    if mask.format == "JPEG":
        problems.add(pair.mask, "the mask holds JPEG data (whatever its extension says): lossy "
                     "compression changes the class IDs near edges",
                     "re-export the mask as PNG from the original labels", "lossy_mask")
    elif mask.mode in SIXTEEN_BIT_MODES:
        problems.add(pair.mask, f"16-bit mask (mode {mask.mode}); masks must hold 8-bit class "
                     "IDs 0..255", "save it as an 8-bit PNG of class IDs", "sixteen_bit_mask")
