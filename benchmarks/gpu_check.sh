#!/usr/bin/env bash
# The GPU check, in one go (under 10 minutes on one GPU): bash benchmarks/gpu_check.sh
#
# Runs on the JAX backend by default, so it needs Keras, JAX for the GPU and segutils, not
# TensorFlow. Set KERAS_BACKEND=tensorflow to check TensorFlow's GPU path instead.
#   1. benchmarks/training.py at the gpu profile's sizes: unet and fcn8 (the paper's VGG16
#      FCN-8s), float32 against mixed bfloat16 and float16, XLA off and on: images/s and the
#      fraction of the GPU's peak FLOP rate.
#   2. benchmarks/training_check.py: a short real training run of unet at the gpu profile's
#      size (loss falls, checkpoints written, a second call resumes).
# Results: benchmarks/results/training_<backend>_gpu.{json,md} and
# training_check_<backend>_gpu.{json,md}; the log goes to build/gpu_check.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
export TF_CPP_MIN_LOG_LEVEL=3
# JAX takes 75% of the GPU's memory up front unless told otherwise; benchmarks want it all
# reachable but only as needed, like TensorFlow's memory growth.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
python=${PYTHON:-python}
mkdir -p build
exec > >(tee build/gpu_check.log) 2>&1

start=$SECONDS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv ||
    echo "nvidia-smi not found: is this a GPU machine?"
"$python" - <<'PY'
import keras
from segutils.train import hardware
devices = hardware.detect_devices()
print(f"Keras {keras.__version__}, backend {devices.backend}, {devices.kind}: {devices.names}")
if devices.kind != "gpu":
    raise SystemExit("no GPU visible to the backend: install its GPU build (for JAX: "
                     "pip install 'jax[cuda12]') or check the driver")
PY
"$python" benchmarks/training.py --profiles gpu --models unet fcn8 --seconds "${SECONDS_PER_SETTING:-6}"
"$python" benchmarks/training_check.py --profile gpu --model unet --run-dir build/gpu_check_run
echo "gpu_check: done in $((SECONDS - start)) s"
