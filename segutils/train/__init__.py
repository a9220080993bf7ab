"""Training that survives interruptions: a documented recipe around ``model.fit``.

The usual run, as notebook 08 and ``python -m segutils train`` do it::

    from segutils import train
    acc = train.setup()                      # mixed precision + XLA on a GPU, float32 on a CPU
    with acc.scope():                        # a distribution strategy when there are several GPUs
        model = segutils.models.registry.build("unet", n_classes, profile=P)
        train.compile_model(model, n_classes)   # ignore-aware loss, streaming mean IoU
    report = train.fit(model, train_ds, val_ds, epochs=P.epochs, run_dir=run_dir)
    train.plot_history(run_dir)

Rerunning the same ``fit`` after a crash, a kill or a Colab disconnect resumes from the last
completed epoch (weights and optimizer state), keeps ``history.csv`` whole and never replaces
``best.keras`` with a worse model. See :mod:`segutils.train.callbacks` for the files of a run.

Modules: :mod:`~segutils.train.hardware` (devices, precision, XLA, distribution,
out-of-memory advice), :mod:`~segutils.train.callbacks`, :mod:`~segutils.train.recipe`
(compile, fit, report, plots), :mod:`~segutils.train.runs` (whole runs by name, staged FCN),
:mod:`~segutils.train.command` (the CLI). Names load on first use, so that importing the
command-line parser does not import Keras.
"""

import importlib

_EXPORTS = {
    "Accelerator": "hardware", "Devices": "hardware", "OutOfMemory": "hardware",
    "choose_jit": "hardware", "choose_precision": "hardware", "choose_strategy": "hardware",
    "deterministic": "hardware",
    "detect_devices": "hardware", "explain_oom": "hardware", "setup": "hardware",
    "AtomicBackupAndRestore": "callbacks", "Checkpoints": "callbacks",
    "CosineSchedule": "callbacks", "HistoryCSV": "callbacks", "PredictionImages": "callbacks",
    "StopOnNaN": "callbacks", "TrainingDiverged": "callbacks", "read_history": "callbacks",
    "resume_point": "callbacks",
    "TrainingReport": "recipe", "clear_run": "recipe", "compile_model": "recipe",
    "fit": "recipe", "load_model": "recipe", "load_report": "recipe", "plot_history": "recipe",
    "Data": "runs", "default_run_dir": "runs", "load_data": "runs", "train": "runs",
    "train_fcn_staged": "runs",
}
_SUBMODULES = {"callbacks", "command", "hardware", "recipe", "runs"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"segutils.train.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"segutils.train.{name}")
    raise AttributeError(f"module 'segutils.train' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
