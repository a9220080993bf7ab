"""Segmentation losses with an ignore label and class weights, that save and reload with the model.

Model outputs are logits (B, H, W, C); targets are integer class IDs (B, H, W), with
``ignore_index`` (255) marking pixels that count for nothing. Every loss here:

* takes per-class weights (``class_weights``, e.g. from
  :func:`segutils.balancing.median_frequency_weights`), because Keras's
  ``fit(class_weight=...)`` does not work for dense targets;
* is normalised by the *weighted* number of valid pixels (the weighted mean),
  ``sum_i w_i l_i / sum_i w_i`` with ``w_i = class_weight[y_i] * sample_weight_i`` and
  ``w_i = 0`` for ignored pixels. The loss value therefore does not depend on how many pixels
  are ignored nor on the overall scale of the weights, only on their ratios;
* gives 0 with finite (zero) gradients on a batch whose pixels are all ignored, never NaN;
* is registered with Keras (package ``segutils``), so a model compiled with it saves to
  ``.keras`` and reloads with plain ``keras.models.load_model`` once this module is imported
  (segmentation_models issue #109: "Unknown loss function").

Only ``keras`` and ``keras.ops`` are used, so the losses run on any Keras backend. A
``sample_weight`` passed by ``model.fit`` (a (B, H, W) map or one weight per image) multiplies
the class weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from segutils.data.classes import IGNORE_INDEX

__all__ = ["CombinedLoss", "DiceLoss", "FocalLoss", "WeightedCrossEntropy", "sample_weight_map"]

_EPSILON = 1e-7


def _as_weights(class_weights) -> list[float] | None:
    if class_weights is None:
        return None
    weights = np.asarray(class_weights, np.float64)
    if weights.ndim != 1 or weights.size == 0 or not np.isfinite(weights).all() \
            or (weights < 0).any():
        raise ValueError(f"class_weights must be a 1-D list of finite values >= 0, "
                         f"got {weights.tolist()}")
    return [float(w) for w in weights]


def _valid_and_targets(y_true, n_classes: int, ignore_index: int):
    """(valid as float (B, H, W), targets with ignored pixels replaced by class 0)."""
    y_true = ops.cast(y_true, "int32")
    if len(y_true.shape) == 4 and y_true.shape[-1] == 1:  # (B, H, W, 1) masks
        y_true = ops.squeeze(y_true, -1)
    valid = ops.logical_and(ops.not_equal(y_true, ignore_index),
                            ops.logical_and(y_true >= 0, y_true < n_classes))
    targets = ops.where(valid, y_true, 0)
    return ops.cast(valid, "float32"), targets


def _pixel_weights(valid, targets, class_weights, sample_weight, n_classes: int):
    """w_i = valid_i * class_weight[y_i] * sample_weight_i, shape (B, H, W)."""
    weights = valid
    if class_weights is not None:
        if len(class_weights) != n_classes:
            raise ValueError(
                f"class_weights has {len(class_weights)} values but the model predicts "
                f"{n_classes} classes; give one weight per class"
            )
        table = ops.convert_to_tensor(class_weights, "float32")
        weights = weights * ops.take(table, targets)
    if sample_weight is not None:
        sw = ops.cast(sample_weight, "float32")
        if len(sw.shape) == 4 and sw.shape[-1] == 1:
            sw = ops.squeeze(sw, -1)
        while len(sw.shape) < 3:  # one weight per image: (B,) -> (B, 1, 1)
            sw = ops.expand_dims(sw, -1)
        weights = weights * sw
    return weights


def sample_weight_map(y_true, class_weights, ignore_index: int = IGNORE_INDEX):
    """Per-pixel weights (B, H, W) from class IDs: the weight of each pixel's class, 0 if ignored.

    The other route to class balancing: pass the map as ``sample_weight`` to ``model.fit`` (or
    use :func:`segutils.balancing.with_sample_weights` on a ``tf.data`` dataset). Works on NumPy
    arrays and backend tensors; returns a backend tensor.
    """
    weights = _as_weights(class_weights)
    if weights is None:
        raise ValueError("class_weights is required")
    valid, targets = _valid_and_targets(y_true, len(weights), ignore_index)
    return _pixel_weights(valid, targets, weights, None, len(weights))


class _SegmentationLoss(keras.losses.Loss):
    """Shared parts: class weights, ignore label, logits or probabilities, config."""

    def __init__(self, class_weights=None, ignore_index: int = IGNORE_INDEX,
                 from_logits: bool = True, name: str | None = None, dtype=None):
        super().__init__(name=name, reduction="mean_with_sample_weight", dtype=dtype)
        self.class_weights = _as_weights(class_weights)
        self.ignore_index = int(ignore_index)
        self.from_logits = bool(from_logits)

    def _prepare(self, y_true, y_pred, sample_weight):
        """(log-probabilities, one-hot targets, per-pixel weights)."""
        y_pred = ops.cast(y_pred, "float32")  # float16 logits under mixed precision
        n_classes = y_pred.shape[-1]
        if n_classes is None:
            raise ValueError("the last axis of y_pred (the classes) must have a known size")
        valid, targets = _valid_and_targets(y_true, n_classes, self.ignore_index)
        weights = _pixel_weights(valid, targets, self.class_weights, sample_weight, n_classes)
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, _EPSILON, 1.0))
        return log_probs, ops.one_hot(targets, n_classes, dtype="float32"), weights

    def get_config(self):
        return {"name": self.name, "class_weights": self.class_weights,
                "ignore_index": self.ignore_index, "from_logits": self.from_logits}


class _PixelwiseLoss(_SegmentationLoss):
    """A per-pixel loss, reduced by Keras as ``sum(w * l) / sum(w)``.

    Keras's ``"mean_with_sample_weight"`` reduction divides with ``divide_no_nan`` (0 when every
    weight is 0) and scales for ``tf.distribute`` replicas like the built-in losses.
    """

    def __call__(self, y_true, y_pred, sample_weight=None):
        with keras.name_scope(self.name):
            log_probs, one_hot, weights = self._prepare(y_true, y_pred, sample_weight)
            # The base class multiplies by the weights and divides by their sum.
            return super().__call__(one_hot, log_probs, sample_weight=weights)

    def call(self, one_hot, log_probs):
        return self.pixel_losses(one_hot, log_probs)

    def pixel_losses(self, one_hot, log_probs):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="segutils")
class WeightedCrossEntropy(_PixelwiseLoss):
    """Sparse categorical cross-entropy with class weights and an ignore label.

    ``loss = sum_i w_i * (-log p_i[y_i]) / sum_i w_i`` with ``w_i = class_weights[y_i]`` (1
    without weights) times ``sample_weight_i``, and ``w_i = 0`` where ``y_i == ignore_index``.
    Without weights it equals ``keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=255)``.
    """

    def __init__(self, class_weights=None, ignore_index: int = IGNORE_INDEX,
                 from_logits: bool = True, name: str = "weighted_cross_entropy", dtype=None):
        super().__init__(class_weights, ignore_index, from_logits, name, dtype)

    def pixel_losses(self, one_hot, log_probs):
        return -ops.sum(one_hot * log_probs, axis=-1)


@keras.saving.register_keras_serializable(package="segutils")
class FocalLoss(_PixelwiseLoss):
    """Multi-class focal loss (Lin et al., 2017): ``-(1 - p_y)^gamma log p_y`` per pixel.

    The factor ``(1 - p_y)^gamma`` shrinks the loss of pixels the model already gets right
    (p_y near 1), so the many easy road and sky pixels stop drowning the hard ones. The class
    weights play the role of the paper's alpha; normalised like :class:`WeightedCrossEntropy`,
    so ``gamma=0`` gives exactly the weighted cross-entropy.
    """

    def __init__(self, gamma: float = 2.0, class_weights=None,
                 ignore_index: int = IGNORE_INDEX, from_logits: bool = True,
                 name: str = "focal_loss", dtype=None):
        super().__init__(class_weights, ignore_index, from_logits, name, dtype)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)

    def pixel_losses(self, one_hot, log_probs):
        log_p = ops.sum(one_hot * log_probs, axis=-1)
        # Clamped away from 0 so that the gradient of x**gamma stays finite for gamma < 1.
        modulating = ops.power(ops.maximum(1.0 - ops.exp(log_p), _EPSILON), self.gamma)
        return -modulating * log_p

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="segutils")
class DiceLoss(_SegmentationLoss):
    """Soft Dice loss, multi-class and ignore-aware: ``1 - weighted mean_c Dice_c``.

    ``Dice_c = (2 sum_i v_i p_ic g_ic + smooth) / (sum_i v_i (p_ic + g_ic) + smooth)`` over all
    pixels i of the batch, with p the softmax probabilities, g the one-hot targets and v_i the
    pixel weight (0 for ignored pixels, ``sample_weight`` otherwise). Each class counts equally
    whatever its size, which is why Dice helps rare classes; ``class_weights`` weight the mean
    over classes instead of the pixels. ``smooth`` keeps the ratio defined for a class absent
    from the batch (Dice 1 when it is not predicted either). Computed over the whole batch at
    once (more stable than per image); under ``tf.distribute`` each replica computes its own.
    """

    def __init__(self, class_weights=None, ignore_index: int = IGNORE_INDEX,
                 from_logits: bool = True, smooth: float = 1.0, name: str = "dice_loss",
                 dtype=None):
        super().__init__(class_weights, ignore_index, from_logits, name, dtype)
        if smooth <= 0:
            raise ValueError(f"smooth must be > 0 (it keeps empty classes defined), got {smooth}")
        self.smooth = float(smooth)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with keras.name_scope(self.name):
            y_pred = ops.cast(y_pred, "float32")
            n_classes = y_pred.shape[-1]
            valid, targets = _valid_and_targets(y_true, n_classes, self.ignore_index)
            pixel = _pixel_weights(valid, targets, None, sample_weight, n_classes)[..., None]
            probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
            one_hot = ops.one_hot(targets, n_classes, dtype="float32")
            axes = tuple(range(len(y_pred.shape) - 1))
            intersection = ops.sum(pixel * probs * one_hot, axis=axes)
            total = ops.sum(pixel * (probs + one_hot), axis=axes)
            dice = (2.0 * intersection + self.smooth) / (total + self.smooth)
            if self.class_weights is None:
                return 1.0 - ops.mean(dice)
            if len(self.class_weights) != n_classes:
                raise ValueError(f"class_weights has {len(self.class_weights)} values but the "
                                 f"model predicts {n_classes} classes")
            cw = ops.convert_to_tensor(self.class_weights, "float32")
            return 1.0 - ops.sum(cw * dice) / ops.maximum(ops.sum(cw), _EPSILON)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="segutils")
class CombinedLoss(keras.losses.Loss):
    """A weighted sum of losses, e.g. cross-entropy + Dice: ``sum_k weight_k * loss_k``.

    Cross-entropy gives smooth, per-pixel gradients from the first step; Dice adds a term that
    treats every class alike. Each part gets the same ``y_true``, ``y_pred`` and
    ``sample_weight``; the parts are saved inside this loss's config.
    """

    def __init__(self, losses: Sequence[keras.losses.Loss], weights: Sequence[float] | None = None,
                 name: str = "combined_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        losses = [keras.losses.get(loss) if isinstance(loss, str | dict) else loss
                  for loss in losses]
        if not losses:
            raise ValueError("CombinedLoss needs at least one loss")
        weights = [1.0] * len(losses) if weights is None else [float(w) for w in weights]
        if len(weights) != len(losses):
            raise ValueError(f"{len(losses)} losses but {len(weights)} weights")
        self.losses, self.weights = list(losses), weights

    def __call__(self, y_true, y_pred, sample_weight=None):
        with keras.name_scope(self.name):
            total = 0.0
            for loss, weight in zip(self.losses, self.weights, strict=True):
                total = total + weight * ops.cast(loss(y_true, y_pred, sample_weight), "float32")
            return total

    def get_config(self):
        return {"name": self.name, "weights": self.weights,
                "losses": [keras.saving.serialize_keras_object(loss) for loss in self.losses]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["losses"] = [keras.saving.deserialize_keras_object(loss)
                            for loss in config["losses"]]
        return cls(**config)
