"""Evaluation done right: dataset-level metrics, reports, prediction, speed and export.

>>> report = evaluate(model, make_dataset(root, "val", shuffle=False), classes)  # doctest: +SKIP
>>> print(report)                      # per-class IoU, precision, recall + the four FCN metrics
>>> report.plot_confusion_matrix(); report.plot_worst()
>>> predict(model, "photos/", "out/")  # class-ID PNGs + overlays at each photo's own size
>>> latency(model, (128, 128), batch_size=8)
>>> export(model, "export/")           # .keras + TensorFlow SavedModel

Modules: :mod:`~segutils.evaluate.report` (evaluate, EvaluationReport),
:mod:`~segutils.evaluate.plots`, :mod:`~segutils.evaluate.predict`,
:mod:`~segutils.evaluate.deploy` (load_model, latency, export). Keras is imported only when a
model runs, so reading a saved report needs no TensorFlow.
"""

from segutils.evaluate.deploy import export, latency, load_model
from segutils.evaluate.plots import (
    ERROR_COLOR,
    error_map,
    normalise_confusion,
    plot_confusion_matrix,
    plot_per_class_iou,
    plot_worst,
)
from segutils.evaluate.predict import (
    Prediction,
    find_images,
    model_input_size,
    predict,
    predict_logits,
    predict_mask,
)
from segutils.evaluate.report import EvaluationReport, FailureCase, evaluate

__all__ = [
    "ERROR_COLOR", "EvaluationReport", "FailureCase", "Prediction", "error_map", "evaluate",
    "export", "find_images",
    "latency", "load_model", "model_input_size", "normalise_confusion",
    "plot_confusion_matrix", "plot_per_class_iou", "plot_worst", "predict", "predict_logits",
    "predict_mask",
]
