"""Multi-label text classification: zero or more labels per text, one sigmoid per label.

Labels come as lists (JSON) or delimited strings ("sports,politics"; ``task.label_delimiter``).
The decision threshold is tuned on validation after training (the best micro F1 over 0.05 ..
0.95) unless ``task.threshold`` fixes it, and saved in headstart.json. The saved model is a stock
``...ForSequenceClassification`` with ``problem_type="multi_label_classification"``, so
``pipeline("text-classification", model=DIR, top_k=None)`` gives the same sigmoid scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from headstart.config import DEFAULT_MAX_LENGTH, RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle, Examples, check_known_labels
from headstart.data.labels import LabelSet, MultiLabels
from headstart.data.options import ReadOptions
from headstart.errors import LabelError
from headstart.modeling.classifier import build_sequence_classifier
from headstart.modeling.losses import multi_label_loss, weighted_loss
from headstart.tasks.base import PredictOption
from headstart.tasks.common import texts
from headstart.tasks.common.class_weights import resolve_class_weights
from headstart.tasks.common.metrics import best_threshold, multilabel_metrics, scalar_metrics
from headstart.tasks.common.rows import TextRows
from headstart.tasks.common.windows import SIGMOID, combiner
from headstart.tasks.multi_label.config import CHECKS, Config

PROBLEM_TYPE = "multi_label_classification"
DEFAULT_THRESHOLD = 0.5


@dataclass
class Settings(texts.TextSettings):
    problem_type: str = PROBLEM_TYPE
    label_delimiter: str = ","
    threshold: float = DEFAULT_THRESHOLD  # a label applies at or above it
    threshold_source: str | None = None  # how it was chosen


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def multi_hot(values: list[Any], labels: LabelSet) -> np.ndarray:
    """[n, labels] 0/1 from tuples of label names."""
    out = np.zeros((len(values), len(labels)), dtype=np.float32)
    ids = labels.label2id
    for i, names in enumerate(values):
        for name in names or ():
            out[i, ids[name]] = 1.0
    return out


def logits(run: Any, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """Raw model outputs [n_inputs, n_labels], in input order."""
    return texts.text_logits(run, inputs, batch_size, combiner(SIGMOID))


def probabilities(run: Any, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """One sigmoid score per label [n_inputs, n_labels] (they do not sum to 1)."""
    return sigmoid(logits(run, inputs, batch_size=batch_size))


class MultiLabelClassification:
    name: ClassVar[str] = "multi-label-classification"
    aliases: ClassVar[tuple[str, ...]] = ("multi-label", "multilabel")  # also accepted as task.type
    long_inputs: ClassVar[str] = "truncated"
    pipeline_task: ClassVar[str] = "text-classification"
    pre_split: ClassVar[bool] = False
    max_length: ClassVar[int] = DEFAULT_MAX_LENGTH
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config  # its keys of the task section
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {}
    input_fields: ClassVar[dict[str, str]] = {}  # texts come as the command's TEXT arguments

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        if cfg.task.positive_label is not None:
            raise LabelError(
                "no task.positive_label for multi-label classification",
                found=repr(cfg.task.positive_label),
                fix="drop it: every label is scored on its own (per_class in metrics.json)",
            )
        return texts.load_text_data(cfg, train, validation, test, MultiLabels(cfg.task.label_delimiter))

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> Examples:
        kind = MultiLabels(info.settings.label_delimiter)
        return texts.read_text_examples(source, info, options, need_label, kind)

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        check_known_labels(examples, labels, MultiLabels())

    def encode(self, examples: Examples, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict]:
        values = examples.labels or []
        hot = multi_hot(values, labels)
        counts = hot.sum(0) if values else np.zeros(len(labels))
        distribution = {name: int(c) for name, c in zip(labels.names, counts)}
        return texts.encode_text_examples(examples, tokenizer, cfg, hot.tolist(), distribution)

    def check_split(self, examples: Examples, summary: dict[str, Any]) -> CheckSplit:
        values = None if examples.labels is None else ["|".join(v) for v in examples.labels]
        return texts.text_check_split(examples, summary, values)

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    # -- model and loss -------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        return build_sequence_classifier(
            path, cfg.model, PROBLEM_TYPE, num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id
        )

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(path, **load)

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        return weighted_loss(class_weights, multi_label_loss)

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return resolve_class_weights(setting, labels, list(train_data["labels"]), multi_label=True)

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        return "f1_micro"

    def metric_names(self, labels: LabelSet) -> list[str]:
        names = [f"{m}_{avg}" for avg in ("micro", "macro") for m in ("precision", "recall", "f1")]
        return names + ["subset_accuracy", "hamming_loss"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        threshold = cfg.task.threshold or DEFAULT_THRESHOLD
        predicted = (sigmoid(texts.eval_logits(prediction)) >= threshold).astype(int)
        return scalar_metrics(multilabel_metrics(prediction.label_ids.astype(int), predicted, labels.names))

    def tune(self, run: Any, validation: Examples | None, cfg: RunConfig) -> dict[str, Any]:
        if cfg.task.threshold is not None:
            return {"threshold": cfg.task.threshold, "threshold_source": "task.threshold"}
        if validation is None or not len(validation):
            return {"threshold": DEFAULT_THRESHOLD, "threshold_source": "default (no validation data)"}
        labels = LabelSet(run.info.labels)
        probs = probabilities(run, validation)
        gold = multi_hot(validation.labels or [], labels)
        threshold, f1 = best_threshold(probs, gold)
        at_default = multilabel_metrics(gold, probs >= DEFAULT_THRESHOLD, labels.names)["f1_micro"]
        return {
            "threshold": threshold,
            "threshold_source": f"tuned on validation: micro F1 {f1:.4f} (at {DEFAULT_THRESHOLD}: {at_default:.4f})",
        }

    def evaluate(self, run: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        labels = LabelSet(run.info.labels)
        threshold = float(run.info.settings.threshold)
        probs = probabilities(run, examples, batch_size=batch_size)
        out = multilabel_metrics(multi_hot(examples.labels or [], labels), probs >= threshold, labels.names)
        out["threshold"] = threshold
        return out

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return texts.text_columns(bundle)

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        return Settings(**texts.text_settings(bundle, cfg, PROBLEM_TYPE), label_delimiter=cfg.task.label_delimiter)

    def card_usage(self, info: Any) -> list[str]:
        # top_k=None: every label's sigmoid score, as headstart gives them
        threshold, source = info.settings.threshold, info.settings.threshold_source
        return texts.pipeline_usage(info, ", top_k=None") + [
            "",
            f"A label applies when its score is at least {threshold} ({source}).",
        ]

    def card_input(self, info: Any) -> str:
        return texts.card_input(info)

    def export_refusal(self, info: Any) -> str | None:
        return None

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return texts.probe_texts(tokenizer, info, probe)

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        """``labels``: every label scoring at least the saved threshold (possibly none);
        ``label``/``score``: the best-scoring label; ``scores`` for all with ``all_scores``."""
        probs = probabilities(run, inputs, batch_size=batch_size)
        names, threshold = run.info.labels, float(run.info.settings.threshold)
        out = []
        for row in probs:
            best = int(row.argmax())
            item: dict[str, Any] = {
                "label": names[best],
                "score": float(row[best]),
                "labels": [names[i] for i in np.flatnonzero(row >= threshold)],
            }
            if all_scores:
                item["scores"] = {name: float(p) for name, p in zip(names, row)}
            out.append(item)
        return out

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return {"logits": logits, "probabilities": probabilities}

    def file_rows(self, info: Any, options: ReadOptions) -> TextRows:
        return TextRows(info, options.text_column, options.text_pair_column)

    def serving(self) -> Any:
        from headstart.tasks.common.serving import TextServing

        return TextServing()
