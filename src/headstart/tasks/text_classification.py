"""Single-label text classification of single texts or text pairs (one code path).

The saved model is a stock ``AutoModelForSequenceClassification`` with ``id2label`` set, so
``transformers.pipeline("text-classification", model=DIR)`` loads it and gives the same scores.
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
import numpy as np
from transformers import AutoModelForSequenceClassification

from headstart.data.encoding import Encoded, encode_texts
from headstart.data.examples import Examples
from headstart.data.labels import LabelSet
from headstart.evaluation.metrics import classification_metrics


class TextClassification:
    name: ClassVar[str] = "text-classification"
    pipeline_task: ClassVar[str] = "text-classification"

    def main_metric(self, labels: LabelSet) -> str:
        return "accuracy"

    def metric_names(self, labels: LabelSet) -> list[str]:
        names = ["accuracy"] + [f"{m}_{avg}" for avg in ("macro", "micro") for m in ("precision", "recall", "f1")]
        return names + (["precision", "recall", "f1"] if len(labels) == 2 else [])

    def build_model(self, path: str, labels: LabelSet) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(labels),
            id2label=labels.id2label,
            label2id=labels.label2id,
            problem_type="single_label_classification",
        )

    def load_model(self, path: str) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(path)

    def encode(
        self, examples: Examples, tokenizer: Any, labels: LabelSet | None, max_length: int
    ) -> tuple[datasets.Dataset, Encoded]:
        enc = encode_texts(tokenizer, examples.texts, examples.pairs, max_length)
        columns: dict[str, list[Any]] = dict(enc.features)
        if labels is not None and examples.labels is not None:
            ids = labels.label2id
            columns["labels"] = [ids[label] for label in examples.labels]
        return datasets.Dataset.from_dict(columns), enc

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=-1, keepdims=True)

    def metrics(self, label_ids: np.ndarray, logits: np.ndarray, labels: LabelSet, positive: int) -> dict[str, Any]:
        return classification_metrics(label_ids, logits.argmax(axis=-1), labels.names, positive)
