"""A short real training run that proves the training path on this machine, TensorFlow or not.

It renders built-in street scenes in memory (NumPy and Pillow only), feeds them through a
``keras.utils.PyDataset`` (so no ``tf.data``: it runs on JAX where TensorFlow is not installed),
and trains a registry model with segutils' recipe into a fresh run folder. Then it does what a
Colab learner does after a disconnect: loads ``last.keras`` and calls ``fit`` again with one more
epoch. It checks, and writes down:

* the training loss fell from the first epoch to the last;
* ``best.keras`` and ``last.keras`` were written and reload;
* the second call resumed at the epoch the first one finished, and trained only the rest.

The process exits 1 when a check fails. ``benchmarks/gpu_check.sh`` runs it at the ``gpu``
profile's size; ``tests/test_backends.py`` runs it tiny on the CPU with TensorFlow blocked::

    KERAS_BACKEND=jax python benchmarks/training_check.py --profile gpu
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from segutils import config

keras = config.import_quietly()

from segutils.data.scenes import CLASSES, render_scene  # noqa: E402
from segutils.models import registry  # noqa: E402
from segutils.train import hardware, recipe  # noqa: E402
from segutils.train.run_folder import BEST, LAST  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class Scenes(keras.utils.PyDataset):
    """Batches of in-memory (images in [0, 1], masks) pairs, in a fixed order."""

    def __init__(self, images, masks, batch_size):
        super().__init__()
        self.images, self.masks, self.batch_size = images, masks, batch_size

    def __len__(self):
        return len(self.images) // self.batch_size

    def __getitem__(self, k):
        part = slice(k * self.batch_size, (k + 1) * self.batch_size)
        return self.images[part], self.masks[part]


def render(n: int, size, seed: int):
    pairs = [render_scene((seed, i), size) for i in range(n)]
    images = np.stack([p[0] for p in pairs]).astype(np.float32) / 255.0
    masks = np.stack([p[1] for p in pairs]).astype(np.int32)
    return images, masks


def run(model_name: str, profile, n_images: int, epochs: int, run_dir: Path) -> dict:
    h, w = profile.image_size
    batch = profile.batch_size
    start = time.perf_counter()
    train = Scenes(*render(n_images, (h, w), seed=1), batch)
    val = Scenes(*render(max(batch, n_images // 4), (h, w), seed=2), batch)
    render_s = time.perf_counter() - start

    keras.utils.set_random_seed(0)
    model = registry.build(model_name, CLASSES.n_classes, profile=profile)
    recipe.compile_model(model, CLASSES.n_classes)
    first = recipe.fit(model, train, val, epochs=epochs, run_dir=run_dir, resume=False,
                       tensorboard=False, batch_size=batch, image_size=(h, w), verbose=0)
    # A new session: only the run folder survives.
    again = recipe.fit(recipe.load_model(run_dir / LAST), train, val, epochs=epochs + 1,
                       run_dir=run_dir, tensorboard=False, batch_size=batch,
                       image_size=(h, w), verbose=0)
    losses = [float(v) for v in again.history["loss"]]
    reloaded = all(recipe.load_model(run_dir / f).count_params() == model.count_params()
                   for f in (BEST, LAST))
    checks = {
        "loss fell from the first epoch to the last": losses[-1] < losses[0],
        "best.keras and last.keras written and reload": reloaded,
        f"the second call resumed at epoch {epochs} and trained 1 epoch":
            (first.epochs_done, again.initial_epoch, again.epochs_done)
            == (epochs, epochs, epochs + 1),
    }
    return {"model": model_name, "profile": profile.name, "image_size": [h, w], "batch": batch,
            "train_images": len(train) * batch, "val_images": len(val) * batch,
            "parameters": int(model.count_params()), "render_s": render_s,
            "first_call": {"epochs_done": first.epochs_done, "seconds": first.seconds,
                           "images_per_s": first.images_per_second},
            "resumed_call": {"initial_epoch": again.initial_epoch,
                             "epochs_done": again.epochs_done, "seconds": again.seconds},
            "loss_by_epoch": losses,
            "val_mean_iou_by_epoch": [float(v) for v in again.history.get("val_mean_iou", [])],
            "checks": checks}


def write(result: dict, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    r = result
    lines = ["# Training check", "",
             f"{r['machine']}; {r['versions']}. `{r['command']}`: {r['model']} at "
             f"{r['image_size'][0]}x{r['image_size'][1]}, batch {r['batch']}, "
             f"{r['train_images']} train and {r['val_images']} val built-in scenes rendered in "
             f"memory ({r['render_s']:.1f} s), fed by a `keras.utils.PyDataset`.", "",
             "| epoch | training loss | val mean IoU |", "| --- | --- | --- |"]
    ious = r["val_mean_iou_by_epoch"] or [None] * len(r["loss_by_epoch"])
    for k, (loss, iou) in enumerate(zip(r["loss_by_epoch"], ious, strict=True), start=1):
        lines.append(f"| {k} | {loss:.4f} | {'-' if iou is None else f'{iou:.3f}'} |")
    first = r["first_call"]
    speed = f", {first['images_per_s']:.1f} images/s" if first["images_per_s"] else ""
    lines += ["", f"First call: {first['epochs_done']} epochs in {first['seconds']:.1f} s "
              f"(compilation included){speed}. Second call, from `last.keras` as after a "
              f"disconnect: started at epoch {r['resumed_call']['initial_epoch']}, "
              f"{r['resumed_call']['seconds']:.1f} s.", ""]
    lines += [f"- {'pass' if ok else 'FAIL'}: {what}" for what, ok in r["checks"].items()]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet")
    parser.add_argument("--profile", default="gpu", help="image size and batch size (gpu)")
    parser.add_argument("--images", type=int, default=512, help="training scenes (512)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the first call (3)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/training_check"))
    parser.add_argument("--out", type=Path, default=None, help="results file stem")
    args = parser.parse_args(argv)

    profile = config.profile(args.profile)
    if args.images < profile.batch_size:
        parser.error(f"--images must be at least the batch size, {profile.batch_size}")
    devices = hardware.detect_devices()
    result = run(args.model, profile, args.images, args.epochs, args.run_dir)
    result["machine"] = hardware.describe_machine(devices)
    result["versions"] = f"Keras {keras.__version__}, backend {devices.backend}"
    result["command"] = "python benchmarks/training_check.py " + " ".join(argv or sys.argv[1:])
    stem = args.out or RESULTS / f"training_check_{devices.backend}_{devices.kind}"
    write(result, stem)
    for what, ok in result["checks"].items():
        print(f"{'pass' if ok else 'FAIL'}: {what}")
    print(f"wrote {stem.with_suffix('.json')} and .md")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
