"""Turning a dataset's own label files into class-ID masks, once, into a cache folder.

Real datasets store labels in many ways: trimap values (Oxford-IIIT Pet), 34 label IDs of which
19 are evaluated (Cityscapes), grey IDs with an "unlabelled" value (CamVid), colours (KITTI
road, colour-coded CamVid and Cityscapes), MATLAB files (SBD). Each is described here by a small
*decoder* (label file -> uint8 IDs, 255 = ignore) that fails loudly on any value or colour it does
not know, naming the file. :func:`convert_sources` runs a decoder over a dataset once and writes
ID PNGs into ``cache/<decoder key>/``; the ordinary ``tf.data`` pipeline then reads those, so
there is one pipeline for every dataset, and the converted masks can be opened and checked.

Command line (:mod:`segutils.cli.convert`): ``python -m segutils convert NAME`` (a registered
dataset) or ``python -m segutils convert --classes classes.json --src DIR --out DIR`` (any colour
masks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from segutils.data.classes import IGNORE_INDEX, ClassInfo, colors_to_ids
from segutils.data.folders import MASK_EXTS, MAX_LISTED, Pair
from segutils.data.io import read_image, read_mask, write_mask
from segutils.errors import DatasetError

#: Name of the file that describes a cache folder's conversion.
CONVERSION_FILE = "conversion.json"


#: Part of every cache key: raise it when a decoder's output changes for the same table, so
#: that masks converted by an older segutils are not reused.
FORMAT_VERSION = 1


def _digest(obj) -> str:
    return hashlib.sha256(repr((FORMAT_VERSION, obj)).encode()).hexdigest()[:10]


@dataclasses.dataclass(frozen=True)
class ValueMap:
    """Label files that store numbers (grey or palette PNG): raw value -> class ID.

    A value not in ``mapping`` is an error listing the values and their pixel counts.
    """

    name: str
    mapping: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, name: str, mapping: Mapping[int, int]) -> ValueMap:
        pairs = tuple(sorted((int(k), int(v)) for k, v in mapping.items()))
        if any(not (0 <= k <= 255 and 0 <= v <= 255) for k, v in pairs):
            raise ValueError(f"values and IDs must lie in 0..255, got {dict(pairs)}")
        return cls(name, pairs)

    @property
    def key(self) -> str:
        """Folder name of this conversion's cache: changes whenever the mapping does."""
        return f"{self.name}-{_digest(self.mapping)}"

    def describe(self) -> dict:
        return {"kind": "values", "name": self.name, "mapping": dict(self.mapping)}

    def apply(self, raw: np.ndarray, path: str | Path | None = None) -> np.ndarray:
        """Map an (H, W) array of raw label values to uint8 class IDs."""
        raw = np.asarray(raw)
        table = np.full(256, -1, np.int16)
        for value, class_id in self.mapping:
            table[value] = class_id
        inside = (raw >= 0) & (raw <= 255)
        ids = np.where(inside, table[np.clip(raw, 0, 255).astype(np.uint8)], -1)
        if (ids < 0).any():
            bad, counts = np.unique(raw[ids < 0], return_counts=True)
            listed = ", ".join(f"{int(v)}: {int(n)} px" for v, n in zip(bad, counts, strict=True))
            raise DatasetError(
                path, f"label value(s) not in the {self.name} table: {listed} "
                f"(known: {', '.join(str(k) for k, _ in self.mapping)})",
                "check that this is the right dataset and mask file; if it is, add the value to "
                "the mapping (or mark it 255 = ignore)",
            )
        return ids.astype(np.uint8)

    def read(self, path: str | Path) -> np.ndarray:
        return self.apply(read_mask(path), path)


@dataclasses.dataclass(frozen=True)
class ColorMap:
    """Colour-coded label files: (r, g, b) -> class ID (255 = ignore).

    Decoding goes through :func:`segutils.data.classes.colors_to_ids`, so an unknown colour is an
    error listing every such colour with its pixel count. Several colours may share an ID.
    """

    name: str
    entries: tuple[tuple[tuple[int, int, int], int], ...]

    def __post_init__(self):
        colors = [tuple(c) for c, _ in self.entries]
        if len(set(colors)) != len(colors):
            raise ValueError(f"{self.name}: a colour appears twice in the table")
        if any(not 0 <= i <= 255 for _, i in self.entries):
            raise ValueError(f"{self.name}: class IDs must lie in 0..255")

    @classmethod
    def of(cls, name: str, entries: Iterable[tuple[Sequence[int], int]]) -> ColorMap:
        return cls(name, tuple((tuple(int(v) for v in c), int(i)) for c, i in entries))

    @property
    def key(self) -> str:
        return f"{self.name}-{_digest(self.entries)}"

    def describe(self) -> dict:
        return {"kind": "colors", "name": self.name,
                "colors": [{"color": list(c), "id": i} for c, i in self.entries]}

    def apply(self, rgb: np.ndarray, path: str | Path | None = None) -> np.ndarray:
        """Map an (H, W, 3) colour mask to uint8 class IDs."""
        labelled = [(c, i) for c, i in self.entries if i != IGNORE_INDEX]
        ignored = [c for c, i in self.entries if i == IGNORE_INDEX]
        # colors_to_ids numbers the labelled colours 0, 1, ...; a table takes them to the IDs.
        index = colors_to_ids(rgb, [c for c, _ in labelled], ignore_colors=ignored,
                              ignore_index=IGNORE_INDEX, path=path)
        table = np.full(256, IGNORE_INDEX, np.uint8)
        table[: len(labelled)] = [i for _, i in labelled]
        return table[index]

    def colorize(self, ids: np.ndarray) -> np.ndarray:
        """(H, W) IDs -> (H, W, 3) colours, each ID drawn in its first colour in the table."""
        table = np.zeros((256, 3), np.uint8)
        drawn = np.zeros(256, bool)
        for color, i in self.entries:
            if not drawn[i]:
                table[i], drawn[i] = color, True
        ids = np.asarray(ids, np.uint8)
        if not drawn[ids].all():
            raise ValueError(f"IDs {sorted(set(np.unique(ids)) - set(np.flatnonzero(drawn)))} "
                             f"have no colour in {self.name}")
        return table[ids]

    def read(self, path: str | Path) -> np.ndarray:
        return self.apply(read_image(path), path)


@dataclasses.dataclass(frozen=True)
class SbdMat:
    """SBD class labels: ``cls/<stem>.mat`` holding a MATLAB struct ``GTcls`` whose
    ``Segmentation`` field is the (H, W) array of VOC class IDs (0..20). Needs SciPy."""

    name: str = "sbd_cls"

    @property
    def key(self) -> str:
        return f"{self.name}-{_digest('GTcls.Segmentation')}"

    def describe(self) -> dict:
        return {"kind": "sbd_mat", "name": self.name, "field": "GTcls.Segmentation"}

    def read(self, path: str | Path) -> np.ndarray:
        try:
            from scipy.io import loadmat
        except ImportError as err:
            raise DatasetError(path, "reading SBD .mat labels needs SciPy",
                               "pip install scipy (it is not needed for anything else)") from err
        try:
            seg = loadmat(str(path), squeeze_me=True, struct_as_record=False)["GTcls"].Segmentation
        except (OSError, KeyError, AttributeError, ValueError) as err:
            raise DatasetError(path, f"not an SBD class label file ({err!r})",
                               "use the files of benchmark_RELEASE/dataset/cls/") from err
        seg = np.asarray(seg)
        if seg.ndim != 2 or seg.size == 0 or seg.min() < 0 or seg.max() > 20:
            raise DatasetError(path, "GTcls.Segmentation is not an (H, W) array of IDs 0..20",
                               "use the files of benchmark_RELEASE/dataset/cls/")
        return seg.astype(np.uint8)


Decoder = ValueMap | ColorMap | SbdMat


class Source(NamedTuple):
    """One example as the dataset ships it: its stem, image, label file and how to decode the
    labels (``None``: the file already holds class IDs and is read as it is)."""

    stem: str
    image: Path
    mask: Path
    decoder: Decoder | None


def _write_atomically(path: Path, ids: np.ndarray, palette) -> None:
    """Write next to the target, then rename: a crash never leaves a half-written mask that a
    later run would take for a finished one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_mask(tmp, ids, palette)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _is_fresh(out: Path, src: Path) -> bool:
    return out.is_file() and out.stat().st_mtime_ns >= src.stat().st_mtime_ns


def convert_sources(
    sources: Sequence[Source],
    cache_dir: str | Path,
    classes: ClassInfo | None = None,
    *,
    progress: bool = True,
    workers: int | None = None,
    by_decoder: bool = True,
) -> list[Pair]:
    """Decode every label file that needs it into ``cache_dir/<decoder key>/<stem>.png``
    (``cache_dir/<stem>.png`` with ``by_decoder=False``).

    Returns the pairs the pipeline reads: the original image with the converted mask (or the
    original mask when its decoder is ``None``). Masks converted before, and not older than their
    source, are reused; ``conversion.json`` in each folder records the mapping. With ``classes``
    the PNGs are palette PNGs (indices = IDs, colours for viewers). Every failing file is
    reported in one :class:`~segutils.errors.DatasetError`.
    """
    cache_dir = Path(cache_dir)
    palette = classes.palette() if classes is not None else None
    pairs, todo = [], []
    for src in sources:
        if src.decoder is None:
            pairs.append(Pair(src.stem, src.image, src.mask))
            continue
        out = (cache_dir / src.decoder.key if by_decoder else cache_dir) / f"{src.stem}.png"
        pairs.append(Pair(src.stem, src.image, out))
        if not _is_fresh(out, src.mask):
            todo.append((src, out))
    for decoder in {s.decoder for s, _ in todo}:
        folder = cache_dir / decoder.key if by_decoder else cache_dir
        folder.mkdir(parents=True, exist_ok=True)
        doc = {**decoder.describe(), "ignore_index": IGNORE_INDEX,
               "classes": list(classes.names) if classes else None}
        (folder / CONVERSION_FILE).write_text(json.dumps(doc, indent=1) + "\n")

    def work(item):
        src, out = item
        try:
            _write_atomically(out, src.decoder.read(src.mask), palette)
        except DatasetError as err:
            return err
        return None

    failures = []
    if todo:
        workers = workers or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            results = pool.map(work, todo)
            if progress:
                from tqdm.auto import tqdm

                results = tqdm(results, total=len(todo), desc="Converting masks", unit="mask")
            failures = [err for err in results if err is not None]
    if failures:
        raise _combined(failures, cache_dir)
    return pairs


def bullet_list(lines: Sequence[str], limit: int = MAX_LISTED) -> str:
    """``lines`` as an indented list for an error message, summarising beyond ``limit``."""
    shown = [f"  - {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"  ... and {len(lines) - limit} more")
    return "\n".join(shown)


def _combined(failures: Sequence[DatasetError], where: Path) -> DatasetError:
    lines = [f"{e.path}: {e.problem}" for e in failures]
    err = DatasetError(where, f"{len(failures)} mask(s) could not be converted:\n"
                       + bullet_list(lines), failures[0].fix)
    err.problems = [(e.path, e.problem, e.fix) for e in failures]
    return err


def convert_color_folder(
    src: str | Path,
    out: str | Path,
    classes: ClassInfo,
    ignore_colors: Iterable[Sequence[int]] = (),
    *,
    progress: bool = True,
) -> list[Path]:
    """Convert every colour-coded mask (PNG/BMP) of a folder into ID PNGs in ``out``.

    Colour ``classes.colors[i]`` becomes ID ``i``, a colour in ``ignore_colors`` 255, any other
    colour is an error (all files are checked before it is raised). ``out`` gets the class table
    as ``classes.json`` too, so the result is a ready mask folder.
    """
    src, out = Path(src), Path(out)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in MASK_EXTS
                   and not p.name.startswith(".")) if src.is_dir() else []
    if not files:
        raise DatasetError(src, "no PNG or BMP masks in this folder", "check the --src folder")
    if out.resolve() == src.resolve():
        raise DatasetError(out, "the output folder is the source folder: the colour masks "
                           "would be overwritten", "pass another --out folder")
    table = ColorMap.of("colors", [(c, i) for i, c in enumerate(classes.colors)]
                        + [(c, IGNORE_INDEX) for c in ignore_colors])
    sources = [Source(p.stem, p, p, table) for p in files]
    pairs = convert_sources(sources, out, classes, progress=progress, by_decoder=False)
    classes.save(out)
    return [p.mask for p in pairs]
