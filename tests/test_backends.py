"""segutils on every Keras backend: the model side needs no TensorFlow, and saved models travel.

The models, losses, metrics, the bilinear initializer and the compile/fit recipe are written with
``keras`` and ``keras.ops`` only. ``tf.data`` stays the input pipeline (Keras takes it on every
backend), so TensorFlow may only be imported lazily, by the data pipeline, TensorBoard or the
hardware probe.

* A static check: none of those modules imports TensorFlow at module level.
* A run on the JAX backend in a fresh interpreter where ``import tensorflow`` fails as it does
  when TensorFlow is not installed: one model of every builder module builds at an odd size
  and returns logits at the input size; ``fit`` trains into a run folder and resumes; the GPU
  check's two benchmark scripts run.
* A model saved on one backend reloads on the other and predicts the same logits.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).resolve().parent.parent / "segutils"
#: The modules that must work without TensorFlow (packages: every module inside).
KERAS_ONLY = ["models", "losses.py", "metrics", "upsampling.py", "train/recipe.py",
              "train/callbacks.py", "train/run_folder.py", "train/hardware.py"]


def _files(entry: str) -> list[Path]:
    path = PACKAGE / entry
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _module_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of the imports that run when ``path`` is imported: everything outside
    function bodies (class bodies and ``if``/``try`` blocks at the top run at import time)."""
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module))
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_the_import_reader_sees_top_level_and_skips_functions(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text(textwrap.dedent("""
        import keras
        try:
            import tensorflow as tf
        except ImportError:
            tf = None
        def lazy():
            import tensorflow
        class C:
            from tensorflow import data
    """))
    assert _module_level_imports(sample) == [(2, "keras"), (4, "tensorflow"), (10, "tensorflow")]


@pytest.mark.parametrize("entry", KERAS_ONLY)
def test_keras_only_modules_do_not_import_tensorflow_at_import_time(entry):
    bad = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
           for path in _files(entry) for line, name in _module_level_imports(path)
           if name.split(".")[0] in ("tensorflow", "tf_keras", "tensorboard")]
    assert not bad, ("use keras / keras.ops, or import TensorFlow inside the function that "
                     "needs it: " + "; ".join(bad))


#: Makes ``import tensorflow`` (and tensorboard) fail exactly as when they are not installed.
NO_TENSORFLOW = '''
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''

WITHOUT_TENSORFLOW = NO_TENSORFLOW + '''
import json, math, sys, warnings
import numpy as np
from segutils import config
keras = config.import_quietly()
from segutils.models import registry
from segutils.train import recipe

out = {"backend": keras.config.backend(), "models": {}}
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (2, 37, 45, 3)).astype("float32")
y = rng.integers(0, 5, (2, 37, 45)).astype("int32")
y[:, :3] = 255  # ignored pixels
# One model per builder module, so every model file runs its code with TensorFlow blocked:
# baseline, U-Net, FCN with the VGG encoder, SegNet's pooling indices and a nested
# keras.applications encoder. The point here is what gets imported, so they only predict:
# `make test-jax` trains the course's models a step on JAX, and unet_mini trains below.
# mobilenet_pspnet's bins and resizes travel between backends in the test further down.
for name in sys.argv[2].split(","):
    model = registry.build(name, 5, profile="quick")
    out["models"][name] = list(model.predict(x, verbose=0).shape)


class Batches(keras.utils.PyDataset):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, k):
        return x, y


model = registry.build("unet_mini", 5, profile="quick")
recipe.compile_model(model, 5)
run = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    first = recipe.fit(model, Batches(2), Batches(1), epochs=2, run_dir=run, verbose=0)
out["no_tensorboard_warning"] = any("no TensorBoard logs" in str(w.message) for w in caught)
again = recipe.fit(recipe.load_model(run + "/last.keras"), Batches(2), Batches(1), epochs=3,
                   run_dir=run, verbose=0)
out["fit"] = [first.epochs_done, again.initial_epoch, again.epochs_done]
out["tensorflow_imported"] = any(m.partition(".")[0] == "tensorflow" for m in sys.modules)
print("RESULT " + json.dumps(out))
'''


def _run(code: str, *args: str, backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=900)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"{backend} run failed:\n{done.stderr[-4000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


#: One model of every builder module (the test below checks that none is missing).
ONE_PER_MODULE = ("per_pixel", "unet_mini", "fcn8", "segnet_mini", "mobilenet_fcn8")


def test_models_train_and_resume_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    from segutils.models import registry

    modules = {registry.BUILDERS[n].partition(":")[0] for n in registry.available()}
    assert {registry.BUILDERS[n].partition(":")[0] for n in ONE_PER_MODULE} >= modules - {
        "segutils.models.pyramid"}  # PSPNet and DeepLab: the reload test below runs pyramid
    out = _run(WITHOUT_TENSORFLOW, str(tmp_path / "run"), ",".join(ONE_PER_MODULE),
               backend="jax")
    assert out["backend"] == "jax"
    assert not out["tensorflow_imported"]
    assert list(out["models"]) == list(ONE_PER_MODULE)
    for name, shape in out["models"].items():
        assert shape == [2, 37, 45, 5], f"{name} gave logits of shape {shape}"
    assert out["fit"] == [2, 2, 3]  # trained 2 epochs; the rerun resumed at 2 and did the 3rd
    assert out["no_tensorboard_warning"]  # says why there are no TensorBoard logs
    assert (tmp_path / "run" / "best.keras").is_file()


BENCHMARKS = PACKAGE.parent / "benchmarks"

#: The two benchmark scripts the GPU check runs, tiny, with TensorFlow blocked.
BENCHMARKS_WITHOUT_TENSORFLOW = NO_TENSORFLOW + '''
import json, runpy, sys
bench, out = sys.argv[1], sys.argv[2]
# The per-pixel classifier: the scripts' code is the same for every model, and on JAX compiling
# a U-Net's step without XLA (op by op) would take most of this test's time.
runs = {
    "training.py": ["--models", "per_pixel", "--profiles", "quick", "--seconds", "0.2",
                    "--out", out + "/speed"],
    "training_check.py": ["--model", "per_pixel", "--profile", "quick", "--images", "32",
                          "--epochs", "2", "--run-dir", out + "/run", "--out", out + "/check"],
}
codes = {}
for script, args in runs.items():
    sys.argv = [script, *args]
    try:
        runpy.run_path(f"{bench}/{script}", run_name="__main__")
        codes[script] = 0
    except SystemExit as stop:
        codes[script] = stop.code
imported = any(m.partition(".")[0] == "tensorflow" for m in sys.modules)
print("RESULT " + json.dumps({"exit": codes, "tensorflow_imported": imported}))
'''


def test_the_gpu_checks_benchmarks_run_on_jax_without_tensorflow(tmp_path):
    """benchmarks/gpu_check.sh runs these two where TensorFlow cannot be installed."""
    pytest.importorskip("jax")
    out = _run(BENCHMARKS_WITHOUT_TENSORFLOW, str(BENCHMARKS), str(tmp_path), backend="jax")
    assert out == {"exit": {"training.py": 0, "training_check.py": 0},
                   "tensorflow_imported": False}
    speed = json.loads((tmp_path / "speed.json").read_text())
    assert "backend jax" in speed["versions"] and "no GPU" in speed["machine"]
    assert [(r["precision"], r["xla"]) for r in speed["rows"]] == [("float32", False),
                                                                  ("float32", True)]
    assert all(r["images_per_s"] > 0 and r["steps"] >= 5 for r in speed["rows"])
    check = json.loads((tmp_path / "check.json").read_text())
    assert all(check["checks"].values()) and len(check["checks"]) == 3
    assert len(check["loss_by_epoch"]) == 3 and check["resumed_call"]["initial_epoch"] == 2
    assert (tmp_path / "run" / "last.keras").is_file()
    assert "pass: loss fell" in (tmp_path / "check.md").read_text()


SAVE = '''
import sys, numpy as np
from segutils import config
keras = config.import_quietly()
from segutils.models import registry
x = np.random.default_rng(1).uniform(0, 1, (1, 35, 41, 3)).astype("float32")
for name in sys.argv[2].split(","):
    model = registry.build(name, 4, profile="quick")
    model.save(f"{sys.argv[1]}/{name}.keras")
    np.save(f"{sys.argv[1]}/{name}.npy", np.asarray(model.predict(x, verbose=0)))
np.save(f"{sys.argv[1]}/x.npy", x)
print("RESULT {}")
'''

#: Loads the models in folder argv[1], returns how far their logits are from the saved ones
#: and, given a folder argv[3], saves them again there, from this backend.
LOAD = '''
import json, sys, numpy as np
from segutils import config
keras = config.import_quietly()
from segutils.train.recipe import load_model
x = np.load(f"{sys.argv[1]}/x.npy")
out = {}
for name in sys.argv[2].split(","):
    model = load_model(f"{sys.argv[1]}/{name}.keras", compile=False)
    got = np.asarray(model.predict(x, verbose=0))
    out[name] = float(np.abs(got - np.load(f"{sys.argv[1]}/{name}.npy")).max())
    if len(sys.argv) > 3:
        model.save(f"{sys.argv[3]}/{name}.keras")
        np.save(f"{sys.argv[3]}/{name}.npy", got)
if len(sys.argv) > 3:
    np.save(f"{sys.argv[3]}/x.npy", x)
print("RESULT " + json.dumps(out))
'''

#: Models with every custom layer of the course: bilinear upsampling, crops, the VGG encoder
#: (fcn8), SegNet's pooling indices, PSPNet's bins and resizes, a nested keras.applications
#: encoder.
TRAVELLERS = "unet_mini,fcn8,segnet_mini,mobilenet_pspnet"


def test_a_saved_model_reloads_on_the_other_backend(tmp_path):
    """Saved on TensorFlow, reloaded on JAX and saved there, reloaded on TensorFlow.

    Loading rebuilds every layer on the loading backend from its config, so the model JAX
    saves is a JAX model, as if it had been built there (three processes instead of four)."""
    pytest.importorskip("jax")
    on_tf, on_jax = tmp_path / "tensorflow", tmp_path / "jax"
    on_tf.mkdir(), on_jax.mkdir()
    _run(SAVE, str(on_tf), TRAVELLERS, backend="tensorflow")
    trips = {"tensorflow to jax": _run(LOAD, str(on_tf), TRAVELLERS, str(on_jax), backend="jax"),
             "jax to tensorflow": _run(LOAD, str(on_jax), TRAVELLERS, backend="tensorflow")}
    for trip, errors in trips.items():
        assert list(errors) == TRAVELLERS.split(",")
        for name, error in errors.items():
            assert error < 1e-4, f"{name} predicts differently after the trip {trip}"
