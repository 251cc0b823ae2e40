"""Single-label text classification of single texts or text pairs (one code path).

The saved model is a stock ``AutoModelForSequenceClassification`` with ``id2label`` set, so
``transformers.pipeline("text-classification", model=DIR)`` loads it and gives the same scores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from headstart.config import DEFAULT_MAX_LENGTH, RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle, Examples, check_known_labels
from headstart.data.labels import SINGLE, LabelSet
from headstart.data.options import ReadOptions
from headstart.errors import LabelError
from headstart.modeling.classifier import build_sequence_classifier
from headstart.modeling.losses import distillation_loss, single_label_loss, weighted_loss
from headstart.modeling.temperature import fold_temperature
from headstart.tasks.base import PredictOption
from headstart.tasks.common import texts
from headstart.tasks.common.calibration import calibration_report, fit_temperature, softmax
from headstart.tasks.common.class_weights import resolve_class_weights
from headstart.tasks.common.metrics import MISTAKES_SHOWN, classification_metrics, scalar_metrics
from headstart.tasks.common.rows import TextRows
from headstart.tasks.common.windows import SOFTMAX, combiner
from headstart.tasks.text_classification.config import CHECKS, Config

PROBLEM_TYPE = "single_label_classification"


@dataclass
class Settings(texts.TextSettings):
    positive_label: str | None = None  # whose precision/recall/F1 are reported for two labels
    # the temperature folded into the classification layer (task.calibrate); None: raw scores
    temperature: float | None = None


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


def logits(run: Any, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """Raw model outputs [n_inputs, n_labels], in input order."""
    return texts.text_logits(run, inputs, batch_size, combiner(SOFTMAX))


def window_logits(run: Any, inputs: Any, *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The documents' logits [n, K], and what they were aggregated from: every window's logits
    [windows, K] and the document each window belongs to [windows]."""
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    offset = 0

    def keep(window: np.ndarray, owner: Any, n: int, how: str) -> np.ndarray:
        nonlocal offset
        kept.append((window, np.asarray(owner) + offset))
        offset += n
        return combiner(SOFTMAX)(window, owner, n, how)

    documents = texts.text_logits(run, inputs, batch_size, keep)
    if not kept:
        return documents, documents, np.zeros(0, dtype=np.int64)
    return documents, np.concatenate([w for w, _ in kept]), np.concatenate([o for _, o in kept])


def probabilities(run: Any, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """Softmax scores [n_inputs, n_labels], as the text-classification pipeline computes them."""
    return softmax(logits(run, inputs, batch_size=batch_size))


def label_predictions(probs: np.ndarray, names: list[str], all_scores: bool) -> list[dict[str, Any]]:
    """``[{"label", "score"}]`` per row of probabilities (``"scores"`` for every label with ``all_scores``)."""
    out = []
    for row in probs:
        best = int(row.argmax())
        item: dict[str, Any] = {"label": names[best], "score": float(row[best])}
        if all_scores:
            item["scores"] = {name: float(p) for name, p in zip(names, row)}
        out.append(item)
    return out


class TextClassification:
    """One label per text (or text pair), a softmax over the labels."""

    name: ClassVar[str] = "text-classification"
    aliases: ClassVar[tuple[str, ...]] = ("classification", "sequence-classification")  # also accepted as task.type
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
        bundle = texts.load_text_data(cfg, train, validation, test, SINGLE)
        positive_index(bundle.labels, cfg.task.positive_label)  # fail before training, not after
        return bundle

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> Examples:
        return texts.read_text_examples(source, info, options, need_label, SINGLE)

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        check_known_labels(examples, labels)

    def encode(self, examples: Examples, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict]:
        values = examples.labels or []
        targets = [labels.label2id[label] for label in values]
        return texts.encode_text_examples(examples, tokenizer, cfg, targets, labels.distribution(values))

    def check_split(self, examples: Examples, summary: dict[str, Any]) -> CheckSplit:
        return texts.text_check_split(examples, summary, examples.labels)

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
        return weighted_loss(class_weights, single_label_loss)

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return resolve_class_weights(setting, labels, list(train_data["labels"]), multi_label=False)

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        return "accuracy"

    def metric_names(self, labels: LabelSet) -> list[str]:
        names = ["accuracy"] + [f"{m}_{avg}" for avg in ("macro", "micro") for m in ("precision", "recall", "f1")]
        return names + (["precision", "recall", "f1"] if len(labels) == 2 else [])

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        guess = texts.eval_logits(prediction).argmax(-1)
        positive = positive_index(labels, cfg.task.positive_label)
        return scalar_metrics(classification_metrics(prediction.label_ids, guess, labels.names, positive))

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Temperature scaling on the validation set, folded into the model (task.calibrate)."""
        if not cfg.task.calibrate or validation is None or not validation.labels:
            return {}
        labels = LabelSet(run.info.labels)
        _, windows, owner = window_logits(run, validation, batch_size=64)
        ids = np.array([labels.label2id[label] for label in validation.labels])
        how = run.info.settings.window_aggregation
        temperature = fit_temperature(windows, owner, len(ids), how, ids)
        fold_temperature(run.model, temperature, num_labels=len(labels))
        return {"temperature": temperature}

    def evaluate(self, run: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        labels = LabelSet(run.info.labels)
        scores, windows, owner = window_logits(run, examples, batch_size=batch_size)
        ids = np.array([labels.label2id[label] for label in examples.labels or []])
        positive = labels.label2id.get(str(run.info.settings.positive_label), 1 if len(labels) == 2 else 0)
        out = classification_metrics(ids, scores.argmax(-1), labels.names, positive)
        if len(ids):
            how = run.info.settings.window_aggregation
            out.update(calibration_report(windows, owner, ids, how, run.info.settings.temperature))
        out["mistakes"] = confident_mistakes(examples, scores, ids, labels)
        return out

    # -- distillation ---------------------------------------------------------------------------
    def teacher_targets(self, teacher: Any, examples: Examples, owner: list[int], labels: LabelSet) -> list[Any]:
        documents = logits(teacher, examples, batch_size=64)  # [n, K] in the teacher's label order
        order = [teacher.info.labels.index(name) for name in labels.names]
        return documents[np.asarray(owner)][:, order].tolist()

    def distillation_loss(self, temperature: float, alpha: float) -> Callable[..., Any]:
        return lambda outputs, teacher, gold: distillation_loss(
            outputs["logits"], teacher, gold["labels"], temperature, alpha
        )

    def with_teacher_labels(self, teacher: Any, train: Examples, extra: Examples) -> Examples:
        inputs = list(zip(extra.texts, extra.pairs)) if extra.is_pair else extra.texts
        guesses = [p["label"] for p in teacher.predict(inputs)]
        return dataclasses.replace(
            train,
            texts=train.texts + extra.texts,
            pairs=None if train.pairs is None else train.pairs + (extra.pairs or []),
            labels=list(train.labels or []) + guesses,
            locations=train.locations + extra.locations,
        )

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return texts.text_columns(bundle)

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        positive = bundle.labels.names[positive_index(bundle.labels, cfg.task.positive_label)]
        return Settings(**texts.text_settings(bundle, cfg, PROBLEM_TYPE), positive_label=positive)

    def card_usage(self, info: Any) -> list[str]:
        return texts.pipeline_usage(info)

    def card_input(self, info: Any) -> str:
        return texts.card_input(info)

    def export_refusal(self, info: Any) -> str | None:
        return None

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return texts.probe_texts(tokenizer, info, probe)

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        return label_predictions(probabilities(run, inputs, batch_size=batch_size), run.info.labels, all_scores)

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return {"logits": logits, "probabilities": probabilities}

    def file_rows(self, info: Any, options: ReadOptions) -> TextRows:
        return TextRows(info, options.text_column, options.text_pair_column)

    def serving(self) -> Any:
        from headstart.tasks.common.serving import TextServing

        return TextServing()


def confident_mistakes(
    examples: Examples, scores: np.ndarray, gold: np.ndarray, labels: LabelSet, k: int = MISTAKES_SHOWN
) -> list[dict[str, Any]]:
    """The ``k`` wrong predictions the model was surest of, with their texts and locations."""
    if len(gold) == 0:
        return []
    probs = softmax(scores)
    guess = probs.argmax(-1)
    wrong = np.flatnonzero(guess != gold)
    order = wrong[np.argsort(-probs[wrong, guess[wrong]], kind="stable")][:k]
    return [
        {
            "location": examples.locations[i],
            "text": texts.text_of(examples, i),
            "expected": labels.names[gold[i]],
            "predicted": labels.names[guess[i]],
            "score": round(float(probs[i, guess[i]]), 4),
        }
        for i in order
    ]
