"""Fine-tuning in two stages: the frozen encoder really does not change, the unfrozen one does,
and an interrupted run resumes in the stage it was in."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from segutils.config import import_quietly
from segutils.errors import ConfigError

keras = import_quietly()

from segutils.models import registry  # noqa: E402
from segutils.train import finetune, recipe, run_folder  # noqa: E402

pytestmark = pytest.mark.slow

LR = 3e-3


class Batches(keras.utils.PyDataset):
    """Two fixed batches of noisy images whose masks follow their brightness."""

    def __init__(self, n_batches=2, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        bright = rng.integers(0, 2, (n_batches, 2, 1, 1, 1)).astype("float32")
        self.x = (0.5 * rng.random((n_batches, 2, 24, 24, 3)) + 0.5 * bright).astype("float32")
        self.y = np.broadcast_to(bright[..., 0], (n_batches, 2, 24, 24)).astype("int32")

    def __len__(self):
        return len(self.x)

    def __getitem__(self, k):
        return self.x[k], self.y[k]


def model_and_compile():
    keras.utils.set_random_seed(0)
    model = registry.build("vgg_unet", 2, profile="quick")

    def compile_at(m, rate):
        recipe.compile_model(m, 2, learning_rate=rate)

    return model, compile_at


def encoder_weights(model):
    return [np.asarray(w).copy() for layer in finetune.encoder_layers(model)
            for w in layer.weights]


def head_weights(model):
    return [np.asarray(w).copy() for w in model.get_layer("logits_padded").weights]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def run(model, compile_at, run_dir, epochs, **options):
    return finetune.fit_fine_tuned(model, Batches(), Batches(1, seed=1), epochs=epochs,
                                   freeze_epochs=1, run_dir=run_dir, learning_rate=LR,
                                   compile_fn=compile_at, tensorboard=False, verbose=0, **options)


def test_frozen_encoder_stays_put_then_fine_tuning_moves_it(tmp_path):
    model, compile_at = model_and_compile()
    encoder0, head0 = encoder_weights(model), head_weights(model)
    first = run(model, compile_at, tmp_path, epochs=1)
    assert first.epochs_done == 1
    assert not changed(encoder0, encoder_weights(model))  # frozen: not one weight moved
    assert changed(head0, head_weights(model))  # the head learnt
    assert (tmp_path / run_folder.FROZEN_BACKUP).is_dir()
    assert not (tmp_path / run_folder.BACKUP).exists()

    encoder1 = encoder_weights(model)
    second = run(model, compile_at, tmp_path, epochs=3)  # the same run, extended
    assert second.initial_epoch == 1 and second.epochs_done == 3
    assert changed(encoder1, encoder_weights(model))  # unfrozen: it moves
    assert all(layer.trainable for layer in finetune.encoder_layers(model))
    assert recipe.cb.learning_rate(model.optimizer) <= LR * finetune.FACTOR + 1e-12
    assert [int(r["epoch"]) for r in run_folder.read_history(tmp_path / run_folder.HISTORY)] \
        == [1, 2, 3]


class StopAt(keras.callbacks.Callback):
    """Interrupts training as a kill would, before epoch ``epoch`` (0-based) begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.backend_independent
def test_an_interrupted_fine_tuning_resumes_in_the_second_stage(tmp_path, monkeypatch):
    model, compile_at = model_and_compile()
    with pytest.raises(KeyboardInterrupt):
        run(model, compile_at, tmp_path, epochs=3, extra_callbacks=[StopAt(2)])
    assert run_folder.resume_point(tmp_path) == 2  # the second stage's backup: epoch 2 done

    calls = []
    real_fit = finetune.fit

    def spy(*args, **kwargs):
        calls.append(kwargs.get("backup", run_folder.BACKUP))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(finetune, "fit", spy)
    fresh, compile_at = model_and_compile()  # a new process would rebuild the model
    before = encoder_weights(fresh)
    report = run(fresh, compile_at, tmp_path, epochs=3)
    assert calls == [run_folder.BACKUP]  # straight into fine-tuning, no frozen stage again
    assert report.initial_epoch == 2 and report.epochs_done == 3
    assert changed(before, encoder_weights(fresh))
    assert [int(r["epoch"]) for r in run_folder.read_history(tmp_path / run_folder.HISTORY)] \
        == [1, 2, 3]


@pytest.mark.backend_independent
def test_an_interruption_in_the_first_stage_resumes_it(tmp_path):
    model, compile_at = model_and_compile()
    with pytest.raises(KeyboardInterrupt):
        finetune.fit_fine_tuned(model, Batches(), Batches(1, seed=1), epochs=4, freeze_epochs=2,
                                run_dir=tmp_path, learning_rate=LR, compile_fn=compile_at,
                                tensorboard=False, verbose=0, extra_callbacks=[StopAt(1)])
    assert run_folder.resume_point(tmp_path, run_folder.FROZEN_BACKUP) == 1
    fresh, compile_at = model_and_compile()
    encoder0 = encoder_weights(fresh)
    report = finetune.fit_fine_tuned(fresh, Batches(), Batches(1, seed=1), epochs=2,
                                     freeze_epochs=2, run_dir=tmp_path, learning_rate=LR,
                                     compile_fn=compile_at, tensorboard=False, verbose=0)
    assert report.initial_epoch == 1 and report.epochs_done == 2
    assert not changed(encoder0, encoder_weights(fresh))  # restored, still frozen


def test_models_without_a_pretrained_encoder_are_refused():
    with pytest.raises(ConfigError, match="no pretrained encoder"):
        finetune.encoder_layers(registry.build("unet_mini", 2, profile="quick"))
    with pytest.raises(ConfigError, match="freeze_epochs must be between 1 and epochs"):
        finetune.fit_fine_tuned(None, None, None, epochs=2, freeze_epochs=3, run_dir=".",
                                learning_rate=LR, compile_fn=None)


def test_the_command_line_takes_encoder_weights_and_freezing():
    from segutils.cli import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--model", "resnet50_unet", "--encoder-weights", "none",
                              "--freeze-encoder-epochs", "2"])
    train._apply_recipe(args, "quick")
    assert args.model_options == {"encoder_weights": None} and args.freeze_encoder_epochs == 2
    args = parser.parse_args(["--model", "fcn8", "--encoder-weights", "imagenet"])
    train._apply_recipe(args, "quick")
    assert args.model_options == {"weights": "imagenet"}
    args = parser.parse_args(["--model", "unet", "--encoder-weights", "imagenet"])
    with pytest.raises(ConfigError, match="unet has no pretrained encoder"):
        train._apply_recipe(args, "quick")


def test_the_help_names_every_registered_model():
    from segutils.cli import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    help_text = " ".join(parser.format_help().split())
    missing = [name for name in registry.available() if name not in help_text]
    assert not missing, f"train --help does not name {missing}"
