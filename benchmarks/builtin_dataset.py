"""Benchmark of the built-in street-scene dataset: is it fast to make, and does it teach?

Measures, on this machine:

1. the time to generate 1,000 images of 128x128 (``segutils.data.synthetic.generate``);
2. the class pixel frequencies of the profile's dataset (the imbalance a learner will meet);
3. the validation mIoU and per-class IoU of the per-pixel (colour-only) classifier and of
   ``unet_mini`` after training with the profile's settings, with training time and images/s.

The dataset is good for teaching when the per-pixel classifier stays far below 0.5 mIoU (colour
alone is not enough) and the U-Net gets close to 0.85 in a few CPU minutes (shape and layout are).

Run ``python benchmarks/builtin_dataset.py [--profile cpu]``; results go to
``benchmarks/results/builtin_dataset.{json,md}``. Data is loaded with a plain NumPy loader so the
benchmark depends only on the generator and the models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from segutils import config  # noqa: E402
from segutils.data import synthetic  # noqa: E402
from segutils.data.classes import class_frequencies  # noqa: E402
from segutils.metrics import confusion_matrix, scores  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
GENERATION_IMAGES = 1000
GENERATION_SIZE = (128, 128)
# Peak learning rates of Adam, decayed to 0 along a cosine over the run (short runs end better
# with a decayed rate). A 1x1 convolution has 28 weights and takes a larger step.
PER_PIXEL_LR = 5e-2
UNET_LR = 5e-3


def load_split(folder: Path, split: str):
    """(images float32 in [0, 1], masks uint8) of one split, read with PIL."""
    paths = sorted((folder / split / "images").glob("*.png"))
    images = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    masks = np.stack([np.asarray(Image.open(folder / split / "masks" / p.name)) for p in paths])
    return images.astype(np.float32) / 255.0, masks


def time_generation(n: int, size) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthetic.generate(Path(tmp) / "street", n=n, size=size, seed=0, progress=False)
        return time.perf_counter() - start


def evaluate(model, images, masks, n_classes, batch_size) -> dict:
    logits = model.predict(images, batch_size=batch_size, verbose=0)
    cm = confusion_matrix(masks, np.argmax(logits, axis=-1), n_classes)
    s = scores(cm)
    return {
        "mean_iou": s["mean_iou"],
        "pixel_accuracy": s["pixel_accuracy"],
        "per_class_iou": dict(zip(synthetic.CLASSES.names,
                                  (round(float(v), 4) for v in s["per_class_iou"]), strict=True)),
    }


def train(name, model, lr, data, profile, epochs, keras) -> dict:
    (x_train, y_train), (x_val, y_val) = data
    steps = epochs * -(-len(x_train) // profile.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    )
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=profile.batch_size, epochs=epochs,
                        validation_data=(x_val, y_val), shuffle=True, verbose=2)
    seconds = time.perf_counter() - start
    result = evaluate(model, x_val, y_val, synthetic.CLASSES.n_classes, profile.batch_size)
    result.update(
        parameters=int(model.count_params()),
        epochs=epochs,
        train_seconds=round(seconds, 1),
        train_images_per_second=round(len(x_train) * epochs / seconds, 1),
        final_train_loss=round(float(history.history["loss"][-1]), 4),
        final_val_loss=round(float(history.history["val_loss"][-1]), 4),
    )
    print(f"{name}: val mIoU {result['mean_iou']:.3f} in {seconds:.0f} s", flush=True)
    return result


def markdown(res: dict) -> str:
    names = synthetic.CLASSES.names
    p = res["profile"]
    lines = [
        "# Built-in dataset benchmark",
        "",
        f"Machine: {res['machine']}. Command: `{res['command']}`.",
        "",
        f"Load average (1 min) when training ended: {res.get('load_average_1min_at_end', '?')} "
        "(2 means both cores busy; above that, other jobs slowed the timings down).",
        "",
        _generation_line(res.get("generation")),
        "",
        f"Profile `{p['name']}`: {p['n_images']} images of {p['image_size'][0]}x"
        f"{p['image_size'][1]} (train {res['counts']['train']}, val {res['counts']['val']}), "
        f"batch {p['batch_size']}, {p['epochs']} epochs, base_filters {p['base_filters']}.",
        "",
        "| class | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
        "| pixel share | "
        + " | ".join(f"{100 * res['class_frequencies'][n]:.1f}%" for n in names) + " |",
    ]
    for key in ("per_pixel", "unet_mini"):
        m = res["models"][key]
        lines.append(f"| {key} IoU | " + " | ".join(f"{m['per_class_iou'][n]:.3f}" for n in names)
                     + " |")
    lines += ["", "| model | parameters | val mIoU | pixel acc. | train time | train images/s |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for key in ("per_pixel", "unet_mini"):
        m = res["models"][key]
        lines.append(f"| {key} | {m['parameters']:,} | {m['mean_iou']:.3f} | "
                     f"{m['pixel_accuracy']:.3f} | {m['train_seconds']} s | "
                     f"{m['train_images_per_second']} |")
    lines += ["", f"Best per-pixel colour rule (16^3 RGB bins, majority class from train): "
              f"val mIoU {res['colour_rule_mean_iou']:.3f}.", ""]
    return "\n".join(lines)


def _generation_line(gen) -> str:
    if not gen:
        return "Generation: not timed in this run (--skip-generation)."
    return (f"Generation: {gen['images']} images of {gen['size'][0]}x{gen['size'][1]} in "
            f"{gen['seconds']} s ({gen['images_per_second']} images/s, one process).")


def colour_rule_miou(x_train, y_train, x_val, y_val, n_classes, bins=16) -> float:
    """mIoU of the best per-pixel colour lookup: each RGB bin predicts its majority class."""
    def codes(x):
        q = np.minimum((x * 255 + 0.5).astype(np.int64) * bins // 256, bins - 1)
        return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]

    table = np.zeros((bins**3, n_classes), np.int64)
    np.add.at(table, (codes(x_train).ravel(), y_train.ravel().astype(np.int64)), 1)
    rule = table.argmax(axis=1)
    return scores(confusion_matrix(y_val, rule[codes(x_val)], n_classes))["mean_iou"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu", choices=list(config.PROFILES))
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--n-images", type=int, help="override the profile's dataset size")
    parser.add_argument("--batch-size", type=int, help="override the profile's batch size")
    parser.add_argument("--base-filters", type=int, help="override the profile's model width")
    parser.add_argument("--data-root", help="where the dataset lives (default: data_dir())")
    parser.add_argument("--skip-generation", action="store_true",
                        help="do not time the generation of 1,000 images")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    args = parser.parse_args(argv)

    keras = config.import_quietly()
    from segutils.models import per_pixel_classifier, unet_mini

    profile = config.profile(args.profile)
    changes = {k: v for k, v in (("epochs", args.epochs), ("n_images", args.n_images),
                                 ("batch_size", args.batch_size),
                                 ("base_filters", args.base_filters)) if v is not None}
    profile = profile.replace(**changes)
    import tensorflow as tf

    res = {
        "machine": f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
                   f"Python {platform.python_version()}, TF {tf.__version__}, "
                   f"Keras {keras.__version__}",
        "command": "python benchmarks/builtin_dataset.py " + " ".join(sys.argv[1:]),
        "generator_version": synthetic.GENERATOR_VERSION,
        "profile": {"name": profile.name, "image_size": list(profile.image_size),
                    "n_images": profile.n_images, "batch_size": profile.batch_size,
                    "epochs": profile.epochs, "base_filters": profile.base_filters},
    }
    if not args.skip_generation:
        seconds = time_generation(GENERATION_IMAGES, GENERATION_SIZE)
        res["generation"] = {"images": GENERATION_IMAGES, "size": list(GENERATION_SIZE),
                             "seconds": round(seconds, 1),
                             "images_per_second": round(GENERATION_IMAGES / seconds, 1)}
        print(f"generation: {seconds:.1f} s", flush=True)

    folder = synthetic.ensure_dataset(profile, root=args.data_root, progress=False)
    train_data, val_data = load_split(folder, "train"), load_split(folder, "val")
    res["counts"] = {"train": len(train_data[0]), "val": len(val_data[0])}
    test_masks = load_split(folder, "test")[1]
    freq = class_frequencies([*train_data[1], *val_data[1], *test_masks],
                             synthetic.CLASSES.n_classes)
    res["class_frequencies"] = dict(zip(synthetic.CLASSES.names,
                                        (round(float(f), 4) for f in freq), strict=True))
    res["colour_rule_mean_iou"] = round(colour_rule_miou(*train_data, *val_data,
                                                         synthetic.CLASSES.n_classes), 4)
    n = synthetic.CLASSES.n_classes
    res["models"] = {}
    for key, build, lr in (
        ("per_pixel", lambda: per_pixel_classifier(n), PER_PIXEL_LR),
        ("unet_mini", lambda: unet_mini(n, base_filters=profile.base_filters), UNET_LR),
    ):
        config.seed_everything(0)
        res["models"][key] = train(key, build(), lr, (train_data, val_data), profile,
                                   profile.epochs, keras)

    # Timings are only comparable on an otherwise idle machine: record how busy it was.
    res["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "builtin_dataset.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "builtin_dataset.md").write_text(markdown(res))
    print(markdown(res))
    return res


if __name__ == "__main__":
    main()
