"""From start/end logits of every window to one answer per question: exact and vectorised.

In each window a span's score is ``log p(start) + log p(end)``, the probabilities a softmax
over the window's context tokens and position 0 (the "no answer" position), as
``transformers.pipeline("question-answering")`` normalises them, so spans of different windows
compare fairly. The best span with ``start <= end < start + max_answer_length`` is found for
every window at once: for each end token, the best start among the ``max_answer_length`` tokens
before it is a running maximum over shifted copies of the start scores (``max_answer_length``
array operations, not a loop over candidate pairs), so the search is exact, not top-k. The
question's answer is its best window's span, mapped back to the context's characters; with
``null_threshold`` set (SQuAD 2.0 models), "no answer" wins when its score (the smallest over
the windows, as in HF's ``utils_qa``) beats the best span's by more than the threshold.

Example::

    best = best_spans(start_logits, end_logits, windows.offsets, windows.owner, n_questions=len(questions))
    best.starts[0], best.ends[0], best.scores[0]   # characters of question 0's answer, its probability
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from headstart.tasks.question_answering.encoding import OUTSIDE

_MASKED = -1e9


@dataclass
class BestSpans:
    """Per question: the best span's characters and probability, and the "no answer" score gap."""

    starts: np.ndarray  # [questions] character offset into the context; -1 where no window had one
    ends: np.ndarray  # [questions] exclusive end
    scores: np.ndarray  # [questions] probability of the span in its window
    null_scores: np.ndarray  # [questions] probability of "no answer" (its smallest over the windows)
    null_gap: np.ndarray  # [questions] log p(no answer) - log p(best span): > threshold means no answer

    def answers(self, contexts: Sequence[str], null_threshold: float | None = None) -> list[dict[str, object]]:
        """``{"answer", "start", "end", "score"}`` per question; an empty answer where there is none."""
        out: list[dict[str, object]] = []
        for i, context in enumerate(contexts):
            s, e = int(self.starts[i]), int(self.ends[i])
            if s < 0 or (null_threshold is not None and self.null_gap[i] > null_threshold):
                score = round(float(self.null_scores[i]), 6)
                out.append({"answer": "", "start": None, "end": None, "score": score})
            else:
                out.append({"answer": context[s:e], "start": s, "end": e, "score": round(float(self.scores[i]), 6)})
        return out


def best_spans(
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    offsets: Sequence[Sequence[tuple[int, int]]],
    owner: Sequence[int],
    n_questions: int,
    max_answer_length: int = 30,
) -> BestSpans:
    """The best answer span of each question over all its windows (logits: one 1-D array per window)."""
    starts, ends, context = _padded(start_logits, end_logits, offsets)  # [windows, tokens] each
    log_start, log_end = _log_softmax(starts, context), _log_softmax(ends, context)
    null = log_start[:, 0] + log_end[:, 0]  # [windows]
    log_start = np.where(context, log_start, _MASKED)
    log_end = np.where(context, log_end, _MASKED)
    # best[w, j]: the best start score for an answer ending at token j; back[w, j]: how far back it is
    best = log_start.copy()
    back = np.zeros(best.shape, dtype=np.int64)
    for d in range(1, max_answer_length):
        shifted = np.full_like(log_start, _MASKED)
        shifted[:, d:] = log_start[:, :-d]
        better = shifted > best
        best = np.where(better, shifted, best)
        back = np.where(better, d, back)
    total = best + log_end  # [windows, tokens]
    end_token = total.argmax(axis=1)
    rows = np.arange(len(total))
    span_score = total[rows, end_token]
    start_token = end_token - back[rows, end_token]
    return _per_question(span_score, start_token, end_token, null, offsets, owner, n_questions)


def _padded(
    start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray], offsets: Sequence[Sequence[tuple[int, int]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max((len(s) for s in start_logits), default=1)
    n = len(start_logits)
    starts = np.full((n, width), _MASKED, dtype=np.float64)
    ends = np.full((n, width), _MASKED, dtype=np.float64)
    context = np.zeros((n, width), dtype=bool)
    for w, (s, e, spans) in enumerate(zip(start_logits, end_logits, offsets)):
        k = min(len(s), len(spans))
        starts[w, :k] = s[:k]
        ends[w, :k] = e[:k]
        context[w, :k] = [span != OUTSIDE for span in spans[:k]]
    return starts, ends, context


def _log_softmax(logits: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Log-probabilities over each window's context tokens and position 0 (the "no answer" one)."""
    keep = context.copy()
    keep[:, 0] = True
    masked = np.where(keep, logits, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(masked - top).sum(axis=1, keepdims=True))


def _per_question(
    span_score: np.ndarray,
    start_token: np.ndarray,
    end_token: np.ndarray,
    null: np.ndarray,
    offsets: Sequence[Sequence[tuple[int, int]]],
    owner: Sequence[int],
    n_questions: int,
) -> BestSpans:
    owners = np.asarray(owner, dtype=np.int64)
    valid = span_score > _MASKED / 2  # a window with at least one context token
    order = np.lexsort((-np.where(valid, span_score, -np.inf), owners))  # by question, best window first
    first = np.ones(len(order), dtype=bool)
    first[1:] = owners[order][1:] != owners[order][:-1]
    best_window = np.full(n_questions, -1, dtype=np.int64)
    best_window[owners[order][first]] = order[first]
    min_null = np.full(n_questions, np.inf)
    np.minimum.at(min_null, owners, null)
    starts = np.full(n_questions, -1, dtype=np.int64)
    ends = np.full(n_questions, -1, dtype=np.int64)
    scores = np.zeros(n_questions)
    gap = np.full(n_questions, np.inf)
    null_scores = np.exp(np.where(np.isfinite(min_null), min_null, 0.0))
    for q, w in enumerate(best_window):
        if w < 0 or not valid[w]:
            continue
        starts[q] = offsets[w][start_token[w]][0]
        ends[q] = offsets[w][end_token[w]][1]
        scores[q] = np.exp(span_score[w])
        gap[q] = min_null[q] - span_score[w]
    return BestSpans(starts, ends, scores, null_scores, gap)
