"""The built-in dataset: procedural street scenes on disk, made once, no download needed.

:mod:`segutils.data.scenes` draws the scenes (and explains what is in them); this module writes
them as a dataset folder (train/val/test, ``classes.json``, a manifest that says how they were
made) and makes sure a notebook finds the one its profile needs, generating it only when missing
or out of date. Image ``i`` of a dataset is drawn from its own generator seeded by ``(seed, i)``,
so the same seed gives byte-identical files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from segutils.data.scenes import (  # noqa: F401  (the scene's classes, re-exported)
    BUILDING,
    CAR,
    CLASSES,
    GENERATOR_VERSION,
    PERSON,
    ROAD,
    SIDEWALK,
    SKY,
    SPLITS,
    STEM,
    VEGETATION,
    render_scene,
)
from segutils.errors import DatasetError

# --- datasets on disk -------------------------------------------------------------------------

GENERATOR = "segutils.data.synthetic"
MANIFEST = "manifest.json"


def split_counts(n: int, splits=(0.8, 0.1, 0.1)) -> dict[str, int]:
    """How many of ``n`` images go to train, val and test (test takes the rounding rest)."""
    fractions = [float(f) for f in splits]
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError(f"splits must be three non-negative fractions (train, val, test), "
                         f"got {splits!r}")
    total = sum(fractions)
    train = round(n * fractions[0] / total)
    val = min(round(n * fractions[1] / total), n - train)
    return {"train": train, "val": val, "test": n - train - val}


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    """Digest of one small scene: changes when the drawing changes, even if nobody bumped
    GENERATOR_VERSION (or when a NumPy or Pillow release draws differently)."""
    image, mask = render_scene((0, 0), (32, 32))
    return hashlib.sha256(image.tobytes() + mask.tobytes()).hexdigest()[:16]


def _manifest(n, size, seed, splits) -> dict:
    return {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "fingerprint": _fingerprint(),
        "seed": int(seed),
        "n": int(n),
        "size": [int(v) for v in size],
        "splits": [float(f) for f in splits],
        "counts": split_counts(n, splits),
        "classes": list(CLASSES.names),
    }


def _save_png(array: np.ndarray, path: Path) -> None:
    # No text chunks, no time stamp: the same array always gives the same bytes.
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


def generate(out_dir, n: int = 1000, size=(128, 128), seed: int = 0,
             splits=(0.8, 0.1, 0.1), progress: bool = True) -> Path:
    """Write a street-scene dataset to ``out_dir`` and return its path.

    Layout: ``{train,val,test}/{images,masks}/street_00042.png`` (RGB images, 8-bit grey masks
    holding class IDs), ``classes.json`` and ``manifest.json``. Images ``0 .. n_train - 1`` form
    the training split, the next ones validation, the rest test; image ``i`` is drawn from a
    generator seeded by ``(seed, i)``. The files are first written to a hidden sibling folder
    and moved into place at the end, so an interrupted run never leaves a half dataset behind.
    An existing ``out_dir`` is replaced only when it is empty or a dataset made here.
    """
    n, seed = int(n), int(seed)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out_dir = Path(out_dir)
    size = tuple(int(v) for v in size)
    manifest = _manifest(n, size, seed, splits)
    partial = out_dir.parent / f".{out_dir.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    names = []
    for split, count in manifest["counts"].items():
        for sub in ("images", "masks"):
            (partial / split / sub).mkdir(parents=True)
        names += [split] * count
    indices = range(n)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=f"Drawing {out_dir.name}", unit="img")
    for i in indices:
        image, mask = render_scene((seed, i), size)
        stem = STEM.format(i)
        _save_png(image, partial / names[i] / "images" / f"{stem}.png")
        _save_png(mask, partial / names[i] / "masks" / f"{stem}.png")
    CLASSES.save(partial / "classes.json")
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if out_dir.exists():
        if any(out_dir.iterdir()) and _read_manifest(out_dir).get("generator") != GENERATOR:
            shutil.rmtree(partial)
            raise DatasetError(out_dir, "the folder exists and does not hold a generated dataset",
                               "pass an empty or new folder; nothing was overwritten")
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(out_dir)
    return out_dir


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _is_complete(folder: Path, manifest: dict) -> bool:
    """Manifest matches and every split folder holds the expected number of PNGs."""
    if _read_manifest(folder) != manifest or not (folder / "classes.json").is_file():
        return False
    for split, count in manifest["counts"].items():
        for sub in ("images", "masks"):
            path = folder / split / sub
            if not path.is_dir() or sum(1 for e in path.iterdir() if e.suffix == ".png") != count:
                return False
    return True


def dataset_name(size, n: int, seed: int = 0) -> str:
    """Folder name that encodes the parameters, e.g. ``street_128x128_n600_s0``."""
    h, w = size
    return f"street_{h}x{w}_n{n}_s{seed}"


def ensure_dataset(profile=None, root=None, seed: int = 0, progress: bool = True) -> Path:
    """The built-in dataset for ``profile``, generated only when missing or out of date.

    ``profile`` is a :class:`segutils.config.Profile`, a profile name, or ``None`` for
    :func:`segutils.config.profile`. The dataset has ``profile.n_images`` images of
    ``profile.image_size`` and lives in ``root`` (default :func:`segutils.config.data_dir`) under
    :func:`dataset_name`. When its manifest matches and all files are there, this only reads the
    manifest and counts files, so every notebook can call it first.
    """
    from segutils import config

    profile = config.profile(profile)
    size = tuple(int(v) for v in profile.image_size)
    folder = Path(root) if root is not None else config.data_dir()
    folder = folder / dataset_name(size, profile.n_images, seed)
    if _is_complete(folder, _manifest(profile.n_images, size, seed, (0.8, 0.1, 0.1))):
        return folder
    return generate(folder, profile.n_images, size, seed, progress=progress)
