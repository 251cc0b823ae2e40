"""Prediction of a saved QA directory: an answer span of each context, in its characters.

Example::

    predictor = Predictor.load("qa-model")
    predictor.predict({"question": "Who won?", "context": "Denver beat Carolina 24-10."})
    # -> [{'answer': 'Denver', 'start': 0, 'end': 6, 'score': 0.93}]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from headstart.errors import DataError
from headstart.tasks.common.batching import batches, sorted_by_length
from headstart.tasks.question_answering.encoding import Windows, encode_questions
from headstart.tasks.question_answering.examples import qa_from_rows
from headstart.tasks.question_answering.postprocess import BestSpans, best_spans


def predict(
    run: Any, inputs: Any, *, batch_size: int = 32, all_scores: bool = False, **options: Any
) -> list[dict[str, Any]]:
    """``{"answer", "start", "end", "score"}`` per ``{"question", "context"}`` input (one dict or a list)."""
    rows = [inputs] if isinstance(inputs, dict) else list(inputs)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(
                'inputs as {"question": ..., "context": ...}',
                found=f"a {type(row).__name__}",
                fix="pass one such dict or a list of them",
                file=f"input {i + 1}",
            )
    examples = qa_from_rows(rows, source="input", need_answers=False) if rows else None
    if examples is None:
        return []
    for i, question in enumerate(examples.questions):
        if not question.strip():
            raise DataError("a question", found="an empty one", fix="ask something", file=examples.locations[i])
    best = spans(run, examples.questions, examples.contexts, batch_size=batch_size)
    return best.answers(examples.contexts, threshold(run.info.settings))


def spans(run: Any, questions: Sequence[str], contexts: Sequence[str], *, batch_size: int = 32) -> BestSpans:
    """The best span of each question (and its no-answer score gap) over all windows of its context."""
    settings = run.info.settings
    windows = encode_questions(run.tokenizer, questions, contexts, run.info.max_length, int(settings.doc_stride))
    start_logits, end_logits = window_logits(run, windows, batch_size)
    return best_spans(
        start_logits, end_logits, windows.offsets, windows.owner, len(questions), int(settings.max_answer_length)
    )


def window_logits(run: Any, windows: Windows, batch_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end logits of each window, unpadded, in window order."""
    n = len(windows.owner)
    starts: list[np.ndarray] = [np.zeros(0)] * n
    ends: list[np.ndarray] = [np.zeros(0)] * n
    accepted = set(inspect.signature(run.model.forward).parameters)
    order = sorted_by_length(windows.lengths)
    with torch.inference_mode():
        for idx in batches(order, windows.lengths, batch_size, run.max_batch_tokens):
            features = [{k: v[i] for k, v in windows.features.items() if k in accepted} for i in idx]
            batch = run.tokenizer.pad(features, return_tensors="pt", padding_side="right")
            out = run.forward({k: v.to(run.device) for k, v in batch.items() if k in accepted})
            start = out.start_logits.float().cpu().numpy()  # [B, T]
            end = out.end_logits.float().cpu().numpy()
            for row, i in enumerate(idx):  # padded on the right (encode_questions)
                starts[i], ends[i] = start[row, : windows.lengths[i]], end[row, : windows.lengths[i]]
    return starts, ends


def threshold(settings: Any) -> float | None:
    """The saved no-answer threshold; None (always a span) for a model of answerable questions only."""
    if not settings.version_2_with_negative:
        return None
    return float(settings.null_score_diff_threshold or 0.0)
