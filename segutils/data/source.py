"""One way to name a dataset, for every command and notebook: a folder, or a registered name.

    src = open_source("camvid", data_root="~/datasets/camvid")   # a registered public dataset
    src = open_source("data/my_scenes")                          # a folder in any known layout
    src = open_source("synthetic", profile="cpu")                # the built-in dataset
    pairs = src.pairs("val")                                      # files checked, nothing decoded
    val = src.dataset("val", image_size=(180, 240), batch_size=8)

``python -m segutils train``, ``evaluate`` and ``verify`` take the same ``--data``/``--data-root``
arguments and go through :func:`open_source`, so a model trained on a dataset can be scored on
the same dataset by the same name. :meth:`DataSource.pairs` checks every file of a split before
anything heavy happens (no model is loaded, nothing is decoded), so bad data is reported first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from segutils.data import datasets
from segutils.data.classes import IGNORE_INDEX, ClassInfo
from segutils.data.folders import Pair, available_splits, find_pairs, load_classes
from segutils.errors import DatasetError


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A dataset the user named: where it lies and how to read its splits.

    ``name`` is a registered dataset name (``"camvid"``, ``"voc2012"``, ...) or ``None`` for a
    plain folder; ``root`` is the folder (plain), or where the registered dataset lies.
    """

    label: str
    root: Path
    name: str | None = None

    @property
    def registered(self) -> bool:
        return self.name is not None

    def splits(self) -> list[str]:
        """The labelled splits present on disk."""
        if self.registered:
            return datasets.present_splits(self.name, self.root)
        return available_splits(self.root)

    def pairs(self, split: str) -> list[Pair]:
        """Every (stem, image, class-ID mask) of ``split``, checked (and converted) first."""
        if self.registered:
            return datasets.dataset_pairs(self.name, self.root, split, progress=False)
        return find_pairs(self.root, split)

    def classes(self) -> ClassInfo | None:
        """The class table: the registered dataset's, or the folder's ``classes.json``."""
        if self.registered:
            return datasets.dataset_classes(self.name)
        return load_classes(self.root)

    def train_val_pairs(self, val_split: str | float = "val", seed: int = 0):
        """(training pairs, validation pairs): the ``train`` split and the split named
        ``val_split``, or, for a fraction such as ``0.1``, that share of ``train`` held out
        (the same images for the same seed; the rest train). For datasets that ship without a
        validation split, such as keras_segmentation's train + test layout."""
        train = self.pairs("train")
        if isinstance(val_split, str):
            if val_split == "train":
                raise DatasetError(self.root, "the validation split cannot be the training split",
                                   "name another split (--val-split test) or a fraction (0.1)")
            return train, self.pairs(val_split)
        fraction = float(val_split)
        n_val = round(fraction * len(train))
        if not 0.0 < fraction < 1.0 or n_val < 1 or n_val >= len(train):
            raise DatasetError(self.root, f"cannot hold out {val_split!r} of {len(train)} "
                               "training images", "give a fraction between 0 and 1 that leaves "
                               "at least one image on each side, e.g. 0.1")
        import numpy as np

        order = np.random.default_rng(seed).permutation(len(train))
        held = set(order[:n_val].tolist())
        return ([p for i, p in enumerate(train) if i not in held],
                [p for i, p in enumerate(train) if i in held])

    def dataset(self, split: str, **options):
        """Batches of (image, mask) of ``split`` (options as in
        :func:`segutils.data.pipeline.dataset_from_pairs`)."""
        from segutils.data.pipeline import dataset_from_pairs

        options.setdefault("shuffle", split in datasets.TRAINING_SPLITS)
        return dataset_from_pairs(self.pairs(split), name=f"{self.label}/{split}", **options)


def is_dataset_name(text: str | Path | None) -> bool:
    """Whether ``text`` names a registered dataset (or the built-in one) rather than a folder."""
    return str(text) == datasets.SYNTHETIC or str(text) in datasets.DATASETS


def open_source(data: str | Path | None, data_root: str | Path | None = None, *,
                profile=None, progress: bool = True, download: bool = False) -> DataSource:
    """The dataset ``data`` names: a folder, ``"synthetic"`` or a registered dataset name.

    ``data=None`` means the profile's dataset. ``data_root`` says where a registered dataset lies
    (default ``data/<name>``); for ``"synthetic"`` it is the folder to generate into. A name
    that is neither an existing folder nor a dataset is an error listing the names.
    ``download=True`` fetches a registered dataset that is not on disk yet.
    """
    from segutils import config

    def resolved():  # only when needed: choosing a profile may detect the GPU (slow import)
        return config.profile(profile)

    text = resolved().dataset if data is None else str(data)
    if text == datasets.SYNTHETIC:
        from segutils.data.synthetic import ensure_dataset

        folder = ensure_dataset(resolved(), data_root, progress=progress)
        return DataSource(datasets.SYNTHETIC, Path(folder))
    if text in datasets.DATASETS:
        root = datasets.resolve_root(text, data_root)
        if download and not datasets.available(text, root):
            from segutils.data.download import download as fetch

            fetch(text, root, progress=progress)
        datasets.locate(text, root)  # raises, saying how to download, when it is not there
        return DataSource(text, root, text)
    folder = Path(text).expanduser()
    if folder.is_dir():
        if data_root is not None:
            raise DatasetError(folder, "--data-root is only for a dataset given by name",
                               "pass the folder as --data alone")
        return DataSource(str(folder), folder)
    raise DatasetError(folder, "neither a folder nor a known dataset name",
                       f"pass a dataset folder or one of {datasets.SYNTHETIC}, "
                       f"{', '.join(datasets.DATASETS)}")


def load_dataset(
    name: str,
    root: str | Path | None = None,
    split: str = "train",
    *,
    variant: str | None = None,
    download: bool = False,
    progress: bool = True,
    profile=None,
    **pipeline_options,
):
    """Batches of (image, mask) of a named dataset, through the same pipeline as the built-in
    dataset (:func:`segutils.data.pipeline.dataset_from_pairs`).

    ``pipeline_options`` go to the pipeline: ``image_size``, ``batch_size``, ``shuffle``
    (default: training splits only), ``seed``, ``cache``, ``repeat``, ``augment``, ... Real
    datasets have images of many sizes: pass ``image_size`` (masks are resized with nearest
    neighbour only). ``download=True`` fetches a missing dataset first. For ``"synthetic"``,
    ``profile`` (default: the current profile) sets the size of the generated dataset.
    """
    if name == datasets.SYNTHETIC:
        from segutils.data import synthetic
        from segutils.data.pipeline import make_dataset

        folder = synthetic.ensure_dataset(profile, root, progress=progress)
        return make_dataset(folder, split, **pipeline_options)
    spec = datasets.get_spec(name)
    datasets.check_split(spec, split)
    if download and not datasets.available(spec, root):
        from segutils.data.download import download as fetch

        fetch(spec, root, progress=progress)
    pairs = datasets.dataset_pairs(spec, root, split, variant=variant, progress=progress)
    from segutils.data.pipeline import dataset_from_pairs

    pipeline_options.setdefault("shuffle", split in datasets.TRAINING_SPLITS)
    return dataset_from_pairs(pairs, name=f"{spec.name}/{split}", **pipeline_options)


def infer_n_classes(pairs: list[Pair]) -> int:
    """The number of classes the masks show: the largest ID (other than 255) plus one.

    Reads every mask, so it is for when no class table exists. A class that occurs in no mask
    above the largest ID cannot be seen: pass the number when you know it.
    """
    import numpy as np

    from segutils.data.io import read_mask

    largest = -1
    for pair in pairs:
        ids = np.unique(read_mask(pair.mask))
        ids = ids[ids != IGNORE_INDEX]
        if ids.size:
            largest = max(largest, int(ids.max()))
    if largest < 0:
        where = pairs[0].mask.parent if pairs else None
        raise DatasetError(where, "every mask pixel is 255 (ignore), so the number of classes "
                           "cannot be inferred", "pass --n-classes N or write a classes.json")
    return largest + 1


# --- the dataset arguments every command that reads data shares ------------------------------

DATA_HELP = ("a dataset folder in any layout segutils reads, or a registered dataset name: "
             f"{datasets.SYNTHETIC}, {', '.join(datasets.DATASETS)}")


def add_arguments(parser, *, positional: bool = False, required: bool = True,
                  n_classes: bool = True) -> None:
    """``DATA`` (or ``--data``), ``--data-root`` and ``--n-classes``, the same for every command."""
    if positional:
        parser.add_argument("data", metavar="DATA", help=DATA_HELP)
    else:
        parser.add_argument("--data", required=required, default=None,
                            help=DATA_HELP + ("" if required else " (default: the profile's)"))
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where a dataset given by name lies (default: data/<name>); it is "
                        "only read, so a read-only folder works")
    if n_classes:
        parser.add_argument("--n-classes", type=int, default=None,
                            help="number of classes, when the data has no class table (train "
                            "infers it from the largest ID in the masks)")


def val_split_argument(text: str) -> str | float:
    """``--val-split``: a split name (``val``, ``test``) or a fraction of train (``0.1``)."""
    try:
        return float(text)
    except ValueError:
        return text


def from_args(args, *, profile=None) -> DataSource:
    """The :class:`DataSource` of parsed :func:`add_arguments` arguments."""
    return open_source(args.data, args.data_root, profile=profile,
                       progress=not getattr(args, "quiet", False))
