"""Multi-label text classification: zero or more labels per text, one sigmoid per label.

Labels come as lists (JSON) or delimited strings ("sports,politics"; ``task.label_delimiter``).
The decision threshold is tuned on validation after training (the best micro F1 over 0.05 ..
0.95) unless ``task.threshold`` fixes it, and saved in headstart.json. The saved model is a stock
``...ForSequenceClassification`` with ``problem_type="multi_label_classification"``, so
``pipeline("text-classification", model=DIR, top_k=None)`` gives the same sigmoid scores.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from headstart.config import RunConfig
from headstart.data.examples import DataBundle, Examples, check_known_labels
from headstart.data.labels import LabelKind, LabelSet, MultiLabels
from headstart.errors import LabelError
from headstart.evaluation.metrics import best_threshold, multilabel_metrics, scalar_metrics
from headstart.tasks.text_classification import TextClassification

DEFAULT_THRESHOLD = 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class MultiLabelClassification(TextClassification):
    name: ClassVar[str] = "multi-label-classification"
    problem_type: ClassVar[str] = "multi_label_classification"

    def label_kind(self, settings: dict[str, Any]) -> LabelKind:
        return MultiLabels(settings.get("label_delimiter", ","))

    def check_bundle(self, bundle: DataBundle, cfg: RunConfig) -> None:
        if cfg.task.positive_label is not None:
            raise LabelError(
                "no task.positive_label for multi-label classification",
                found=repr(cfg.task.positive_label),
                fix="drop it: every label is scored on its own (per_class in metrics.json)",
            )

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        check_known_labels(examples, labels, MultiLabels())

    def targets(self, values: list[Any], labels: LabelSet) -> list[list[float]]:
        return multi_hot(values, labels).tolist()

    def distribution(self, values: list[Any], labels: LabelSet) -> dict[str, int]:
        counts = multi_hot(values, labels).sum(0) if values else np.zeros(len(labels))
        return {name: int(c) for name, c in zip(labels.names, counts)}

    def check_values(self, values: list[Any] | None) -> list[Any] | None:
        return None if values is None else ["|".join(v) for v in values]

    def main_metric(self, labels: LabelSet) -> str:
        return "f1_micro"

    def metric_names(self, labels: LabelSet) -> list[str]:
        names = [f"{m}_{avg}" for avg in ("micro", "macro") for m in ("precision", "recall", "f1")]
        return names + ["subset_accuracy", "hamming_loss"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        threshold = cfg.task.threshold or DEFAULT_THRESHOLD
        predicted = (sigmoid(logits) >= threshold).astype(int)
        return scalar_metrics(multilabel_metrics(prediction.label_ids.astype(int), predicted, labels.names))

    def tune(self, predictor: Any, validation: Examples | None, cfg: RunConfig) -> dict[str, Any]:
        if cfg.task.threshold is not None:
            return {"threshold": cfg.task.threshold, "threshold_source": "task.threshold"}
        if validation is None or not len(validation):
            return {"threshold": DEFAULT_THRESHOLD, "threshold_source": "default (no validation data)"}
        labels = LabelSet(predictor.labels)
        probs = predictor.probabilities(validation)
        gold = multi_hot(validation.labels or [], labels)
        threshold, f1 = best_threshold(probs, gold)
        at_default = multilabel_metrics(gold, probs >= DEFAULT_THRESHOLD, labels.names)["f1_micro"]
        return {
            "threshold": threshold,
            "threshold_source": f"tuned on validation: micro F1 {f1:.4f} (at {DEFAULT_THRESHOLD}: {at_default:.4f})",
        }

    def evaluate(self, predictor: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        labels = LabelSet(predictor.labels)
        probs = predictor.probabilities(examples, batch_size=batch_size)
        gold = multi_hot(examples.labels or [], labels)
        out = multilabel_metrics(gold, probs >= predictor.threshold, labels.names)
        out["threshold"] = predictor.threshold
        return out

    def saved_info(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        info = super().saved_info(bundle, cfg)
        info.pop("positive_label", None)
        return {**info, "label_delimiter": cfg.task.label_delimiter, "threshold": DEFAULT_THRESHOLD}

    def predictor_class(self) -> type:
        from headstart.inference.label_predictors import MultiLabelPredictor

        return MultiLabelPredictor


def multi_hot(values: list[Any], labels: LabelSet) -> np.ndarray:
    """[n, labels] 0/1 from tuples of label names."""
    out = np.zeros((len(values), len(labels)), dtype=np.float32)
    ids = labels.label2id
    for i, names in enumerate(values):
        for name in names or ():
            out[i, ids[name]] = 1.0
    return out
