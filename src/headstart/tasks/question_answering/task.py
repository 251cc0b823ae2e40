"""Extractive question answering (SQuAD 1.1 and 2.0): the answer is a span of the context.

The saved model is a stock ``AutoModelForQuestionAnswering``, so
``transformers.pipeline("question-answering", model=DIR)`` loads it; headstart reads the context
in windows of ``max_length`` tokens sharing ``doc_stride``, finds the best span over all of them
(``postprocess.py``) and, for SQuAD 2.0-style data, answers nothing past a no-answer threshold
tuned on validation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import datasets
import numpy as np
from transformers import AutoConfig, AutoModelForQuestionAnswering

from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.data.readers import hf_split_table
from headstart.errors import ConfigError, DataError
from headstart.modeling.backbones import attention_dropout_setting
from headstart.tasks.base import PredictOption
from headstart.tasks.question_answering import distill as distilling
from headstart.tasks.question_answering import predict as prediction
from headstart.tasks.question_answering.config import CHECKS, Config
from headstart.tasks.question_answering.encoding import Windows, encode_questions
from headstart.tasks.question_answering.examples import QAExamples, read_qa
from headstart.tasks.question_answering.postprocess import BestSpans, best_spans
from headstart.tasks.question_answering.report import breakdowns, confident_mistakes
from headstart.tasks.question_answering.rows import QARows
from headstart.tasks.question_answering.scores import best_threshold, scores_at

NO_LABELS = LabelSet([])  # spans, not classes


@dataclass
class Settings:
    """The QA model's headstart.json fields."""

    doc_stride: int = 128
    max_answer_length: int = 30
    version_2_with_negative: bool = False
    null_score_diff_threshold: float | None = None


class QuestionAnswering:
    name: ClassVar[str] = "question-answering"
    aliases: ClassVar[tuple[str, ...]] = ("qa", "extractive-qa")  # also accepted as task.type
    pipeline_task: ClassVar[str] = "question-answering"
    long_inputs: ClassVar[str] = "windowed"
    pre_split: ClassVar[bool] = False
    max_length: ClassVar[int] = 384  # HF run_qa's max_seq_length: most SQuAD contexts fit one window
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {}
    input_fields: ClassVar[dict[str, str]] = {
        "question": "QA: a question to answer (one per --context)",
        "context": "QA: the text holding its answer (one per --question)",
    }

    def __init__(self) -> None:
        self.version_2 = False
        # The validation split and its windows: the Trainer's evaluation scores answers, not windows.
        self._validation: QAExamples | None = None
        self._validation_windows: Windows | None = None

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        if cfg.task.class_weights is not None:
            raise ConfigError(
                "no task.class_weights for question answering (spans, not classes)",
                found=repr(cfg.task.class_weights),
                fix="remove task.class_weights",
            )
        notes: list[str] = []
        options = ReadOptions.from_config(cfg.data)
        train_ex = self._load(cfg, options, train, cfg.data.train, cfg.data.train_split_name)
        if train_ex is None:
            raise DataError("training data", found="none", fix="pass --train FILE (SQuAD JSON, jsonl, csv, ...)")
        self.version_2 = _version_2(cfg, train_ex)
        test_ex = self._load(cfg, options, test, cfg.data.test, cfg.data.test_split_name)
        if test_ex is None and cfg.data.test_fraction:
            train_ex, test_ex = split_by_context(train_ex, cfg.data.test_fraction, cfg.train.seed)
            notes.append(f"held out a test split of {len(test_ex)} questions (seed {cfg.train.seed})")
        val_ex = self._load(cfg, options, validation, cfg.data.validation, cfg.data.validation_split_name)
        if val_ex is None:
            train_ex, val_ex = split_by_context(train_ex, cfg.data.validation_fraction, cfg.train.seed + 1)
            notes.append(
                f"no validation set given: held out {len(val_ex)} training questions, whole contexts at a time "
                f"(seed {cfg.train.seed + 1})"
            )
        for name, split in (("train", train_ex), ("validation", val_ex), ("test", test_ex)):
            if split is not None:
                notes.extend(_repair_notes(name, split))
        if self.version_2:
            notes.append("questions may have no answer (SQuAD 2.0-style): a no-answer threshold is tuned on validation")
        self._validation = val_ex
        return DataBundle(train_ex, val_ex, test_ex, NO_LABELS, notes)  # type: ignore[arg-type]

    def _load(
        self, cfg: RunConfig, options: ReadOptions, given: Any, path: str | None, hf_split: str | None
    ) -> QAExamples | None:
        if given is not None:
            return read_qa(given, options)
        if path is not None:
            return read_qa(path, options)
        table = hf_split_table(cfg.data, hf_split)
        return None if table is None else read_qa(table, options)

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> QAExamples:
        examples = read_qa(source, options, need_answers=need_label)
        if need_label and examples.has_unanswerable and not info.settings.version_2_with_negative:
            n = sum(1 for a in examples.answers or [] if not a)
            raise DataError(
                "answerable questions: this model was trained on SQuAD 1.1-style data and always answers",
                found=f"{n} of {len(examples)} questions without an answer",
                fix="evaluate on the answerable questions, or train with task.version_2_with_negative true",
                file=examples.source,
            )
        return examples

    def check_labels(self, examples: QAExamples, labels: LabelSet) -> None:
        if examples.has_unanswerable and not self.version_2:
            raise DataError(
                "answerable questions, as in the training data",
                found="questions without an answer",
                fix="set task.version_2_with_negative true to train for unanswerable questions",
                file=examples.source,
            )

    def encode(self, examples: QAExamples, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict]:
        self.check_labels(examples, labels)
        tokenizer.padding_side = "right"  # saved with the model: pipeline() reads the question first too
        spans = [[(a.start, a.end) for a in answers] for answers in examples.answers or []]
        windows = encode_questions(
            tokenizer,
            examples.questions,
            examples.contexts,
            cfg.model.max_length,
            cfg.task.doc_stride,
            answers=spans if examples.answers is not None else None,
        )
        if examples is self._validation:
            self._validation_windows = windows
        notes = []
        if windows.n_questions_cut:
            notes.append(
                f"{windows.n_questions_cut} questions of {examples.source} were cut to a quarter of max_length"
            )
        if windows.n_answers_cut:
            notes.append(
                f"{windows.n_answers_cut} answers in {examples.source} are longer than a window holds: "
                "their windows train as 'no answer'; raise max_length or doc_stride"
            )
        summary = {
            "examples": len(examples),
            "windows": len(windows.owner),
            "source": examples.source,
            "windowed": windows.n_windowed,
            "tokens": int(sum(windows.lengths)),
            "longest_before_truncation": max(windows.full_lengths, default=0),
            "lengths": windows.lengths,
            "full_lengths": windows.full_lengths,
            "unanswerable": sum(1 for a in examples.answers or [] if not a),
            "notes": notes,
            "owner": list(zip(windows.owner, windows.offsets)),  # each window's example and spans: distillation
        }
        return datasets.Dataset.from_dict(windows.features), summary

    def check_split(self, examples: QAExamples, summary: dict[str, Any]) -> CheckSplit:
        # a question with its context is one item: the same question on the same context is a duplicate
        texts = [f"{q}\n{c}" if q.strip() and c.strip() else "" for q, c in zip(examples.questions, examples.contexts)]
        return CheckSplit(texts, None, examples.locations, lengths=summary.get("full_lengths"))

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return distilling.QACollator(tokenizer, pad_to_multiple_of)

    # -- distillation ---------------------------------------------------------------------------
    def teacher_targets(self, teacher: Any, examples: QAExamples, owner: list[Any], labels: LabelSet) -> list[Any]:
        """The teacher's start and end log-probabilities on each training window's tokens, carried
        over by characters, so teacher and student may tokenize differently."""
        return distilling.teacher_targets(teacher, examples, owner)

    def distillation_loss(self, temperature: float, alpha: float) -> Callable[..., Any]:
        return distilling.loss(temperature, alpha)

    def with_teacher_labels(self, teacher: Any, train: QAExamples, extra: QAExamples) -> QAExamples:
        return distilling.with_teacher_answers(teacher, train, extra)

    # -- model and loss -------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        dropout = attention_dropout_setting(AutoConfig.from_pretrained(path), cfg.model.attention_dropout)
        return AutoModelForQuestionAnswering.from_pretrained(path, **dropout)

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        return AutoModelForQuestionAnswering.from_pretrained(path, **load)

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        raise ConfigError(
            "no task.class_weights for question answering (spans, not classes)",
            found=str(class_weights),
            fix="remove task.class_weights",
        )

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return None

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        return "f1"

    def metric_names(self, labels: LabelSet) -> list[str]:
        return ["exact_match", "f1"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        """SQuAD EM/F1 of the validation questions (windows merged), at the best no-answer threshold."""
        windows, examples = self._validation_windows, self._validation
        if windows is None or examples is None:
            return {}
        start, end = (np.asarray(p) for p in prediction.predictions[:2])  # [windows, width], -100 padded
        lengths = windows.lengths
        best = best_spans(
            [start[i, :n] for i, n in enumerate(lengths)],
            [end[i, :n] for i, n in enumerate(lengths)],
            windows.offsets,
            windows.owner,
            len(examples),
            cfg.task.max_answer_length,
        )
        threshold = best_threshold(best, examples) if self.version_2 else None
        found = scores_at(best, examples, threshold)
        return {k: found[k] for k in self.metric_names(labels)}

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        if not self.version_2 or cfg.task.null_score_diff_threshold is not None or validation is None:
            return {}
        best = prediction.spans(run, validation.questions, validation.contexts)
        return {"null_score_diff_threshold": round(best_threshold(best, validation), 4)}

    def evaluate(self, run: Any, examples: QAExamples, batch_size: int = 64) -> dict[str, Any]:
        best: BestSpans = prediction.spans(run, examples.questions, examples.contexts, batch_size=batch_size)
        threshold = prediction.threshold(run.info.settings)
        answers = best.answers(examples.contexts, threshold)
        out: dict[str, Any] = scores_at(best, examples, threshold)
        out.update(breakdowns(examples, answers))
        out["mistakes"] = confident_mistakes(examples, answers)
        return out

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return {}

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        return Settings(
            doc_stride=cfg.task.doc_stride,
            max_answer_length=cfg.task.max_answer_length,
            version_2_with_negative=self.version_2,
            null_score_diff_threshold=cfg.task.null_score_diff_threshold,
        )

    def card_usage(self, info: Any) -> list[str]:
        return [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            'predictor.predict({"question": "Who won?", "context": "Denver beat Carolina 24-10."})',
            "```",
            "",
            "It is a stock `AutoModelForQuestionAnswering` (transformers 5 has no question-answering",
            'pipeline): `AutoModelForQuestionAnswering.from_pretrained("THIS_DIR")` gives the start and end',
            "logits; headstart reads long contexts in windows of "
            f"{info.max_length} tokens sharing {info.settings.doc_stride}, and answers are at most "
            f"{info.settings.max_answer_length} tokens long.",
        ]

    def card_input(self, info: Any) -> str:
        return (
            f"a question and its context, up to {info.max_length} tokens per window "
            f"(longer contexts: windows sharing {info.settings.doc_stride} tokens)."
        )

    def export_refusal(self, info: Any) -> str | None:
        return None

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        questions = ["What is this about?"] * len(probe)
        return tokenizer(
            questions, probe, padding=True, truncation="only_second", max_length=info.max_length, return_tensors="pt"
        )

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        return prediction.predict(run, inputs, batch_size=batch_size)

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return {}

    def file_rows(self, info: Any, options: ReadOptions) -> QARows:
        return QARows()

    def serving(self) -> Any:
        from headstart.tasks.question_answering.serving import QAServing

        return QAServing()


def _version_2(cfg: RunConfig, train: QAExamples) -> bool:
    asked = cfg.task.version_2_with_negative
    if asked is False and train.has_unanswerable:
        raise DataError(
            "answers to every training question (task.version_2_with_negative is false)",
            found=f"{sum(1 for a in train.answers or [] if not a)} questions without one",
            fix="set task.version_2_with_negative true (or null), or drop those questions",
            file=train.source,
        )
    return bool(asked) if asked is not None else train.has_unanswerable


def split_by_context(examples: QAExamples, fraction: float, seed: int) -> tuple[QAExamples, QAExamples]:
    """A seeded split that keeps every question of a context on one side (no context leaks)."""
    contexts = list(dict.fromkeys(examples.contexts))
    random.Random(seed).shuffle(contexts)
    held = set(contexts[: max(1, round(fraction * len(contexts)))])
    if len(held) == len(contexts):
        raise DataError(
            "more than one context, to hold some out for validation",
            found=f"{len(contexts)} context(s)",
            fix="pass --validation FILE",
            file=examples.source,
        )
    keep = [i for i, c in enumerate(examples.contexts) if c not in held]
    out = [i for i, c in enumerate(examples.contexts) if c in held]
    return examples.subset(keep), examples.subset(out)


def _repair_notes(split: str, examples: QAExamples) -> list[str]:
    """What the answer checks found: starts moved to their text, and starts nothing can check."""
    notes = []
    if examples.repairs:
        shown = "; ".join(r.line() for r in examples.repairs[:3])
        notes.append(
            f"{split}: {len(examples.repairs)} answer_start values did not point at their answer and were moved "
            f"to the nearest occurrence of its text (e.g. {shown})"
        )
    if examples.ambiguous:
        notes.append(
            f"{split}: {len(examples.ambiguous)} answers occur more than once in their context, so answer_start "
            f"alone says which is meant; check a few if the file's starts may be wrong "
            f"(e.g. {', '.join(examples.ambiguous[:3])})"
        )
    return notes
