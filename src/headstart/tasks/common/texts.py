"""What the tasks that read texts or text pairs share: reading, encoding, checks, and the logits of
a saved model over texts (windows of long documents put back together per document).

Text classification, multi-label classification, regression and text-to-text compose these
functions; what differs between them (what a label is, the head, the scores) stays in their packages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import torch

from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.columns import ColumnSpec
from headstart.data.encoding import encode_texts
from headstart.data.examples import DataBundle, Examples, load_examples, load_splits
from headstart.data.labels import LabelKind
from headstart.data.options import ReadOptions
from headstart.errors import DataError
from headstart.tasks.common.batching import batches, sorted_by_length

CHUNK = 2048  # inputs tokenized at a time


@dataclass
class TextSettings:
    """The headstart.json fields of every text task (how its inputs were read and cut)."""

    is_pair: bool = False
    problem_type: str = "single_label_classification"
    long_documents: str = "truncate"  # saved before long_documents existed: those models truncated
    window_aggregation: str = "mean"
    stride: int = 32


def text_settings(bundle: DataBundle, cfg: RunConfig, problem_type: str) -> dict[str, Any]:
    """The TextSettings values of a training run, as keywords."""
    return {
        "is_pair": bundle.train.is_pair,
        "problem_type": problem_type,
        "long_documents": cfg.task.long_documents,
        "window_aggregation": cfg.task.window_aggregation,
        "stride": cfg.task.stride,
    }


def text_columns(bundle: DataBundle) -> dict[str, Any]:
    columns = bundle.train.columns
    return {
        "text": columns.text if columns else None,
        "text_pair": columns.text_pair if columns else None,
        "label": columns.label if columns else None,
    }


def load_text_data(cfg: RunConfig, train: Any, validation: Any, test: Any, kind: LabelKind) -> DataBundle:
    return load_splits(cfg.data, train=train, validation=validation, test=test, seed=cfg.train.seed, label_kind=kind)


def read_text_examples(source: Any, info: Any, options: ReadOptions, need_label: bool, kind: LabelKind) -> Examples:
    """Examples from a file or in-memory data, read with the columns used in training unless named."""
    saved = info.columns
    preferred = None
    if not options.names_columns and saved.get("text"):
        preferred = ColumnSpec(saved["text"], saved.get("text_pair"), saved.get("label"))
    examples = load_examples(source, options, need_label=need_label, columns=preferred, label_kind=kind)
    if examples.is_pair != info.settings.is_pair:
        kind_name = "text pairs" if info.settings.is_pair else "single texts"
        raise DataError(
            f"{kind_name}, as the model was trained on",
            found=f"columns {examples.columns}",
            fix="name the text columns with --text-column/--text-pair-column",
            file=examples.source,
        )
    return examples


def encode_text_examples(
    examples: Examples, tokenizer: Any, cfg: RunConfig, targets: list[Any], distribution: dict[str, int] | None
) -> tuple[datasets.Dataset, dict[str, Any]]:
    """Model inputs with a ``labels`` column (each window: its document's target), and the summary."""
    enc = encode_texts(
        tokenizer,
        examples.texts,
        examples.pairs,
        cfg.model.max_length,
        long_documents=cfg.task.long_documents,
        stride=cfg.task.stride,
    )
    columns: dict[str, list[Any]] = dict(enc.features)
    columns["labels"] = [targets[i] for i in enc.owner] if targets else []
    how = "truncate" if examples.is_pair else cfg.task.long_documents
    if how == "windows":
        long = {"windowed": enc.n_truncated, "windows": enc.n_windows}
    else:
        long = {"truncated": enc.n_truncated, "head_tail": how == "head-tail"}
    summary = {
        "examples": len(examples),
        "source": examples.source,
        "label_distribution": distribution,
        **long,
        "tokens": int(sum(enc.lengths)),
        "longest_before_truncation": enc.max_untruncated,
        "lengths": enc.lengths,
        "full_lengths": enc.full_lengths,
        "owner": list(enc.owner),  # the example each row (window) comes from
    }
    return datasets.Dataset.from_dict(columns), summary


def text_of(examples: Examples, i: int) -> str:
    """The i-th input as one string (a pair joined by " || "), for reports and checks."""
    return examples.texts[i] if examples.pairs is None else f"{examples.texts[i]} || {examples.pairs[i]}"


def text_check_split(examples: Examples, summary: dict[str, Any], values: list[Any] | None) -> CheckSplit:
    return CheckSplit(
        [text_of(examples, i) for i in range(len(examples))],
        values,
        examples.locations,
        label_counts=summary.get("label_distribution"),  # in label2id order, zeros included
        lengths=summary.get("full_lengths"),
    )


def eval_logits(prediction: Any) -> np.ndarray:
    """The logits of a Trainer EvalPrediction (the first output where the model returns several)."""
    out = prediction.predictions
    return np.asarray(out[0] if isinstance(out, tuple) else out)


# -- prediction --------------------------------------------------------------------------------
Combine = Callable[[np.ndarray, Sequence[int], int, str], np.ndarray]


def text_logits(run: Any, inputs: Any, batch_size: int, combine: Combine) -> np.ndarray:
    """Raw model outputs [n_inputs, n_labels] in input order; ``combine`` turns the windows of a
    long document into the document's logits (``tasks/common/windows.py``)."""
    texts, pairs = split_inputs(inputs, run.info.settings.is_pair)
    chunks = [
        _chunk_logits(run, texts[i : i + CHUNK], None if pairs is None else pairs[i : i + CHUNK], batch_size, combine)
        for i in range(0, len(texts), CHUNK)
    ]
    if not chunks:
        return np.zeros((0, len(run.info.labels)), dtype=np.float32)
    return np.concatenate(chunks)


@torch.inference_mode()
def _chunk_logits(run: Any, texts: list[str], pairs: list[str] | None, batch_size: int, combine: Combine) -> np.ndarray:
    settings = run.info.settings
    enc = encode_texts(
        run.tokenizer, texts, pairs, run.info.max_length, long_documents=settings.long_documents, stride=settings.stride
    )
    order = sorted_by_length(enc.lengths)
    result = np.zeros((enc.n_windows, len(run.info.labels)), dtype=np.float32)
    for idx in batches(order, enc.lengths, batch_size, run.max_batch_tokens):
        features = [{k: v[i] for k, v in enc.features.items()} for i in idx]
        batch = run.tokenizer.pad(features, return_tensors="pt").to(run.device)
        result[idx] = run.forward(batch).logits.float().cpu().numpy()
    return combine(result, enc.owner, len(texts), settings.window_aggregation)


def split_inputs(inputs: Any, is_pair: bool) -> tuple[list[str], list[str] | None]:
    """Texts and (for a pair model) second texts from strings, (text, pair) tuples or dicts."""
    if isinstance(inputs, (str, dict)) or (
        isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs)
    ):
        inputs = [inputs]
    texts, pairs = [], []
    for i, item in enumerate(_iterate(inputs)):
        if isinstance(item, dict):
            item = (item.get("text"), item.get("text_pair")) if item.get("text_pair") is not None else item.get("text")
        if isinstance(item, str):
            texts.append(item)
            pairs.append(None)
        elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            texts.append(item[0])
            pairs.append(item[1])
        else:
            raise DataError(
                'a text, a (text, text_pair) tuple or a {"text", "text_pair"} dict',
                found=f"{type(item).__name__} {str(item)[:60]!r}",
                fix="fix the input",
                file=f"input {i + 1}",
            )
    given_pairs = [p is not None for p in pairs]
    if is_pair and not all(given_pairs):
        raise DataError(
            "(text, text_pair) inputs: this model was trained on sentence pairs",
            found="single texts",
            fix="pass pairs, e.g. [('first', 'second')]",
        )
    if not is_pair and any(given_pairs):
        raise DataError(
            "single texts: this model was trained on single texts", found="text pairs", fix="pass plain strings"
        )
    return texts, (pairs if is_pair else None)  # type: ignore[return-value]


def _iterate(inputs: Any) -> Iterable[Any]:
    if hasattr(inputs, "inputs") and callable(inputs.inputs):  # Examples
        return inputs.inputs()
    return inputs


def probe_texts(tokenizer: Any, info: Any, texts: list[str]) -> Any:
    """``texts`` tokenized as the predictor would (each paired with another for a pair model), padded."""
    pairs = list(reversed(texts)) if info.settings.is_pair else None
    return tokenizer(texts, pairs, padding=True, truncation=True, max_length=info.max_length, return_tensors="pt")


def card_input(info: Any) -> str:
    return f"{'text pairs' if info.settings.is_pair else 'single texts'}, up to {info.max_length} tokens."


def example_input(info: Any) -> str:
    """A Python literal of one input, for the model card's snippets."""
    return '("first sentence", "second sentence")' if info.settings.is_pair else '"I loved this film"'


def pipeline_usage(info: Any, pipeline_kwargs: str = "") -> list[str]:
    """The model card's snippets for a stock sequence-classification head: Predictor and pipeline()."""
    example = example_input(info)
    pipe_input = (
        '{"text": "first sentence", "text_pair": "second sentence"}' if info.settings.is_pair else '"I loved this film"'
    )
    custom = str(info.architecture or "").startswith("Headstart")
    lines = [
        "```python",
        "from headstart import Predictor",
        'predictor = Predictor.load("THIS_DIR")',
        f"predictor.predict([{example}])",
        "",
        *(["import headstart  # registers the head class with transformers' Auto classes"] if custom else []),
        "from transformers import pipeline",
        f'pipe = pipeline("{info.pipeline_task}", model="THIS_DIR"{pipeline_kwargs})',
        f"pipe({pipe_input}, truncation=True)",
        "```",
    ]
    if custom:
        lines += [
            "",
            f"The head ({info.architecture}: pooling, dropout, hidden layer as configured) is headstart's, not a",
            "stock transformers class: load it with `headstart.Predictor`, or `import headstart` before",
            "`AutoModelForSequenceClassification.from_pretrained` / `pipeline`.",
        ]
    return lines
