"""Every registered model at CamVid's size (360x480): size, cost, reach and CPU speed.

For each name of ``segutils.models.registry.available()``, built at its own full size (each
builder's defaults: the paper's widths, random weights, 11 classes as CamVid):

* parameters, and GFLOPs of one forward pass on one 360x480 image (analytic count, 2 per
  multiply-add: :mod:`segutils.models.flops`);
* output stride and receptive field, measured (:mod:`segutils.evaluate.anatomy`);
* training images/s (``train_on_batch``, one image a step, float32, after a warm-up step) and
  prediction images/s (``predict_on_batch``, one image, median of two calls after a warm-up)
  on this machine's CPU.

Where ``benchmarks/results/camvid.json`` holds a CamVid run of a model (``make camvid``), its
val mIoU is listed beside, with the size that run used.

    flock /tmp/cpu.lock python benchmarks/models.py [--models NAME ...] [--seconds 10]

Results: benchmarks/results/models.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from segutils import config

keras = config.import_quietly()

from segutils.evaluate import anatomy, latency  # noqa: E402
from segutils.models import registry  # noqa: E402
from segutils.models.flops import count_flops  # noqa: E402
from segutils.train import hardware  # noqa: E402
from segutils.train.recipe import compile_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (360, 480)
N_CLASSES = 11
BATCH = 1  # one image per step: the heaviest models take tens of seconds a step here


def train_speed(model, seconds: float) -> tuple[float, int]:
    """Training images/s over at least ``seconds`` and 1 step, after 1 warm-up step."""
    compile_model(model, N_CLASSES, jit_compile=False)
    rng = np.random.default_rng(0)
    images = rng.random((BATCH, *SIZE, 3), dtype=np.float32)
    masks = rng.integers(0, N_CLASSES, (BATCH, *SIZE)).astype(np.int32)
    model.train_on_batch(images, masks)  # tracing and allocation
    steps, start = 0, time.perf_counter()
    while steps < 1 or time.perf_counter() - start < seconds:
        model.train_on_batch(images, masks)
        steps += 1
    return steps * BATCH / (time.perf_counter() - start), steps


def measure(name: str, seconds: float) -> dict:
    keras.utils.set_random_seed(0)
    model = registry.build(name, N_CLASSES)
    row = {"model": name, "parameters": int(model.count_params()),
           "gflops": count_flops(model, SIZE) / 1e9,
           "output_stride": anatomy.output_stride(model, (96, 144)),
           "receptive_field": list(anatomy.receptive_field(model, SIZE))}
    speed = latency(model, SIZE, batch_size=BATCH, warmup=1, repeats=2)
    row["predict_images_per_s"] = speed["images_per_s"]
    row["train_images_per_s"], row["train_steps"] = train_speed(model, seconds)
    return row


def camvid_runs() -> dict:
    path = RESULTS / "camvid.json"
    if not path.is_file():
        return {}
    runs = json.loads(path.read_text())["runs"]
    found = {}
    for key, run in runs.items():
        model = key.split("/")[-1]
        if model in registry.available() and "unweighted" not in key:
            found[model] = {"val_miou": run["val_miou"], "about": run["about"],
                            "image_size": run["image_size"], "parameters": run["parameters"]}
    return found


def markdown(rows, runs, machine, versions, load) -> str:
    lines = [
        "# Every registered model at 360x480 (CamVid's size)", "",
        f"{machine}; {versions}. Built at each builder's full size (the paper's widths), random "
        f"weights, {N_CLASSES} classes, float32, no XLA. GFLOPs: one forward pass on one image, "
        "2 per multiply-add. Output stride and receptive field measured "
        "(`segutils.evaluate.anatomy`): a field of 360x480 means the whole image. Training and "
        f"prediction one image at a time (batch {BATCH}). Command: "
        f"`python benchmarks/models.py`. Load average before the run: {load:.2f} on "
        f"{os.cpu_count()} cores.", "",
        "| model | parameters | GFLOPs | output stride | receptive field | train images/s "
        "| predict images/s |",
        "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        field = "x".join(str(v) for v in r["receptive_field"])
        lines.append(f"| {r['model']} | {r['parameters']:,} | {r['gflops']:.1f} "
                     f"| {r['output_stride']} | {field} | {r['train_images_per_s']:.2f} "
                     f"| {r['predict_images_per_s']:.2f} |")
    lines += ["", "## CamVid val mIoU of the models trained on it here", ""]
    if runs:
        lines += ["Trained on this machine's CPU by `make camvid` (scored on CamVid val at "
                  "360x480; `benchmarks/results/camvid.md`). These runs use the `cpu` "
                  "profile's slim widths, not the full sizes above.", "",
                  "| model | run | trained at | parameters | val mIoU |",
                  "| --- | --- | --- | --- | --- |"]
        for model, run in runs.items():
            size = "x".join(str(v) for v in run["image_size"])
            lines.append(f"| {model} | {run['about']} | {size} | {run['parameters']:,} "
                         f"| {run['val_miou']:.3f} |")
    lines += ["", "The other models have not been trained on CamVid here: at these speeds, the "
              "full-size encoders need a GPU for the 80-epoch recipe.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(registry.available()))
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="timed seconds of training per model (at least 1 step)")
    parser.add_argument("--out", type=Path, default=RESULTS / "models")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    devices = hardware.detect_devices()
    rows = []
    for name in args.models:
        rows.append(measure(name, args.seconds))
        r = rows[-1]
        print(f"{name:<24} {r['parameters']:>12,} params {r['gflops']:8.1f} GFLOPs  OS "
              f"{r['output_stride']:>2}  RF {r['receptive_field']}  train "
              f"{r['train_images_per_s']:.2f}/s  predict {r['predict_images_per_s']:.2f}/s",
              flush=True)
    machine = hardware.describe_machine(devices)
    versions = f"Keras {keras.__version__}, backend {devices.backend}"
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        versions += f", TensorFlow {tf.__version__}"
    runs = camvid_runs()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"machine": machine, "versions": versions, "image_size": list(SIZE), "batch": BATCH,
         "load_before": load, "rows": rows, "camvid": runs}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, runs, machine, versions, load))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
