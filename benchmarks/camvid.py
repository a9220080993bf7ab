"""CamVid val results of the ``camvid`` recipe's runs: per-class IoU at the labels' full size.

The runs are trained first, each with one command (``cpu`` profile, 2 CPU cores), exactly as
the committed results were made; ``--recipe camvid`` sets the same values (180x240, batch 8,
24 epochs, light augmentation, median-frequency weights, Adam 1e-3)::

    C="--data camvid --data-root DIR --profile cpu --image-size 180 240 --batch-size 8 \
       --augment light --epochs 24 --quiet"
    python -m segutils train $C --model unet --class-weights median_frequency \
        --out runs/cpu/camvid/unet
    python -m segutils train $C --model unet --class-weights none \
        --out runs/cpu/camvid/unet_unweighted
    python -m segutils train $C --model fcn_staged --epochs 8 --class-weights median_frequency \
        --out runs/cpu/camvid/fcn8_staged

then this script scores every run that exists on the val split, the way published CamVid numbers
are scored (11 classes at 360x480, one confusion matrix over the split, unlabelled pixels left
out; the model runs at the size it trained at and its logits are enlarged to the labels), and
writes ``benchmarks/results/camvid.{json,md}``::

    python benchmarks/camvid.py [--data-root DIR] [--runs runs/cpu/camvid]

``make camvid`` runs all four steps (each training resumes where an earlier one stopped).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from pathlib import Path

from segutils import config

keras = config.import_quietly()

from segutils.data import source  # noqa: E402
from segutils.evaluate import evaluate, load_model  # noqa: E402
from segutils.train import callbacks as cb  # noqa: E402
from segutils.train.run_folder import training_size  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The trainings behind the committed results, as run (DIR: where CamVid lies).
COMMANDS = """
C="--data camvid --data-root DIR --profile cpu --image-size 180 240 --batch-size 8 \\
   --augment light --epochs 24 --quiet"
python -m segutils train $C --model unet --class-weights median_frequency \\
    --out runs/cpu/camvid/unet
python -m segutils train $C --model unet --class-weights none \\
    --out runs/cpu/camvid/unet_unweighted
python -m segutils train $C --model fcn_staged --epochs 8 --class-weights median_frequency \\
    --out runs/cpu/camvid/fcn8_staged
python benchmarks/camvid.py --data-root DIR
"""
#: run folder (below --runs) -> what it is
RUNS = {
    "unet": "U-Net, median-frequency weights (the recipe)",
    "unet_unweighted": "U-Net, no class weights",
    "fcn8_staged/fcn8": "FCN-8s, staged 32s -> 16s -> 8s, median-frequency weights",
}
#: Published class-mean IoU on CamVid *test* (11 classes, 360x480), for context.
PUBLISHED = {"SegNet": 58.96, "ENet": 52.85, "DeepLab-LargeFOV": 50.84, "FCN-32s": 49.34,
             "U-Net": 48.70, "SegNet (original paper)": 50.2}
RARE = ("pole", "sign", "pedestrian", "bicyclist")


def _training(run: Path) -> dict:
    """Epochs, training seconds (every epoch of the run, all stages of a staged run)."""
    stages = [run] if run.name != "fcn8" else [run.parent / s for s in ("fcn32", "fcn16", "fcn8")]
    seconds, epochs, speeds = 0.0, 0, []
    for stage in stages:
        rows = cb.read_history(stage / cb.HISTORY)
        seconds += sum(r["seconds"] for r in rows)
        epochs += len(rows)
        report = json.loads((stage / cb.REPORT).read_text())
        if report.get("images_per_second"):
            speeds.append(report["images_per_second"])
    report = json.loads((run / cb.REPORT).read_text())
    return {"epochs": epochs, "training_seconds": round(seconds, 1),
            "training_minutes": round(seconds / 60, 1), "parameters": report["parameters"],
            "train_images_per_second": round(min(speeds), 2) if speeds else None,
            "best_epoch": report["best_epoch"],
            "best_val_miou_at_training_size": round(report["best_value"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where CamVid lies (default: $SEGUTILS_CAMVID, else data/camvid)")
    parser.add_argument("--runs", type=Path, default=config.runs_dir() / "cpu" / "camvid")
    parser.add_argument("--out", type=Path, default=RESULTS / "camvid")
    args = parser.parse_args()
    camvid = source.open_source("camvid", args.data_root)
    classes = camvid.classes()
    val = camvid.dataset("val", batch_size=4, shuffle=False, cache=False)
    rows = {}
    for name, about in RUNS.items():
        run = args.runs / name
        if not (run / cb.BEST).is_file():
            print(f"skipped {name}: no {run / cb.BEST}")
            continue
        size = training_size(run)
        report = evaluate(load_model(run), val, classes, image_size=size)
        per_class = dict(zip(classes.names, (float(v) for v in report.scores["per_class_iou"]),
                             strict=True))
        rows[name] = {"about": about, "image_size": list(size) if size else None,
                      "val_miou": round(report.mean_iou, 4),
                      "val_pixel_accuracy": round(report.pixel_accuracy, 4),
                      "val_mean_accuracy": round(report.mean_accuracy, 4),
                      "rare_class_miou": round(sum(per_class[c] for c in RARE) / len(RARE), 4),
                      "per_class_iou": {k: round(v, 4) for k, v in per_class.items()},
                      **_training(run)}
        print(f"{name}: val mIoU {report.mean_iou:.3f}")
    machine = {"cpu": _cpu(), "cores": __import__("os").cpu_count(),
               "python": platform.python_version(), "keras": keras.__version__,
               "backend": keras.config.backend()}
    doc = {"machine": machine, "split": "val (101 images, 360x480)", "runs": rows,
           "published_test_miou": PUBLISHED}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(doc, classes.names))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _markdown(doc: dict, names) -> str:
    runs = doc["runs"]
    lines = [f"# CamVid val: the `camvid` recipe measured on {doc['machine']['cores']} CPU cores",
             "",
             f"Machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores, no GPU; "
             f"Python {doc['machine']['python']}, Keras {doc['machine']['keras']} "
             f"({doc['machine']['backend']}). Scored on {doc['split']}: 11 classes, one "
             "confusion matrix over the split, unlabelled pixels left out, predictions at the "
             "labels' full size. Produced by `python benchmarks/camvid.py` after the training "
             "commands below (`make camvid` runs them all; `--recipe camvid` sets the same values "
             "as the first one):", "", "```bash", *COMMANDS.strip().splitlines(), "```", "",
             "| run | input | epochs | training | val mIoU | pixel acc. | rare-class mIoU |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in runs.items():
        size = "x".join(map(str, r["image_size"])) if r["image_size"] else "own size"
        lines.append(f"| {r['about']} (`{name}`) | {size} | {r['epochs']} | "
                     f"{r['training_minutes']} min | {r['val_miou']:.3f} | "
                     f"{r['val_pixel_accuracy']:.3f} | {r['rare_class_miou']:.3f} |")
    lines += ["", "Training is the sum of the epochs' wall times (each run's history.csv), on a "
              "machine that may have had other work on its cores.", "", "Per-class IoU on val:",
              "",
              "| class | " + " | ".join(f"`{n}`" for n in runs) + " |",
              "| --- | " + " | ".join("---" for _ in runs) + " |"]
    for c in names:
        cells = [r["per_class_iou"][c] for r in runs.values()]
        lines.append(f"| {c} | " + " | ".join("-" if math.isnan(v) else f"{v:.3f}"
                                              for v in cells) + " |")
    lines += ["", "Rare-class mIoU is the mean IoU of pole, sign, pedestrian and bicyclist.", "",
              "Published class-mean IoU on CamVid **test** (not val), for context: "
              + ", ".join(f"{k} {v}" for k, v in doc["published_test_miou"].items()) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
