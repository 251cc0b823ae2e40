"""Regression on texts or text pairs: one number per example (a rating, a similarity score).

The head has one output trained with mean squared error on standardized targets: a fresh head
starts near 0 and AdamW moves it by about the learning rate per step, so ratings of 1-5 would
take thousands of steps just to reach their mean. After training, the scale is folded into the
output layer (w * std, b * std + mean), so the saved model predicts in the data's own units.
Scores are MSE, RMSE, MAE, Pearson and Spearman correlation. The saved model is a stock
``...ForSequenceClassification`` with ``num_labels=1`` and ``problem_type="regression"`` where
the stock head has a bias to fold the mean into (not decoders': headstart's head is used there);
``pipeline("text-classification", model=DIR, function_to_apply="none")`` returns the same numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from headstart.config import RunConfig
from headstart.data.examples import DataBundle, Examples
from headstart.data.labels import LabelKind, LabelSet, Scores
from headstart.errors import LabelError
from headstart.evaluation.metrics import regression_metrics, scalar_metrics
from headstart.tasks.text_classification import TextClassification


class Regression(TextClassification):
    name: ClassVar[str] = "regression"
    problem_type: ClassVar[str] = "regression"
    scale: tuple[float, float] = (0.0, 1.0)  # the training targets' mean and standard deviation

    def label_kind(self, settings: dict[str, Any]) -> LabelKind:
        # the single output is named after the target column where one is named
        return Scores(settings.get("label_column") or settings.get("target") or "score")

    def check_bundle(self, bundle: DataBundle, cfg: RunConfig) -> None:
        if cfg.task.class_weights is not None or cfg.task.positive_label is not None:
            raise LabelError(
                "no task.class_weights or task.positive_label for regression",
                found="one of them set",
                fix="drop it: regression has no classes",
            )
        values = np.asarray(bundle.train.labels, dtype=float)
        self.scale = (float(values.mean()), float(values.std()) or 1.0)

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        return None  # any finite number is a valid target (the reader refused the rest)

    def targets(self, values: list[Any], labels: LabelSet) -> list[float]:
        mean, std = self.scale
        return [(float(v) - mean) / std for v in values]

    def distribution(self, values: list[Any], labels: LabelSet) -> None:
        return None  # no classes: the checks report the targets' range instead of counts

    def check_values(self, values: list[Any] | None) -> None:
        return None

    def main_metric(self, labels: LabelSet) -> str:
        return "mse"

    def metric_names(self, labels: LabelSet) -> list[str]:
        return ["mse", "rmse", "mae", "pearson", "spearman"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        mean, std = self.scale  # both sides are standardized during training: report data units
        gold = prediction.label_ids.reshape(-1) * std + mean
        return scalar_metrics(regression_metrics(gold, np.asarray(logits).reshape(-1) * std + mean))

    def tune(self, predictor: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Fold the target scale into the output layer: the saved model predicts in data units."""
        mean, std = self.scale
        layer = output_layer(predictor.model)
        with torch.no_grad():
            layer.weight.mul_(std)
            layer.bias.mul_(std).add_(mean)
        return {"target_scale": {"mean": mean, "std": std, "folded_into": "the output layer"}}

    def evaluate(self, predictor: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        predicted = predictor.logits(examples, batch_size=batch_size).reshape(-1)
        out = regression_metrics([float(v) for v in examples.labels or []], predicted)
        out["worst"] = _worst(examples, predicted)
        return out

    def saved_info(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        info = super().saved_info(bundle, cfg)
        info.pop("positive_label", None)
        values = np.asarray(bundle.train.labels, dtype=float)
        info["target"] = bundle.labels.names[0]
        info["target_range"] = [float(values.min()), float(values.max())]
        return info

    def predictor_class(self) -> type:
        from headstart.inference.label_predictors import RegressionPredictor

        return RegressionPredictor


def output_layer(model: Any) -> torch.nn.Linear:
    """The head's last linear layer with one output: every head registers it after the backbone."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]
    if not layers or layers[-1].bias is None:
        raise TypeError(f"{type(model).__name__} has no 1-output linear layer with a bias to rescale")
    return layers[-1]


def _worst(examples: Examples, predicted: np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` predictions furthest from their targets, with texts and locations."""
    gold = np.asarray(examples.labels or [], dtype=float)
    if not len(gold):
        return []
    order = np.argsort(-np.abs(predicted - gold), kind="stable")[:k]
    return [
        {
            "location": examples.locations[i],
            "text": examples.texts[i] if examples.pairs is None else f"{examples.texts[i]} || {examples.pairs[i]}",
            "expected": float(gold[i]),
            "predicted": round(float(predicted[i]), 4),
        }
        for i in order
    ]
