"""Input-pipeline throughput: segutils' tf.data pipeline versus a plain Python generator.

Both read the same built-in dataset (PNG files), resize to the same size and batch; they are run
side by side, alternating, in one process, so the ratio is meaningful even on a noisy machine.
The Python generator is the usual tutorial loader: Pillow reads, NumPy resize, one sample at a
time. Results go to benchmarks/results/pipeline.{json,md}.

    python benchmarks/pipeline.py [--n 400] [--size 128] [--batch 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from segutils import config

keras = config.import_quietly()
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from segutils.data import find_pairs, synthetic  # noqa: E402
from segutils.data.pipeline import make_dataset  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def python_generator(pairs, size, batch):
    """One sample at a time in Python: read, resize (bilinear image, nearest mask), stack."""
    for start in range(0, len(pairs), batch):
        images, masks = [], []
        for pair in pairs[start:start + batch]:
            with Image.open(pair.image) as im:
                images.append(np.asarray(im.convert("RGB").resize(size[::-1], Image.BILINEAR),
                                         np.float32) / 255.0)
            with Image.open(pair.mask) as m:
                masks.append(np.asarray(m.resize(size[::-1], Image.NEAREST), np.int32))
        yield np.stack(images), np.stack(masks)


def images_per_second(batches) -> float:
    start, count = time.perf_counter(), 0
    for images, _ in batches:
        count += len(images)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = (args.size, args.size)

    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic.generate(Path(tmp) / "street", n=args.n, size=size, seed=0,
                                  progress=False)
        pairs = find_pairs(root, "train")
        runs = {"python_generator": [], "tf_data_first_epoch": [], "tf_data_cached_epoch": []}
        for _ in range(args.repeats):
            runs["python_generator"].append(
                images_per_second(python_generator(pairs, size, args.batch)))
            ds = make_dataset(root, "train", image_size=size, batch_size=args.batch, cache=True)
            runs["tf_data_first_epoch"].append(images_per_second(ds))
            runs["tf_data_cached_epoch"].append(images_per_second(ds))

    median = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "tensorflow": tf.__version__,
        "images": len(pairs),
        "size": size,
        "batch": args.batch,
        "images_per_s_median": median,
        "runs": runs,
        "ratio_tf_data_first_epoch_vs_python": median["tf_data_first_epoch"]
        / median["python_generator"],
        "ratio_tf_data_cached_vs_python": median["tf_data_cached_epoch"]
        / median["python_generator"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Input pipeline throughput",
        "",
        f"{len(pairs)} built-in training images, {size[0]}x{size[1]}, batch {args.batch}; "
        f"{result['machine']}, TensorFlow {tf.__version__}; median of {args.repeats} runs "
        "taken side by side (`python benchmarks/pipeline.py`).",
        "",
        "| loader | images/s | vs Python generator |",
        "| --- | --- | --- |",
    ]
    for key, label in (("python_generator", "Python generator (Pillow + NumPy)"),
                       ("tf_data_first_epoch", "`make_dataset`, first epoch (decode)"),
                       ("tf_data_cached_epoch", "`make_dataset`, cached epoch")):
        ratio = median[key] / median["python_generator"]
        lines.append(f"| {label} | {median[key]:.0f} | {ratio:.1f}x |")
    (RESULTS / "pipeline.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
