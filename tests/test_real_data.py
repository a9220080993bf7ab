"""Real datasets end to end, on a stand-in in CamVid's own format: one set of dataset arguments
for every command, a read-only dataset folder, class weights from the labels, the recipe."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import numpy as np
import pytest

from segutils import config
from segutils.cli import main
from segutils.data import camvid_like, datasets, source
from segutils.data.io import read_mask, write_mask
from segutils.errors import ConfigError, DatasetError

SIZES = {"train": 6, "val": 3}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def _read_only(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="module")
def camvid(tmp_path_factory) -> Path:
    """A CamVid-format tree, made read-only (removed writable again at the end)."""
    root = camvid_like.write(tmp_path_factory.mktemp("camvid") / "camvid", SIZES)
    _read_only(root)
    yield root
    _writable(root)


def test_cache_dir_follows_its_variable_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "mine"))
    assert config.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(config.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == tmp_path / "xdg" / "segutils"


def test_two_copies_of_a_dataset_never_share_converted_masks(tmp_path):
    a = datasets.mask_cache("camvid", tmp_path / "a")
    b = datasets.mask_cache("camvid", tmp_path / "b")
    assert a != b
    assert a.parent == b.parent == config.cache_dir() / datasets.CACHE_DIR


def test_stand_in_has_every_camvid_class_and_unlabelled_pixels(camvid):
    pairs = datasets.dataset_pairs("camvid", camvid, "train", progress=False)
    values = np.unique(np.concatenate([read_mask(p.mask).ravel() for p in pairs]))
    assert values.tolist() == [*range(11), 255]  # 11 (unlabelled) became 255
    raw = np.unique(read_mask(camvid / "CamVid/trainannot" / f"{pairs[0].stem}.png"))
    assert 11 in raw and raw.max() == 11  # the files themselves keep CamVid's values


def test_read_only_dataset_verifies_trains_and_evaluates(camvid, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "quick")
    before = _snapshot(camvid)
    assert main(["verify", "camvid", "--data-root", str(camvid)]) == 0
    assert "pairs train 6, val 3" in capsys.readouterr().out
    run = tmp_path / "run"
    assert main(["train", "--data", "camvid", "--data-root", str(camvid), "--model", "unet_mini",
                 "--epochs", "1", "--steps-per-epoch", "1", "--image-size", "36", "48",
                 "--class-weights", "median_frequency", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "class weights: sky" in out and (run / "best.keras").is_file()
    assert json.loads((run / "training.json").read_text())["image_size"] == [36, 48]
    assert main(["evaluate", "--model", str(run), "--data", "camvid", "--data-root", str(camvid),
                 "--split", "val", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\nWrote")[0])
    # run at the training size (training.json), scored on the labels at their full 72x96
    assert report["image_size"] == [36, 48]
    labelled = sum(int((read_mask(p.mask) != 255).sum())
                   for p in datasets.dataset_pairs("camvid", camvid, "val", progress=False))
    assert report["n_pixels"] == labelled
    assert _snapshot(camvid) == before  # nothing written into the dataset's folder


def test_verify_names_a_camvid_file_with_an_unknown_value(tmp_path, capsys):
    root = camvid_like.write(tmp_path / "camvid", {"train": 2, "val": 1})
    bad = root / "CamVid/trainannot/Synth_train_0001.png"
    mask = read_mask(bad)
    mask[0, :3] = 13
    write_mask(bad, mask)
    assert main(["verify", "camvid", "--data-root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "dataset_files" in out and "Synth_train_0001.png" in out and "13: 3 px" in out


def test_evaluate_reports_bad_data_before_loading_the_model(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "missing.keras"), "--data",
                 str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "neither a folder nor a known dataset name" in err and "missing.keras" not in err


def test_data_arguments_are_checked(tmp_path):
    with pytest.raises(DatasetError, match="neither a folder nor a known dataset"):
        source.open_source("camvidd")
    with pytest.raises(DatasetError, match="only for a dataset given by name"):
        source.open_source(str(tmp_path), tmp_path)
    with pytest.raises(DatasetError, match="CamVid .* not found"):
        source.open_source("camvid", tmp_path / "empty")


def test_n_classes_is_inferred_from_the_largest_id(tmp_path):
    from segutils.data.folders import Pair

    masks = [np.array([[0, 2], [255, 1]], np.uint8), np.array([[4, 255]], np.uint8)]
    pairs = [Pair(f"m{i}", tmp_path / "x.png", write_mask(tmp_path / f"m{i}.png", m))
             for i, m in enumerate(masks)]
    assert source.infer_n_classes(pairs) == 5
    empty = [Pair("e", tmp_path / "x.png", write_mask(tmp_path / "e.png",
                                                      np.full((2, 2), 255, np.uint8)))]
    with pytest.raises(DatasetError, match="every mask pixel is 255"):
        source.infer_n_classes(empty)


def test_median_frequency_weights_follow_eigen_and_fergus(camvid):
    from segutils.train import runs

    data = runs.load_data("camvid", config.profile("quick"), data_root=camvid, progress=False)
    weights = runs.class_weights(data, "median_frequency")
    # Independent definition: freq(c) = pixels of c / labelled pixels of the images holding c.
    masks = [read_mask(p.mask) for p in data.train_pairs]
    freq = []
    for c in range(11):
        holding = [m for m in masks if (m == c).any()]
        freq.append(sum((m == c).sum() for m in holding) / sum((m != 255).sum() for m in holding))
    freq = np.array(freq)
    np.testing.assert_allclose(weights, np.median(freq) / freq, rtol=1e-12)
    assert runs.class_weights(data, "none") is None
    with pytest.raises(ConfigError, match="unknown class weighting"):
        runs.class_weights(data, "inverse")


def test_recipe_fills_only_what_is_not_given():
    from segutils.cli import train as command
    from segutils.train import runs

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--recipe", "camvid", "--epochs", "2"])
    command._apply_recipe(args, config.profile("cpu"))
    r = runs.recipe("camvid", "cpu")
    assert (args.data, args.model, args.image_size, args.class_weights) == \
        ("camvid", r.model, r.image_size, "median_frequency")
    assert args.epochs == 2 and r.epochs != 2  # the given option wins
    with pytest.raises(ConfigError, match="name a model"):
        command._apply_recipe(parser.parse_args([]), config.profile("cpu"))
    with pytest.raises(ConfigError, match="unknown recipe"):
        runs.recipe("pets", "cpu")


def test_every_recipe_names_a_registered_model_and_dataset():
    from segutils.models.registry import available
    from segutils.train.runs import RECIPES

    for by_profile in RECIPES.values():
        assert set(by_profile) == set(config.PROFILES)
        for r in by_profile.values():
            assert r.model in available() and r.dataset in datasets.DATASETS


def test_one_dataset_can_be_placed_by_its_own_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "all"))
    assert datasets.default_root("camvid") == tmp_path / "all" / "camvid"
    monkeypatch.setenv(datasets.root_variable("camvid"), str(tmp_path / "mine"))
    assert datasets.root_variable("camvid") == "SEGUTILS_CAMVID"
    assert datasets.default_root("camvid") == tmp_path / "mine"
    assert datasets.default_root("voc2012") == tmp_path / "all" / "voc2012"  # others unmoved


def test_the_old_load_dataset_path_says_where_it_went():
    with pytest.raises(AttributeError, match="segutils.data.load_dataset"):
        datasets.load_dataset  # noqa: B018


def _keras_segmentation_layout(root: Path, counts: dict[str, int]) -> Path:
    """images_prepped_<split>/ + annotations_prepped_<split>/ (no val split), built-in scenes."""
    from segutils.data import synthetic
    from segutils.data.io import write_image

    for s, (split, n) in enumerate(counts.items()):
        for k in range(n):
            image, mask = synthetic.render_scene((7, s, k), (24, 32))
            write_image(root / f"images_prepped_{split}" / f"{split}_{k}.png", image)
            write_mask(root / f"annotations_prepped_{split}" / f"{split}_{k}.png", mask)
    return root


def test_a_train_and_test_layout_trains_with_a_named_or_held_out_validation_split(tmp_path):
    from segutils.train import runs

    root = _keras_segmentation_layout(tmp_path / "ks", {"train": 5, "test": 2})
    p = config.profile("quick")
    with pytest.raises(DatasetError, match="val"):
        runs.load_data(root, p)  # there is no val split to find
    named = runs.load_data(root, p, val_split="test")
    assert len(named.train_pairs) == 5
    held = runs.load_data(root, p, val_split=0.4, seed=1)
    src = source.open_source(root)
    train, val = src.train_val_pairs(0.4, seed=1)
    assert (len(train), len(val)) == (3, 2) and not {p.stem for p in train} & {p.stem for p in val}
    assert {p.stem for p in train} | {p.stem for p in val} == {f"train_{k}" for k in range(5)}
    assert [p.stem for p in held.train_pairs] == [p.stem for p in train]  # same seed, same split
    assert src.train_val_pairs(0.4, seed=1) == (train, val)
    for bad in (0.0, 1.0, 0.05, "train"):
        with pytest.raises(DatasetError, match="hold out|cannot be the training split"):
            src.train_val_pairs(bad)


def test_val_split_argument_reads_names_and_fractions():
    assert source.val_split_argument("test") == "test"
    assert source.val_split_argument("0.1") == 0.1


def test_visualize_takes_a_registered_name(camvid, tmp_path, capsys):
    assert main(["visualize", "camvid", "--data-root", str(camvid), "--out", str(tmp_path / "v"),
                 "--split", "val", "--n", "2"]) == 0
    assert "Wrote 2 overlays" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "v").glob("val_*.png")) == \
        ["val_Synth_val_0000.png", "val_Synth_val_0001.png"]


def test_the_recipe_command_trains_into_the_folder_notebook_10_reads(camvid, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setenv(config.RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(datasets.root_variable("camvid"), str(camvid))
    assert main(["train", "--recipe", "camvid", "--profile", "quick", "--quiet"]) == 0
    run = tmp_path / "runs" / "quick" / "camvid" / "unet"
    assert (run / "best.keras").is_file()
    from segutils.train.runs import recipe

    r = recipe("camvid", "quick")
    assert json.loads((run / "training.json").read_text())["image_size"] == list(r.image_size)
    assert "class weights: sky" in capsys.readouterr().out  # the recipe balances the classes
