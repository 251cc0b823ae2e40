"""Single-label text classification of single texts or text pairs (one code path).

The saved model is a stock ``AutoModelForSequenceClassification`` with ``id2label`` set, so
``transformers.pipeline("text-classification", model=DIR)`` loads it and gives the same scores.
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
import numpy as np
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.columns import ColumnSpec
from headstart.data.encoding import encode_texts
from headstart.data.examples import DataBundle, Examples, check_known_labels, load_examples, load_splits
from headstart.data.labels import SINGLE, LabelKind, LabelSet
from headstart.errors import DataError, LabelError
from headstart.evaluation.metrics import MISTAKES_SHOWN, classification_metrics, scalar_metrics
from headstart.modeling.classifier import build_sequence_classifier


def positive_index(labels: LabelSet, positive_label: str | None) -> int:
    """Index of the class whose precision/recall/F1 are reported for binary tasks."""
    if positive_label is None:
        return 1 if len(labels) == 2 else 0
    key = labels.key(positive_label)
    if key not in labels.label2id:
        raise LabelError(
            f"task.positive_label among {labels.names}",
            found=repr(positive_label),
            fix="set task.positive_label to one of the training labels",
        )
    return labels.label2id[key]


class TextClassification:
    """One label per text; the multi-label and regression tasks change only what a label is,
    the head's outputs and loss (``problem_type``) and the scores."""

    name: ClassVar[str] = "text-classification"
    long_inputs: ClassVar[str] = "truncated"
    pipeline_task: ClassVar[str] = "text-classification"
    pre_split: ClassVar[bool] = False
    problem_type: ClassVar[str] = "single_label_classification"

    def label_kind(self, settings: dict[str, Any]) -> LabelKind:
        """What a label cell holds; ``settings`` are the task config's or the saved headstart.json's."""
        return SINGLE

    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        kind = self.label_kind(vars(cfg.task) | {"label_column": cfg.data.label_column})
        bundle = load_splits(
            cfg.data, train=train, validation=validation, test=test, seed=cfg.train.seed, label_kind=kind
        )
        self.check_bundle(bundle, cfg)
        return bundle

    def check_bundle(self, bundle: DataBundle, cfg: RunConfig) -> None:
        positive_index(bundle.labels, cfg.task.positive_label)  # fail before training, not after

    def targets(self, values: list[Any], labels: LabelSet) -> list[Any]:
        """The ``labels`` column the model trains on: class ids here."""
        return [labels.label2id[label] for label in values]

    def distribution(self, values: list[Any], labels: LabelSet) -> dict[str, int] | None:
        """Examples per label (in label2id order, zeros included), as reported and checked for skew."""
        return labels.distribution(values)

    def check_values(self, values: list[Any] | None) -> list[Any] | None:
        """One hashable label per example, for the data checks' conflicting-label search."""
        return values

    def tune(self, predictor: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Settings fitted on validation after training, saved in headstart.json (none here)."""
        return {}

    def read_examples(self, source: Any, info: Any, options: dict[str, Any], need_label: bool) -> Examples:
        saved = info.columns
        named = any(options.get(k) for k in ("text_column", "text_pair_column", "label_column"))
        preferred = None
        if not named and saved.get("text"):
            preferred = ColumnSpec(saved["text"], saved.get("text_pair"), saved.get("label"))
        kind = self.label_kind(info.raw)
        examples = load_examples(source, need_label=need_label, columns=preferred, label_kind=kind, **options)
        if examples.is_pair != bool(info.raw.get("is_pair")):
            kind = "text pairs" if info.raw.get("is_pair") else "single texts"
            raise DataError(
                f"{kind}, as the model was trained on",
                found=f"columns {examples.columns}",
                fix="name the text columns with --text-column/--text-pair-column",
                file=examples.source,
            )
        return examples

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        check_known_labels(examples, labels)

    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        return build_sequence_classifier(
            path,
            cfg.model,
            self.problem_type,
            num_labels=len(labels),
            id2label=labels.id2label,
            label2id=labels.label2id,
        )

    def load_model(self, path: str) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(path)

    def encode(
        self, examples: Examples, tokenizer: Any, labels: LabelSet, cfg: RunConfig
    ) -> tuple[datasets.Dataset, dict[str, Any]]:
        enc = encode_texts(
            tokenizer,
            examples.texts,
            examples.pairs,
            cfg.model.max_length,
            long_documents=cfg.task.long_documents,
            stride=cfg.task.stride,
        )
        columns: dict[str, list[Any]] = dict(enc.features)
        targets = self.targets(examples.labels or [], labels)
        columns["labels"] = [targets[i] for i in enc.owner] if targets else []  # each window: its document's
        summary = {
            "examples": len(examples),
            "source": examples.source,
            "label_distribution": self.distribution(examples.labels or [], labels),
            **self._long_summary(enc, cfg, examples.is_pair),
            "tokens": int(sum(enc.lengths)),
            "longest_before_truncation": enc.max_untruncated,
            "lengths": enc.lengths,
            "full_lengths": enc.full_lengths,
        }
        return datasets.Dataset.from_dict(columns), summary

    def _long_summary(self, enc: Any, cfg: RunConfig, is_pair: bool) -> dict[str, int]:
        """How the too-long examples were handled, under the key the run's notes read."""
        how = "truncate" if is_pair else cfg.task.long_documents
        if how == "windows":
            return {"windowed": enc.n_truncated, "windows": enc.n_windows}
        return {"truncated": enc.n_truncated, "head_tail": how == "head-tail"}

    def check_split(self, examples: Examples, summary: dict[str, Any]) -> CheckSplit:
        texts = examples.texts
        if examples.pairs is not None:
            texts = [f"{a} || {b}" for a, b in zip(examples.texts, examples.pairs)]
        return CheckSplit(
            texts,
            self.check_values(examples.labels),
            examples.locations,
            label_counts=summary.get("label_distribution"),  # in label2id order, zeros included
            lengths=summary.get("full_lengths"),
        )

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def main_metric(self, labels: LabelSet) -> str:
        return "accuracy"

    def metric_names(self, labels: LabelSet) -> list[str]:
        names = ["accuracy"] + [f"{m}_{avg}" for avg in ("macro", "micro") for m in ("precision", "recall", "f1")]
        return names + (["precision", "recall", "f1"] if len(labels) == 2 else [])

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        positive = positive_index(labels, cfg.task.positive_label)
        return scalar_metrics(classification_metrics(prediction.label_ids, logits.argmax(-1), labels.names, positive))

    def evaluate(self, predictor: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        labels = LabelSet(predictor.labels)
        logits = predictor.logits(examples, batch_size=batch_size)
        ids = np.array([labels.label2id[label] for label in examples.labels or []])
        positive = labels.label2id.get(str(predictor.info.raw.get("positive_label")), 1 if len(labels) == 2 else 0)
        out = classification_metrics(ids, logits.argmax(-1), labels.names, positive)
        out["mistakes"] = _confident_mistakes(examples, logits, ids, labels)
        return out

    def saved_info(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        columns = bundle.train.columns
        return {
            "columns": {
                "text": columns.text if columns else None,
                "text_pair": columns.text_pair if columns else None,
                "label": columns.label if columns else None,
            },
            "is_pair": bundle.train.is_pair,
            "positive_label": bundle.labels.names[positive_index(bundle.labels, cfg.task.positive_label)],
            "problem_type": self.problem_type,
            "long_documents": cfg.task.long_documents,
            "window_aggregation": cfg.task.window_aggregation,
            "stride": cfg.task.stride,
        }

    def predictor_class(self) -> type:
        from headstart.inference.predictor import Predictor

        return Predictor


def _confident_mistakes(
    examples: Examples, logits: np.ndarray, gold: np.ndarray, labels: LabelSet, k: int = MISTAKES_SHOWN
) -> list[dict[str, Any]]:
    """The ``k`` wrong predictions the model was surest of, with their texts and locations."""
    if len(gold) == 0:
        return []
    shifted = logits - logits.max(-1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(-1, keepdims=True)
    guess = probs.argmax(-1)
    wrong = np.flatnonzero(guess != gold)
    order = wrong[np.argsort(-probs[wrong, guess[wrong]], kind="stable")][:k]
    return [
        {
            "location": examples.locations[i],
            "text": examples.texts[i] if examples.pairs is None else f"{examples.texts[i]} || {examples.pairs[i]}",
            "expected": labels.names[gold[i]],
            "predicted": labels.names[guess[i]],
            "score": round(float(probs[i, guess[i]]), 4),
        }
        for i in order
    ]
