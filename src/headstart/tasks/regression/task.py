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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from headstart.config import DEFAULT_MAX_LENGTH, RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle, Examples
from headstart.data.labels import LabelSet, Scores
from headstart.data.options import ReadOptions
from headstart.errors import LabelError
from headstart.modeling.classifier import build_sequence_classifier
from headstart.modeling.losses import regression_loss, weighted_loss
from headstart.tasks.base import PredictOption
from headstart.tasks.common import texts
from headstart.tasks.common.metrics import regression_metrics, scalar_metrics
from headstart.tasks.common.rows import TextRows
from headstart.tasks.common.windows import IDENTITY, combiner
from headstart.tasks.regression.config import CHECKS, Config

PROBLEM_TYPE = "regression"


@dataclass
class Settings(texts.TextSettings):
    problem_type: str = PROBLEM_TYPE
    target: str = "score"  # the name of the predicted number (the target column's)
    target_range: list[float] | None = None  # the training targets' min and max
    target_scale: dict[str, Any] | None = None  # the standardization folded into the output layer


def logits(run: Any, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """The predicted numbers [n_inputs, 1], in input order."""
    return texts.text_logits(run, inputs, batch_size, combiner(IDENTITY))


def output_layer(model: Any) -> torch.nn.Linear:
    """The head's last linear layer with one output: every head registers it after the backbone."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]
    if not layers or layers[-1].bias is None:
        raise TypeError(f"{type(model).__name__} has no 1-output linear layer with a bias to rescale")
    return layers[-1]


class Regression:
    name: ClassVar[str] = "regression"
    aliases: ClassVar[tuple[str, ...]] = ()  # also accepted as task.type
    long_inputs: ClassVar[str] = "truncated"
    pipeline_task: ClassVar[str] = "text-classification"
    pre_split: ClassVar[bool] = False
    max_length: ClassVar[int] = DEFAULT_MAX_LENGTH
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config  # its keys of the task section
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {}
    input_fields: ClassVar[dict[str, str]] = {}  # texts come as the command's TEXT arguments

    def __init__(self) -> None:
        self.scale: tuple[float, float] = (0.0, 1.0)  # the training targets' mean and standard deviation

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        if cfg.task.class_weights is not None or cfg.task.positive_label is not None:
            raise LabelError(
                "no task.class_weights or task.positive_label for regression",
                found="one of them set",
                fix="drop it: regression has no classes",
            )
        # the single output is named after the target column where one is named
        bundle = texts.load_text_data(cfg, train, validation, test, Scores(cfg.data.label_column or "score"))
        values = np.asarray(bundle.train.labels, dtype=float)
        self.scale = (float(values.mean()), float(values.std()) or 1.0)
        return bundle

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> Examples:
        return texts.read_text_examples(source, info, options, need_label, Scores(info.settings.target))

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        return None  # any finite number is a valid target (the reader refused the rest)

    def encode(self, examples: Examples, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict]:
        mean, std = self.scale
        targets = [(float(v) - mean) / std for v in examples.labels or []]
        # no classes: the checks report the targets' range instead of counts
        return texts.encode_text_examples(examples, tokenizer, cfg, targets, None)

    def check_split(self, examples: Examples, summary: dict[str, Any]) -> CheckSplit:
        return texts.text_check_split(examples, summary, None)

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    # -- model and loss -------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        return build_sequence_classifier(
            path,
            cfg.model,
            PROBLEM_TYPE,
            needs_bias=True,  # the target mean is folded into it after training
            num_labels=len(labels),
            id2label=labels.id2label,
            label2id=labels.label2id,
        )

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(path, **load)

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        return weighted_loss(class_weights, regression_loss)

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return None  # refused in load_data: regression has no classes

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        return "mse"

    def metric_names(self, labels: LabelSet) -> list[str]:
        return ["mse", "rmse", "mae", "pearson", "spearman"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        mean, std = self.scale  # both sides are standardized during training: report data units
        gold = prediction.label_ids.reshape(-1) * std + mean
        return scalar_metrics(regression_metrics(gold, texts.eval_logits(prediction).reshape(-1) * std + mean))

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Fold the target scale into the output layer: the saved model predicts in data units."""
        mean, std = self.scale
        layer = output_layer(run.model)
        with torch.no_grad():
            layer.weight.mul_(std)
            layer.bias.mul_(std).add_(mean)
        return {"target_scale": {"mean": mean, "std": std, "folded_into": "the output layer"}}

    def evaluate(self, run: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        predicted = logits(run, examples, batch_size=batch_size).reshape(-1)
        out = regression_metrics([float(v) for v in examples.labels or []], predicted)
        out["worst"] = _worst(examples, predicted)
        return out

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return texts.text_columns(bundle)

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        values = np.asarray(bundle.train.labels, dtype=float)
        return Settings(
            **texts.text_settings(bundle, cfg, PROBLEM_TYPE),
            target=bundle.labels.names[0],
            target_range=[float(values.min()), float(values.max())],
        )

    def card_usage(self, info: Any) -> list[str]:
        return texts.pipeline_usage(info, ', function_to_apply="none"')  # the raw number, not a sigmoid of it

    def card_input(self, info: Any) -> str:
        return texts.card_input(info)

    def export_refusal(self, info: Any) -> str | None:
        return None

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return texts.probe_texts(tokenizer, info, probe)

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        """``{"label": target name, "score": the predicted number}`` per input."""
        values = logits(run, inputs, batch_size=batch_size).reshape(-1)
        return [{"label": run.info.labels[0], "score": float(v)} for v in values]

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        # a regression head has no probabilities: both give the predicted numbers [n_inputs, 1]
        return {"logits": logits, "probabilities": logits}

    def file_rows(self, info: Any, options: ReadOptions) -> TextRows:
        return TextRows(info, options.text_column, options.text_pair_column)

    def serving(self) -> Any:
        from headstart.tasks.common.serving import TextServing

        return TextServing()


def _worst(examples: Examples, predicted: np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` predictions furthest from their targets, with texts and locations."""
    gold = np.asarray(examples.labels or [], dtype=float)
    if not len(gold):
        return []
    order = np.argsort(-np.abs(predicted - gold), kind="stable")[:k]
    return [
        {
            "location": examples.locations[i],
            "text": texts.text_of(examples, i),
            "expected": float(gold[i]),
            "predicted": round(float(predicted[i]), 4),
        }
        for i in order
    ]
