"""Confusion-matrix speed: 1,000 masks of 256x256, counted in chunks of 100 masks.

The evaluation of a whole dataset is one confusion matrix, so its cost per mask decides whether
scoring the full validation set (rather than a sample) is practical. Compared, on the same uint8
masks (5% ignored pixels, 80% of predictions right):

* ``segutils.metrics.confusion_matrix`` (NumPy: one bincount over 16-bit codes);
* the straightforward NumPy version it replaced (drop ignored pixels, int64 codes, bincount);
* per-class boolean loops (``((t == i) & (p == j)).sum()`` for every pair: n^2 passes), the way
  many tutorials compute IoU;
* the streaming Keras metric ``segutils.metrics.MeanIoU.update_state`` (one-hot matrix product)
  and ``keras.metrics.MeanIoU(ignore_class=255)``, both given class IDs, eager, on the CPU.

    python benchmarks/confusion_matrix.py [--n 1000] [--size 256] [--chunk 100] [--repeats 3]

Results go to benchmarks/results/confusion_matrix.{json,md}. Run it alone on the machine
(``flock /tmp/cpu.lock``): timings of a shared CPU mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from segutils import config

keras = config.import_quietly()

from segutils.metrics import MeanIoU, confusion_matrix  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def compacting_int64(t, p, n, ignore=255):
    """The earlier implementation: boolean compaction, int64 codes, bincount."""
    t, p = t.astype(np.int64).ravel(), p.astype(np.int64).ravel()
    keep = t != ignore
    return np.bincount(t[keep] * n + p[keep], minlength=n * n).reshape(n, n)


def per_class_loops(t, p, n, ignore=255):
    valid = t != ignore
    return np.array([[int(((t == i) & (p == j) & valid).sum()) for j in range(n)]
                     for i in range(n)])


def segutils_keras(t, p, n, ignore=255):
    metric = MeanIoU(n, ignore)
    metric.update_state(t, p)
    return metric.confusion_matrix()


def keras_builtin(t, p, n, ignore=255):
    metric = keras.metrics.MeanIoU(num_classes=n, ignore_class=ignore)
    metric.update_state(t, p)
    return np.asarray(metric.total_cm).astype(np.int64)


METHODS = {
    "segutils.metrics.confusion_matrix": confusion_matrix,
    "NumPy, compaction + int64 codes": compacting_int64,
    "per-class boolean loops": per_class_loops,
    "segutils.metrics.MeanIoU (Keras, eager)": segutils_keras,
    "keras.metrics.MeanIoU (ignore_class=255)": keras_builtin,
}


def make_masks(n_masks, size, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, (n_masks, size, size), dtype=np.uint8)
    truth[rng.random(truth.shape) < 0.05] = 255
    wrong = rng.random(truth.shape) < 0.2
    pred = np.where(wrong, rng.integers(0, n_classes, truth.shape, dtype=np.uint8), truth)
    pred[pred == 255] = 0
    return truth, pred


def time_method(fn, truth, pred, n, chunk, repeats, max_chunks=None):
    """Median seconds per chunk over all chunks and repeats, and the summed matrix."""
    starts = list(range(0, len(truth), chunk))[:max_chunks]
    fn(truth[:chunk], pred[:chunk], n)  # warm-up (tracing, first allocations)
    times, total = [], None
    for _ in range(repeats):
        total = np.zeros((n, n), np.int64)
        for s in starts:
            begin = time.perf_counter()
            total += fn(truth[s:s + chunk], pred[s:s + chunk], n)
            times.append(time.perf_counter() - begin)
    return statistics.median(times), total, len(starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--classes", type=int, nargs="+", default=[7, 21])
    args = parser.parse_args()

    results = []
    for n in args.classes:
        truth, pred = make_masks(args.n, args.size, n)
        reference = None
        for name, fn in METHODS.items():
            slow = name == "per-class boolean loops"
            # the n^2 loops are timed on 2 chunks only (the per-chunk cost is what matters)
            seconds, total, chunks = time_method(fn, truth, pred, n, args.chunk,
                                                 1 if slow else args.repeats,
                                                 2 if slow else None)
            if reference is None:
                reference = total
            agrees = chunks * args.chunk < args.n or bool(np.array_equal(total, reference))
            results.append({"classes": n, "method": name, "s_per_100_masks":
                            seconds * 100 / args.chunk,
                            "s_for_all_masks": seconds * len(truth) / args.chunk,
                            "chunks_timed": chunks, "agrees_with_segutils": agrees})
            print(f"{n:3d} classes  {name:45s} {seconds * 100 / args.chunk * 1000:8.1f} ms "
                  f"per 100 masks", flush=True)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, no GPU"
    doc = {"machine": machine, "python": platform.python_version(),
           "numpy": np.__version__, "keras": keras.__version__, "masks": args.n,
           "size": [args.size, args.size], "chunk": args.chunk, "repeats": args.repeats,
           "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "confusion_matrix.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Confusion matrix speed",
        "",
        f"{args.n} masks of {args.size}x{args.size} (uint8, 5% ignored), counted in chunks of "
        f"{args.chunk}; {machine}, NumPy {np.__version__}, Keras {keras.__version__} "
        f"(TensorFlow backend, CPU). Median time per chunk over {args.repeats} passes "
        "(`python benchmarks/confusion_matrix.py`; the per-class loops on 2 chunks, once).",
        "",
        "| classes | method | ms per 100 masks | s for all masks | same matrix |",
        "| ---: | --- | ---: | ---: | :---: |",
    ]
    for r in results:
        lines.append(f"| {r['classes']} | {r['method']} | {1000 * r['s_per_100_masks']:.0f} | "
                     f"{r['s_for_all_masks']:.2f} | {'yes' if r['agrees_with_segutils'] else 'NO'}"
                     " |")
    (RESULTS / "confusion_matrix.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
