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
``best.keras`` with a worse model. See :mod:`segutils.train.run_folder` for the files of a run.

Modules: :mod:`~segutils.train.hardware` (devices, precision, XLA, distribution,
out-of-memory advice), :mod:`~segutils.train.run_folder` (the files of a run),
:mod:`~segutils.train.callbacks` (what writes them), :mod:`~segutils.train.recipe` (compile,
fit, report, plots, the model loader), :mod:`~segutils.train.runs` (whole runs by name, recipes,
staged FCN),
and :mod:`segutils.cli.train` (the command line). Names load on first use, so that importing
the command-line parser does not import Keras.
"""

import importlib

_EXPORTS = {
    "Accelerator": "hardware", "Devices": "hardware", "OutOfMemory": "hardware",
    "choose_jit": "hardware", "choose_precision": "hardware", "choose_strategy": "hardware",
    "deterministic": "hardware",
    "detect_devices": "hardware", "explain_oom": "hardware", "setup": "hardware",
    "AtomicBackupAndRestore": "callbacks", "Checkpoints": "callbacks",
    "CosineSchedule": "callbacks", "HistoryCSV": "callbacks", "PredictionImages": "callbacks",
    "StopOnNaN": "callbacks", "TrainingDiverged": "callbacks",
    "read_history": "run_folder", "resume_point": "run_folder", "clear_run": "run_folder",
    "default_run_dir": "run_folder", "existing_run": "run_folder",
    "training_size": "run_folder",
    "TrainingReport": "recipe", "compile_model": "recipe",
    "fit": "recipe", "load_model": "recipe", "plot_history": "recipe",
    "Data": "runs", "Recipe": "runs", "class_weights": "runs",
    "load_data": "runs", "recipe": "runs", "train_model": "runs", "train_fcn_staged": "runs",
    "register_custom_objects": "recipe",
}
_SUBMODULES = {"callbacks", "hardware", "recipe", "run_folder", "runs"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"segutils.train.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"segutils.train.{name}")
    if name == "train":  # renamed: the package and the function shared one name
        raise AttributeError("segutils.train.train is now segutils.train.train_model "
                             "(same arguments)")
    raise AttributeError(f"module 'segutils.train' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
