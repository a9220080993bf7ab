"""Training throughput (images/s) of unet_mini, unet and fcn8 at the profiles' sizes.

Each model is built through the registry exactly as the notebooks build it for the profile
(``registry.build(name, 7, profile=P)``), compiled with segutils' recipe (ignore-aware loss,
streaming mean IoU) and trained on random in-memory batches, so the figure is the model's speed
and not the input pipeline's. After a warm-up (tracing, XLA compilation, first allocations) the
script times whole ``train_on_batch`` steps until ``--seconds`` have passed. The achieved FLOP
rate uses the analytic count of :mod:`segutils.models.flops`: a training step costs about three
forward passes (the backward pass computes gradients for activations and for weights, each about
as costly as the forward pass).

On a CPU it runs float32 with XLA off and on. On a GPU it compares float32 with mixed
bfloat16 and float16, each with XLA off and on, and gives the achieved FLOP rate as a fraction of
the GPU's peak. Nothing in it needs TensorFlow: with ``KERAS_BACKEND=jax`` it runs where
TensorFlow is not installed (``benchmarks/gpu_check.sh`` runs it so on a GPU machine)::

    flock /tmp/cpu.lock python benchmarks/training.py                 # this machine's CPU
    KERAS_BACKEND=jax python benchmarks/training.py --profiles gpu cpu  # on a GPU machine

Results go to benchmarks/results/training{,_<device>}.{json,md} (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from segutils import config

keras = config.import_quietly()

from segutils.models import registry  # noqa: E402
from segutils.models.flops import count_flops  # noqa: E402
from segutils.train import hardware  # noqa: E402
from segutils.train.recipe import compile_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("unet_mini", "unet", "fcn8")
#: Compared on a GPU, each with XLA off and on; a CPU runs float32 only.
GPU_PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
N_CLASSES = 7

#: Dense peak TFLOP/s from NVIDIA's datasheets (no sparsity): (float32 via TF32 tensor cores,
#: float16/bfloat16 tensor cores). XLA runs float32 convolutions on TF32 tensor cores on these.
GPU_PEAKS = {
    "H200": (494.7, 989.4), "H100 SXM": (494.7, 989.4), "H100 PCIe": (378.0, 756.0),
    "H100": (494.7, 989.4), "A100": (156.0, 312.0), "L4": (60.0, 121.0),
    "T4": (8.1, 65.0), "V100": (15.7, 125.0),
}


def peak_tflops(name: str | None, precision: str) -> float | None:
    if not name:
        return None
    for key, (fp32, fp16) in GPU_PEAKS.items():
        if key.lower() in name.lower():
            return fp16 if precision.startswith("mixed") else fp32
    return None


def measure(name: str, p, precision: str, jit: bool, seconds: float, devices) -> dict:
    """Images per second of training steps of model ``name`` sized for profile ``p``."""
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    # On the gpu profile the FCN is the paper's VGG16 model; random weights time the same.
    options = {"weights": None} if p.name == "gpu" and name.startswith("fcn") else {}
    model = registry.build(name, N_CLASSES, profile=p, **options)
    compile_model(model, N_CLASSES, jit_compile=jit)
    h, w = p.image_size
    rng = np.random.default_rng(0)
    images = rng.random((p.batch_size, h, w, 3), dtype=np.float32)
    masks = rng.integers(0, N_CLASSES, (p.batch_size, h, w)).astype(np.int32)
    start = time.perf_counter()
    for _ in range(3):  # tracing, compilation, allocation
        model.train_on_batch(images, masks)
    warmup = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while True:
        loss = model.train_on_batch(images, masks)
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 5:
            break
    float(np.asarray(loss[0] if isinstance(loss, list) else loss))  # wait for the device
    elapsed = time.perf_counter() - start
    flops = count_flops(model, (h, w))
    speed = steps * p.batch_size / elapsed
    keras.mixed_precision.set_global_policy("float32")
    return {"model": name, "profile": p.name, "image_size": [h, w], "batch": p.batch_size,
            "precision": precision, "xla": jit, "parameters": int(model.count_params()),
            "gflops_forward_per_image": flops / 1e9, "images_per_s": speed,
            "ms_per_step": 1000 * elapsed / steps, "steps": steps, "warmup_s": warmup,
            "achieved_tflops": 3 * flops * speed / 1e12}


def table(rows, peak_note: bool) -> list[str]:
    head = "| model | profile | size | batch | precision | XLA | params | GFLOPs/img (fwd) " \
           "| images/s | ms/step | warm-up s | TFLOP/s |" + (" % of peak |" if peak_note else "")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        line = (f"| {r['model']} | {r['profile']} | {r['image_size'][0]}x{r['image_size'][1]} "
                f"| {r['batch']} | {r['precision']} | {'on' if r['xla'] else 'off'} "
                f"| {r['parameters']:,} | {r['gflops_forward_per_image']:.3f} "
                f"| {r['images_per_s']:.1f} | {r['ms_per_step']:.0f} | {r['warmup_s']:.1f} "
                f"| {r['achieved_tflops']:.3f} |")
        if peak_note:
            frac = r.get("fraction_of_peak")
            line += f" {100 * frac:.1f} |" if frac is not None else " - |"
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--profiles", nargs="+", default=["quick", "cpu"])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per setting")
    parser.add_argument("--precisions", nargs="+", default=list(GPU_PRECISIONS),
                        choices=GPU_PRECISIONS, help="on a GPU: the precisions to compare")
    parser.add_argument("--out", type=Path, default=None, help="results file stem")
    args = parser.parse_args()

    devices = hardware.detect_devices()
    gpu = hardware.gpu_model(devices)
    if devices.kind == "cpu":
        settings = [("float32", False), ("float32", True)]
    else:
        settings = [(precision, jit) for precision in args.precisions for jit in (False, True)]
    rows, load_before = [], os.getloadavg()[0]
    for profile_name in args.profiles:
        p = config.profile(profile_name)
        for name in args.models:
            for precision, jit in settings:
                row = measure(name, p, precision, jit, args.seconds, devices)
                peak = peak_tflops(gpu, precision)
                row["fraction_of_peak"] = row["achieved_tflops"] / peak if peak else None
                rows.append(row)
                print(table([row], bool(gpu))[-1], flush=True)

    machine = hardware.describe_machine(devices)
    versions = f"Keras {keras.__version__}, backend {devices.backend}"
    if "tensorflow" in __import__("sys").modules:
        versions += f", TensorFlow {__import__('tensorflow').__version__}"
    load = (load_before, os.getloadavg()[0])
    result = {"machine": machine, "versions": versions, "platform": platform.platform(),
              "seconds_per_setting": args.seconds, "load_average_1min": load, "rows": rows}
    stem = args.out or RESULTS / ("training" if not gpu else f"training_{devices.backend}_gpu")
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Training throughput", "",
             f"{machine}; {versions}. Random in-memory batches (the model's speed, not the "
             "input pipeline's), models built by `registry.build(name, 7, profile=P)` and "
             "compiled by `segutils.train.compile_model`; each setting timed for "
             f"{args.seconds:g} s after 3 warm-up steps (`python benchmarks/training.py`). "
             "TFLOP/s = 3 x forward FLOPs (segutils.models.flops, multiply-adds x 2) x images/s. "
             "Warm-up: the first 3 steps (tracing, XLA compilation).",
             "", f"1-minute load average {load[0]:.1f} before and {load[1]:.1f} after (above "
             f"{os.cpu_count()}, other jobs shared the cores and the figures are pessimistic).",
             "", *table(rows, bool(gpu)), ""]
    if not gpu:
        lines += ["No GPU was available for this measurement. On a GPU machine "
                  "`bash benchmarks/gpu_check.sh` adds float32 against mixed bfloat16 and "
                  "float16, XLA on and off, the fraction of the GPU's peak and a short real "
                  "training run with a resume.", ""]
    stem.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {stem.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
