"""Named-entity recognition: token classification with a softmax or a CRF head.

Words carry IOB2 tags; the first sub-token of each word carries its tag (see
``data/token_encoding.py``), long sentences become overlapping windows, and predictions come
back per word. The softmax model is a stock ``AutoModelForTokenClassification`` that
``pipeline("token-classification")`` loads; the CRF model loads with ``headstart.Predictor``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets
import numpy as np
import torch
from transformers import AutoConfig, AutoModelForTokenClassification

from headstart.config import DEFAULT_MAX_LENGTH, RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.data.readers import hf_split_table
from headstart.data.tags import entities, repair, split_tag
from headstart.data.token_encoding import IGNORE, encode_words
from headstart.data.tokens import TokenExamples, read_token_file, rows_to_examples
from headstart.errors import DataError, LabelError
from headstart.modeling.backbones import attention_dropout_setting
from headstart.modeling.crf_tagger import CrfTagger, CrfTaggerConfig
from headstart.modeling.losses import distillation_loss, single_label_loss, weighted_loss
from headstart.tasks.base import TEACHER_COLUMN, PredictOption
from headstart.tasks.common.class_weights import resolve_class_weights
from headstart.tasks.common.metrics import MISTAKES_SHOWN
from headstart.tasks.token_classification import predict as prediction
from headstart.tasks.token_classification.config import CHECKS, Config
from headstart.tasks.token_classification.decoding import DECODERS, TagDecoder
from headstart.tasks.token_classification.examples import random_split, tag_set, to_token_examples
from headstart.tasks.token_classification.metrics import entity_metrics
from headstart.tasks.token_classification.rows import TokenRows


@dataclass
class Settings:
    """The tagger's headstart.json fields; the defaults are what a model saved before each existed did."""

    tag_scheme: str | None = None  # of the training files (models train on IOB2)
    crf: bool = False
    decode: str = "argmax"
    label_all_tokens: bool = False
    stride: int = 32
    context: int = 0


class TokenClassification:
    name: ClassVar[str] = "token-classification"
    aliases: ClassVar[tuple[str, ...]] = ("ner", "tagging")  # also accepted as task.type
    long_inputs: ClassVar[str] = "windowed"
    pipeline_task: ClassVar[str] = "token-classification"
    pre_split: ClassVar[bool] = True
    max_length: ClassVar[int] = DEFAULT_MAX_LENGTH
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config  # its keys of the task section
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {
        "decode": PredictOption(
            DECODERS, "NER softmax models: override the saved decoding (argmax = what transformers.pipeline does)"
        )
    }
    input_fields: ClassVar[dict[str, str]] = {}  # texts come as the command's TEXT arguments

    # -- data ---------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        notes: list[str] = []
        train_ex = self._load(cfg, train, cfg.data.train, cfg.data.train_split_name)
        if train_ex is None:
            raise DataError("training data", found="none", fix="pass --train FILE (CoNLL or JSONL)")
        if train_ex.tags is None:
            raise LabelError("tags in the training data", found="tokens only", fix="add a tag column or tags lists")
        labels = tag_set(train_ex.tags)
        test_ex = self._load(cfg, test, cfg.data.test, cfg.data.test_split_name)
        if test_ex is None and cfg.data.test_fraction:
            train_ex, test_ex = random_split(train_ex, cfg.data.test_fraction, cfg.train.seed)
            notes.append(f"held out a test split of {len(test_ex)} sentences (seed {cfg.train.seed})")
        val_ex = self._load(cfg, validation, cfg.data.validation, cfg.data.validation_split_name)
        if val_ex is None:
            train_ex, val_ex = random_split(train_ex, cfg.data.validation_fraction, cfg.train.seed + 1)
            notes.append(
                f"no validation set given: held out {len(val_ex)} training sentences (seed {cfg.train.seed + 1})"
            )
        for split in (val_ex, test_ex):
            if split is not None:
                self.check_labels(split, labels)
        notes.append(f"tag scheme of the training data: {train_ex.scheme} (trained as IOB2)")
        return DataBundle(train_ex, val_ex, test_ex, labels, notes)

    def _load(self, cfg: RunConfig, given: Any, path: str | None, hf_split: str | None) -> TokenExamples | None:
        if given is not None:
            return to_token_examples(given, cfg.task.tag_scheme)
        if path is not None:
            return read_token_file(
                path,
                format=cfg.data.format,
                encoding=cfg.data.encoding,
                token_column=cfg.data.token_column,
                tag_column=cfg.data.tag_column,
                scheme=cfg.task.tag_scheme,
            )
        table = hf_split_table(cfg.data, hf_split)
        if table is not None:
            rows = [dict(zip(table.columns, values)) for values in zip(*table.data.values())]
            return rows_to_examples(
                rows, [table.location(i) for i in range(len(table))], table.source, cfg.task.tag_scheme
            )
        return None

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> TokenExamples:
        if isinstance(source, (str, Path)):
            cols = info.columns
            examples = read_token_file(
                source,
                format=options.format,
                encoding=options.encoding,
                token_column=cols.get("token_column", 0),
                tag_column=cols.get("tag_column", -1),
                require_tags=need_label,
            )
        else:
            examples = to_token_examples(source)
        if need_label and examples.tags is None:
            raise LabelError(
                "tags to evaluate against", found="tokens only", fix="use a file with tags", file=examples.source
            )
        return examples

    def check_labels(self, examples: TokenExamples, labels: LabelSet) -> None:
        known = set(labels.names)
        for tags, where in zip(examples.tags or [], examples.locations):
            for tag in tags:
                if tag not in known:
                    raise LabelError(
                        f"a tag seen in training ({', '.join(labels.names)})",
                        found=repr(tag),
                        fix="fix the tag, or add examples of it to the training data",
                        file=where,
                    )

    # -- model --------------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        # (T5: the Auto class maps it to T5ForTokenClassification, which runs the encoder only)
        dropout = {} if cfg.model.classifier_dropout is None else {"classifier_dropout": cfg.model.classifier_dropout}
        if cfg.task.crf:
            return CrfTagger.from_encoder(
                path, labels.id2label, labels.label2id, attention_dropout=cfg.model.attention_dropout, **dropout
            )
        dropout.update(attention_dropout_setting(AutoConfig.from_pretrained(path), cfg.model.attention_dropout))
        return AutoModelForTokenClassification.from_pretrained(
            path, num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id, **dropout
        )

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        config = load.get("config")
        if isinstance(config, CrfTaggerConfig):  # a tagger onto base weights: its encoder loads them
            return CrfTagger.from_encoder(path, config.id2label, config.label2id, config.classifier_dropout)
        return AutoModelForTokenClassification.from_pretrained(path, **load)  # CrfTagger is registered there too

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        return weighted_loss(class_weights, single_label_loss)  # per token; -100 where none

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        targets = [t for row in train_data["labels"] for t in row if t >= 0]  # a tag per token
        return resolve_class_weights(setting, labels, targets, multi_label=False)

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        return {}

    def encode(
        self, examples: TokenExamples, tokenizer: Any, labels: LabelSet, cfg: RunConfig
    ) -> tuple[datasets.Dataset, dict[str, Any]]:
        ids = labels.label2id
        b_to_i = {ids[t]: ids.get("I-" + t[2:], ids[t]) for t in labels.names if t.startswith("B-")}
        tag_ids = [[ids[t] for t in tags] for tags in examples.tags or []]
        enc = encode_words(
            tokenizer,
            examples.words,
            cfg.model.max_length,
            tag_ids=tag_ids,
            label_all_tokens=cfg.task.label_all_tokens,
            b_to_i=b_to_i,
            stride=cfg.task.stride,
            documents=examples.documents,
            context=cfg.task.context,
        )
        summary = {
            "examples": len(examples),
            "windows": len(enc.windows),
            "source": examples.source,
            "label_distribution": labels.distribution(examples.labels or []),
            "windowed": enc.n_windowed,
            "with_context": enc.n_with_context,
            "unaligned_words": len(enc.unaligned),
            "tokens": int(sum(enc.lengths)),
            "longest_before_truncation": enc.max_untruncated,
            "lengths": enc.lengths,
            "full_lengths": enc.full_lengths,
            "owner": enc.windows,  # each row's sentence and the word of each sub-token (distillation's targets)
            "notes": [],
        }
        if (
            tokenizer("A", add_special_tokens=False)["input_ids"]
            == tokenizer("a", add_special_tokens=False)["input_ids"]
        ):
            summary["notes"].append(
                "the backbone's tokenizer is uncased: capitalisation, a strong cue for names, is lost"
            )
        if enc.unaligned:
            summary["notes"].append(
                f"{len(enc.unaligned)} words in {examples.source} have no sub-token (e.g. zero-width characters): "
                "they are not trained on and are predicted O"
            )
        return datasets.Dataset.from_dict(enc.features), summary

    def check_split(self, examples: TokenExamples, summary: dict[str, Any]) -> CheckSplit:
        tags = examples.tags
        # Entity types, not tags: "O" outnumbers every tag, so a tag distribution always looks skewed.
        types = None
        if tags is not None:
            types = dict(Counter(split_tag(t)[1] for seq in tags for t in seq if t.startswith("B-")))
        return CheckSplit(
            [" ".join(words) for words in examples.words],
            None if tags is None else [" ".join(seq) for seq in tags],
            examples.locations,
            label_counts=types,
            lengths=summary.get("full_lengths"),
        )

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return TokenCollator(tokenizer, pad_to_multiple_of)

    # -- distillation ---------------------------------------------------------------------------
    def teacher_targets(self, teacher: Any, examples: TokenExamples, owner: list[Any], labels: LabelSet) -> list[Any]:
        """Per training row and sub-token, the teacher's log-probabilities for the word it belongs to:
        aligned by words, so teacher and student may split them differently (other tokenizers)."""
        if getattr(teacher.info.settings, "crf", False):
            raise LabelError(
                "a softmax tagger as the teacher (its per-word probabilities are what the student learns)",
                found="a CRF tagger, whose scores are transition-dependent emissions",
                fix="distill from a teacher trained without --crf",
                file=str(teacher.info.path),
            )
        per_word, _, _ = prediction.word_log_probs(teacher, examples.words, batch_size=64, documents=examples.documents)
        order = [teacher.info.labels.index(name) for name in labels.names]
        blank = [0.0] * len(order)
        rows = []
        for window in owner:
            scores = per_word[window.sentence][:, order]
            rows.append([blank if w is None else scores[w].tolist() for w in window.words])
        return rows

    def distillation_loss(self, temperature: float, alpha: float) -> Callable[..., Any]:
        return lambda outputs, teacher, gold: distillation_loss(
            outputs["logits"], teacher, gold["labels"], temperature, alpha
        )

    def with_teacher_labels(self, teacher: Any, train: TokenExamples, extra: TokenExamples) -> TokenExamples:
        tags, _ = prediction.predict_tags(teacher, extra.words, batch_size=64, documents=extra.documents)
        documents = None
        if train.documents is not None:  # the extra documents numbered after train's (a sentence alone: its own)
            theirs = extra.documents if extra.documents is not None else list(range(len(extra.words)))
            documents = train.documents + [d + max(train.documents, default=-1) + 1 for d in theirs]
        return dataclasses.replace(
            train,
            words=train.words + extra.words,
            tags=list(train.tags or []) + tags,
            locations=train.locations + extra.locations,
            documents=documents,
        )

    # -- metrics ------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        return "f1"

    def metric_names(self, labels: LabelSet) -> list[str]:
        return ["precision", "recall", "f1", "precision_macro", "recall_macro", "f1_macro", "token_accuracy"]

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        """Entity scores per window during training (the final report is per sentence, merged)."""
        preds = prediction.predictions
        true_seqs, pred_seqs = [], []
        if isinstance(preds, tuple):  # CRF: (emissions, decoded tags)
            for gold, guess in zip(prediction.label_ids, preds[1]):
                keep = gold != IGNORE
                true_seqs.append([labels.names[i] for i in gold[keep]])
                pred_seqs.append(repair([labels.names[i] if i >= 0 else "O" for i in guess[keep]]))
        else:
            # Scored with the decoding the saved model will use, so the best checkpoint is chosen by it.
            decoder = TagDecoder(labels.names, cfg.task.decode)
            log_probs = torch.log_softmax(torch.from_numpy(np.asarray(preds, dtype=np.float32)), dim=-1).numpy()
            for gold, lp in zip(prediction.label_ids, log_probs):
                keep = gold != IGNORE
                true_seqs.append([labels.names[i] for i in gold[keep]])
                pred_seqs.append(decoder.decode(lp[keep]))
        m = entity_metrics(true_seqs, pred_seqs)
        return {k: m[k] for k in self.metric_names(labels)}

    def evaluate(self, run: Any, examples: TokenExamples, batch_size: int = 64) -> dict[str, Any]:
        tags, scores = prediction.predict_tags(run, examples.words, batch_size=batch_size, documents=examples.documents)
        out = entity_metrics(examples.tags or [], tags)
        strict = entity_metrics(examples.tags or [], tags, strict=True)
        out["strict"] = {k: strict[k] for k in ("precision", "recall", "f1", "per_type")}
        out["mistakes"] = _confident_mistakes(examples, tags, scores)
        return out

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return {"token_column": cfg.data.token_column, "tag_column": cfg.data.tag_column}

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        return Settings(
            tag_scheme=bundle.train.scheme,
            crf=cfg.task.crf,
            decode=cfg.task.decode,
            label_all_tokens=cfg.task.label_all_tokens,
            stride=cfg.task.stride,
            context=cfg.task.context,
        )

    def card_usage(self, info: Any) -> list[str]:
        lines = [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            'predictor.predict("Ann moved to Paris.")            # entities with character offsets',
            'predictor.predict([["Ann", "moved", "to", "Paris"]])  # a tag per word',
        ]
        if info.settings.crf:
            return lines + [
                "```",
                "",
                "The CRF head is not a stock transformers class: load it with `headstart.Predictor` (after",
                "`import headstart`, `AutoModelForTokenClassification.from_pretrained` loads it too).",
            ]
        pipeline = [
            "",
            "from transformers import pipeline",
            'pipe = pipeline("token-classification", model="THIS_DIR", aggregation_strategy="first")',
            'pipe("Ann moved to Paris.")  # "first" reads each word from its first sub-token, as headstart does',
            "```",
        ]
        return lines + pipeline + _decode_note(info.settings.decode)

    def card_input(self, info: Any) -> str:
        return f"sentences, up to {info.max_length} tokens per window (longer: windowed)."

    def export_refusal(self, info: Any) -> str | None:
        return None

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return tokenizer(probe, padding=True, truncation=True, max_length=info.max_length, return_tensors="pt")

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        return prediction.predict(run, inputs, batch_size=batch_size, **options)

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return {"predict_tags": prediction.predict_tags}

    def file_rows(self, info: Any, options: ReadOptions) -> TokenRows:
        return TokenRows(info)

    def serving(self) -> Any:
        from headstart.tasks.token_classification.serving import TokenServing

        return TokenServing()


def _decode_note(decode: str) -> list[str]:
    if decode == "argmax":
        return ["", "The scores above were taken with argmax decoding, the pipeline's own."]
    return [
        "",
        "The scores above were taken with constrained Viterbi decoding (`task.decode: viterbi`): the",
        "most probable valid IOB2 sequence. The pipeline takes each word's best tag instead, so it can",
        "differ on sentences where those form an invalid sequence; `headstart predict --decode argmax`",
        "reproduces the pipeline exactly.",
    ]


class TokenCollator:
    """Pads model inputs with the tokenizer, labels with -100 and the word mask with 0."""

    def __init__(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        extra = {k: [f.pop(k) for f in features] for k in ("labels", "word_mask") if k in features[0]}
        teacher = [f.pop(TEACHER_COLUMN) for f in features] if TEACHER_COLUMN in features[0] else None
        batch = self.tokenizer.pad(features, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of)
        width = batch["input_ids"].shape[1]
        left = self.tokenizer.padding_side == "left"
        for key, rows in extra.items():
            fill = IGNORE if key == "labels" else 0
            padded = [
                ([fill] * (width - len(r)) + list(r)) if left else (list(r) + [fill] * (width - len(r))) for r in rows
            ]
            batch[key] = torch.tensor(np.array(padded, dtype=np.int64))
        if teacher is not None:  # [T, K] per row: padded with zero rows, which no label scores
            k = len(teacher[0][0])
            scores = np.zeros((len(teacher), width, k), dtype=np.float32)
            for i, rows in enumerate(teacher):
                start = width - len(rows) if left else 0
                scores[i, start : start + len(rows)] = rows
            batch[TEACHER_COLUMN] = torch.from_numpy(scores)
        return batch


def _confident_mistakes(
    examples: TokenExamples, tags: list[list[str]], scores: list[list[float]], k: int = MISTAKES_SHOWN
) -> list[dict[str, Any]]:
    """Sentences with the surest mistakes: a predicted entity that is not in the gold spans, or a
    gold entity that was missed, scored by the model's confidence in what it predicted there."""
    found = []
    for i, (gold, pred) in enumerate(zip(examples.tags or [], tags)):
        truth, guessed = set(entities(gold)), set(entities(pred))
        wrong = truth ^ guessed  # false positives and misses (a wrong type counts as both)
        if not wrong:
            continue
        confidence = max(float(np.mean(scores[i][s:e])) for _, s, e in wrong)
        words = examples.words[i]
        found.append(
            {
                "location": examples.locations[i],
                "text": " ".join(words),
                "expected": _spans_text(words, sorted(truth, key=lambda x: x[1])),
                "predicted": _spans_text(words, sorted(guessed, key=lambda x: x[1])),
                "score": round(confidence, 4),
            }
        )
    return sorted(found, key=lambda m: -m["score"])[:k]


def _spans_text(words: list[str], spans: list[tuple[str, int, int]]) -> str:
    return "; ".join(f"{t}: {' '.join(words[s:e])}" for t, s, e in spans) or "(none)"
