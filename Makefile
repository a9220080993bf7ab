# Two commands on a fresh machine with Python >= 3.10 (3.11 recommended):
#   make course   set up .venv, generate the built-in dataset, execute every notebook into build/
#   make test     set up .venv, lint, run the unit tests and every notebook under nbval
# Everything installs into .venv, created when missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The profile for `make course`; empty means automatic (gpu when Keras sees one, else cpu).
PROFILE ?=
# Reproducible notebooks: fixed hash seed, quiet TensorFlow, no stray GUI backend.
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export MPLBACKEND := Agg

.PHONY: setup course lab test test-unit test-notebooks test-student test-jax test-colab test-colab-unit \
	test-colab-notebooks test-oldest test-envs env-colab env-oldest lint notebooks student bench \
	camvid clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (segutils)" >/dev/null
	@touch $(STAMP)

course: $(STAMP)
	$(BIN)/python -m segutils course --out build $(if $(PROFILE),--profile $(PROFILE))

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .

NBVAL = --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg

# `make test`: lint, then two streams side by side, each printed whole when it ends:
#   - the unit tests on both cores (pytest-xdist, one test file per worker);
#   - what executes notebooks or drives the browser, one at a time and in course order (notebook
#     09 evaluates the run notebook 08 writes). A notebook kernel leaves a core idle much of
#     the time (starting, waiting between cells); the unit tests use it.
# The student versions (test-student) and the JAX backend (test-jax) run in CI, after this.
PARALLEL = -n 2 --dist loadfile
NOTEBOOK_TESTS = tests/test_browser.py notebooks
# Executes every notebook's student version (minutes); the rest of its file checks the logic on
# throwaway notebooks and runs with the unit tests.
STUDENT_RUNS = tests/test_student_notebooks.py::test_student_version_runs_and_every_check_fails
# Runs in test-jax: it starts its own JAX (and TensorFlow) subprocesses.
BACKEND_TESTS = tests/test_backends.py
# What the unit-test runs leave to the targets above and below, in every environment.
NOT_UNIT = --ignore=tests/test_browser.py --ignore=$(BACKEND_TESTS) --deselect $(STUDENT_RUNS)
# (No pytest cache in the streams that run beside another pytest session.)
test: $(STAMP) lint
	$(MAKE) --no-print-directory -j2 --output-sync=line test-unit test-notebooks

test-unit: $(STAMP)
	SEGUTILS_PROFILE=quick $(BIN)/python -m pytest tests $(PARALLEL) -p no:cacheprovider $(NOT_UNIT)

test-notebooks: $(STAMP)
	SEGUTILS_PROFILE=quick $(BIN)/python -m pytest $(NOTEBOOK_TESTS) $(NBVAL) -p no:cacheprovider

# Every notebook's student version runs, and each of its checks refuses the unsolved exercise.
# Trains into runs of its own (build/runs-student), so it does not reuse test-notebooks' runs.
test-student: $(STAMP)
	SEGUTILS_RUNS=$(CURDIR)/build/runs-student SEGUTILS_PROFILE=quick $(BIN)/python -m pytest \
		$(STUDENT_RUNS)

# The model side of segutils on the JAX backend: models, losses, metrics, upsampling, training
# (tf.data stays the input pipeline), and tests/test_backends.py: JAX without TensorFlow, the
# GPU check's benchmarks, and saving on one backend, reloading on the other. Tests marked
# backend_independent check what no backend changes (parameter counts, profile tables, run-folder
# bookkeeping such as resuming after a kill) and run on TensorFlow only. JAX keeps what it
# compiles in build/jax-cache: a model built again (a second run, a resume, another process)
# compiles from there, and a second `make test-jax` starts warm.
JAX_TESTS = tests/test_models_fcn.py tests/test_models_small.py \
	tests/test_models_unet.py tests/test_upsampling.py tests/test_losses.py tests/test_metrics.py \
	tests/test_balancing.py tests/test_registry.py tests/test_flops.py tests/test_train.py \
	tests/test_finetune.py $(BACKEND_TESTS)
JAX_CACHE = JAX_COMPILATION_CACHE_DIR=$(CURDIR)/build/jax-cache \
	JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
test-jax: $(STAMP)
	KERAS_BACKEND=jax JAX_PLATFORMS=cpu $(JAX_CACHE) SEGUTILS_PROFILE=quick $(BIN)/python -m pytest \
		$(JAX_TESTS) $(PARALLEL) -p no:cacheprovider -m "not backend_independent"

# Two more environments, each built from scratch by .ci/env into .venv-NAME; .ci/run runs both
# after `make test`:
# colab, Python 3.12 with the newest TensorFlow, Keras and NumPy: the unit tests, and every
#   notebook's student version (what a learner opens on Colab), training into runs of its own
#   (build/runs-colab);
# oldest, Python 3.10 with every lower bound pyproject.toml declares: the unit tests.
# There the unit tests leave out those marked slow (training runs, resumes, fresh-process
# reloads: half their time), which run in the main environment and on JAX; CI could not run
# them three times within its 40 minutes. `make test-oldest EXTRA_ENV_TESTS=` runs them all.
# The browser and backend tests check no version, and run in the main environment only.
EXTRA_ENV_TESTS ?= not slow
COLAB  = SEGUTILS_PROFILE=quick .venv-colab/bin/python -m pytest -p no:cacheprovider
OLDEST = SEGUTILS_PROFILE=quick .venv-oldest/bin/python -m pytest -p no:cacheprovider
env-colab env-oldest:
	PYTHON=$(PYTHON) bash .ci/env $(@:env-%=%)

test-colab: test-colab-unit test-colab-notebooks

test-colab-unit: env-colab
	$(COLAB) tests $(PARALLEL) $(NOT_UNIT) -m "$(EXTRA_ENV_TESTS)"

test-colab-notebooks: env-colab
	SEGUTILS_RUNS=$(CURDIR)/build/runs-colab $(COLAB) $(STUDENT_RUNS)

test-oldest: env-oldest
	$(OLDEST) tests $(PARALLEL) $(NOT_UNIT) -m "$(EXTRA_ENV_TESTS)"

# .ci/run's second half, in the main environment and the two others, two sessions at a time:
# the JAX backend beside the Colab-like notebooks (one kernel at a time), then the oldest
# environment's unit tests beside the Colab-like ones.
test-envs:
	$(MAKE) --no-print-directory -j2 --output-sync=line test-jax test-colab-notebooks
	$(MAKE) --no-print-directory -j2 --output-sync=line test-oldest test-colab-unit

notebooks: $(STAMP)
	$(BIN)/python -m segutils course --profile cpu --inplace --out build/notebooks-cpu

student: $(STAMP)
	$(BIN)/python -m segutils student --out build/student

bench: $(STAMP)
	$(BIN)/python benchmarks/builtin_dataset.py

# The CamVid benchmark on a CPU (about two hours on 2 cores): the camvid recipe with and without
# class weights, FCN-8s, then their val scores. CamVid: SEGUTILS_CAMVID=DIR, else data/camvid.
CAMVID_TRAIN = $(BIN)/python -m segutils train --data camvid --profile cpu --image-size 180 240 \
	--batch-size 8 --augment light --epochs 24 --quiet --resume
camvid: $(STAMP)
	$(CAMVID_TRAIN) --model unet --class-weights median_frequency --out runs/cpu/camvid/unet
	$(CAMVID_TRAIN) --model unet --class-weights none --out runs/cpu/camvid/unet_unweighted
	$(CAMVID_TRAIN) --model fcn_staged --epochs 8 --class-weights median_frequency \
		--out runs/cpu/camvid/fcn8_staged
	$(BIN)/python benchmarks/camvid.py

clean:
	rm -rf build .pytest_cache .ruff_cache
