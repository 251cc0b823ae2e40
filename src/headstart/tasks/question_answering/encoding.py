"""Question and context as one input, the context in overlapping windows, offsets kept.

As HF's ``run_qa`` does: the tokenizer cuts the context (never the question) into windows of
``max_length`` tokens that share ``doc_stride`` tokens, and keeps each token's character span so
a predicted span maps back to the context's characters. A training window holds the answer's
first and last token as ``start_positions``/``end_positions``, or position 0 (the [CLS] token;
the first token for models without one) where the answer is not wholly inside it or the question
has none. The question comes first, so that a decoder's context tokens attend to it; batches
pad on the right (the task saves the tokenizer that way, for ``pipeline`` to read it alike).

Example::

    w = encode_questions(tokenizer, ["Who won?"], ["Denver beat Carolina."], 384, 128)
    w.owner, w.offsets[0][w.context_start(0)]   # -> [0], (0, 6)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from headstart.errors import ConfigError

NO_ANSWER = 0  # the position a window without the answer points at ([CLS], or the first token)
OUTSIDE = (-1, -1)  # the character span of a token that is not in the context


@dataclass
class Windows:
    features: dict[str, list[Any]]  # input_ids, attention_mask, [token_type_ids]; [start/end_positions]
    owner: list[int]  # the example of each window
    offsets: list[list[tuple[int, int]]]  # each token's character span in its context; OUTSIDE elsewhere
    full_lengths: list[int]  # tokens per example (question and whole context) before windowing
    n_windowed: int = 0  # examples whose context needed more than one window
    n_questions_cut: int = 0  # questions longer than a quarter of max_length, cut to it
    n_answers_cut: int = 0  # training answers no window holds whole (their windows say "no answer")
    lengths: list[int] = field(default_factory=list)  # tokens per window

    def context_start(self, window: int) -> int:
        """The first context token of a window."""
        return next(i for i, span in enumerate(self.offsets[window]) if span != OUTSIDE)


def encode_questions(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_length: int,
    doc_stride: int,
    answers: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> Windows:
    """Windows of (question, context) inputs; ``answers`` (character spans, first one trained on) adds labels."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            "a fast (Rust) tokenizer, whose character offsets map answers to tokens",
            found=type(tokenizer).__name__,
            fix="use a backbone with a tokenizer.json, or convert its tokenizer with transformers",
        )
    limit = max_length // 4
    questions, n_cut = _cut_questions(tokenizer, [q.lstrip() for q in questions], limit)
    contexts = list(contexts)
    room = max_length - _specials(tokenizer) - limit  # the context's tokens in a window with the longest question
    if doc_stride >= room:
        raise ConfigError(
            f"task.doc_stride below the context room of a window ({room} tokens at max_length {max_length})",
            found=str(doc_stride),
            fix=f"lower task.doc_stride (e.g. to {max(room // 2, 1)}) or raise model.max_length",
        )
    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    owner = list(enc["overflow_to_sample_mapping"])
    offsets = [
        [span if seq == 1 else OUTSIDE for seq, span in zip(enc.sequence_ids(w), enc["offset_mapping"][w])]
        for w in range(len(owner))
    ]
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    features = {k: [list(v) for v in enc[k]] for k in keys}
    windows = np.bincount(owner, minlength=len(questions)) if owner else np.zeros(len(questions), dtype=int)
    full = tokenizer(questions, contexts, truncation=False, padding=False, verbose=False)["input_ids"]
    out = Windows(
        features,
        owner,
        offsets,
        [len(ids) for ids in full],
        n_windowed=int((windows > 1).sum()),
        n_questions_cut=n_cut,
        lengths=[len(ids) for ids in features["input_ids"]],
    )
    if answers is not None:
        _label(out, answers)
    return out


def _label(windows: Windows, answers: Sequence[Sequence[tuple[int, int]]]) -> None:
    starts, ends = [], []
    held = np.zeros(len(answers), dtype=bool)
    for w, example in enumerate(windows.owner):
        spans = answers[example]
        start = end = NO_ANSWER
        if spans:
            first = token_span(windows.offsets[w], *spans[0])
            if first is not None:
                start, end = first
                held[example] = True
        starts.append(start)
        ends.append(end)
    windows.features["start_positions"] = starts
    windows.features["end_positions"] = ends
    windows.n_answers_cut = int(sum(1 for i, spans in enumerate(answers) if spans and not held[i]))


def token_span(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The first and last token of characters ``[start, end)`` in a window, or None when it does
    not hold them whole."""
    spans = np.asarray(offsets, dtype=np.int64)  # [tokens, 2]
    inside = spans[:, 0] >= 0
    if not inside.any():
        return None
    tokens = np.flatnonzero(inside)
    first_char, last_char = spans[tokens[0], 0], spans[tokens[-1], 1]
    if start < first_char or end > last_char:
        return None
    # the token holding the answer's first character (or the first one after it: a leading space)
    s = tokens[np.searchsorted(spans[tokens, 1], start, side="right")]
    # the token holding its last character
    e = tokens[np.searchsorted(spans[tokens, 0], end, side="left") - 1]
    return (int(s), int(e)) if s <= e else None


def _cut_questions(tokenizer: Any, questions: list[str], limit: int) -> tuple[list[str], int]:
    """Questions of more than ``limit`` tokens cut to that many: the context must keep room."""
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True, padding=False)
    out, cut = [], 0
    for question, spans in zip(questions, enc["offset_mapping"]):
        if len(spans) > limit:
            question = question[: spans[limit - 1][1]]
            cut += 1
        out.append(question)
    return out, cut


def _specials(tokenizer: Any) -> int:
    return int(tokenizer.num_special_tokens_to_add(pair=True))
