"""Tests of the small models: any input size, parameter counts, saving, and that they learn."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segutils.config import import_quietly

keras = import_quietly()

from segutils.models import per_pixel_classifier, unet_mini  # noqa: E402
from segutils.models.layers import CropToReference, PadToMultiple  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent.parent / "segutils" / "models"


@pytest.fixture(scope="module")
def unet():
    keras.utils.set_random_seed(0)
    return unet_mini(5, base_filters=4)


@pytest.mark.parametrize("n_classes", [1, 2, 7, 21])
@pytest.mark.backend_independent
def test_per_pixel_parameter_count(n_classes):
    # One weight per (channel, class) and one bias per class: 3n + n for RGB.
    assert per_pixel_classifier(n_classes).count_params() == 3 * n_classes + n_classes


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (5, 3), (1, 1), (130, 66)])
def test_output_shape_equals_input_shape(unet, size):
    x = np.random.default_rng(0).random((2, *size, 3), dtype=np.float32)
    assert tuple(unet(x).shape) == (2, *size, 5)
    assert tuple(per_pixel_classifier(5)(x).shape) == (2, *size, 5)


def test_fixed_input_shape_builds_static_shapes():
    model = unet_mini(3, input_shape=(37, 53, 3), base_filters=4)
    assert model.output_shape == (None, 37, 53, 3)
    assert model.get_layer("pad").output.shape[1:3] == (40, 56)


def test_unet_structure():
    model = unet_mini(4, base_filters=8)
    widths = {name: model.get_layer(f"{name}b_conv").filters
              for name in ("encoder_stage1", "encoder_stage2", "bottleneck",
                           "decoder_stage1", "decoder_stage2")}
    assert widths == {"encoder_stage1": 8, "encoder_stage2": 16, "bottleneck": 32,
                      "decoder_stage1": 16, "decoder_stage2": 8}
    # Logits, not probabilities: the last layer has no softmax.
    assert model.get_layer("logits_padded").activation.__name__ == "linear"


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 23), w=st.integers(1, 23), m=st.sampled_from([1, 2, 4, 8]))
def test_pad_then_crop_is_identity(h, w, m):
    x = np.random.default_rng(h * 100 + w).random((1, h, w, 2), dtype=np.float32)
    padded = keras.ops.convert_to_numpy(PadToMultiple(m)(x))
    # Independent definition: the next multiple of m, zeros appended at the bottom and right.
    ph, pw = (h + m - 1) // m * m, (w + m - 1) // m * m
    expected = np.zeros((1, ph, pw, 2), np.float32)
    expected[:, :h, :w] = x
    np.testing.assert_array_equal(padded, expected)
    back = keras.ops.convert_to_numpy(CropToReference()([padded, x]))
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("build", [lambda: per_pixel_classifier(2),
                                   lambda: unet_mini(2, base_filters=4, dropout=0.0)])
def test_a_few_training_steps_lower_the_loss(build):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((4, 16, 16, 3), dtype=np.float32)
    y = (x[..., 0] > 0.5).astype(np.uint8)  # learnable from the red channel
    y[:, :2] = 255  # ignored pixels must not break training
    model = build()
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255))
    first = float(model.train_on_batch(x, y))
    for _ in range(40):  # the per-pixel model is a linear classifier: it learns slowly at 1e-2
        last = float(model.train_on_batch(x, y))
    assert last < 0.9 * first


def test_models_use_keras_only():
    """Backend independence: no module of segutils.models imports tensorflow."""
    for path in MODELS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "tensorflow" for n in names), path.name
