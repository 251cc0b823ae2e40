"""Distillation for QA: the teacher's start and end distributions, carried over by characters.

A student window covers some characters of its context. The teacher reads the same question with
those characters, widened to whole words (its own tokenizer, its own windows should they need
several), and its start and end probabilities move to the student's tokens through the context's
characters: a teacher token's start probability goes to the student token holding its first
character, its end probability to the one holding its last, and its no-answer probability
([CLS], position 0) to the student's position 0. Teacher and student may so tokenize differently (mpnet -> minilm).

The targets are log-probabilities per student token, ``NO_MASS`` where the teacher puts none (the
question, special tokens, padding); the loss softens both sides at the temperature, as for the
other tasks, for the start and the end alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorWithPadding

from headstart.modeling.losses import distillation_loss
from headstart.tasks.base import TEACHER_COLUMN
from headstart.tasks.question_answering.encoding import NO_ANSWER, OUTSIDE, encode_questions
from headstart.tasks.question_answering.examples import Answer, QAExamples
from headstart.tasks.question_answering.predict import window_logits

NO_MASS = -1e4  # the log-probability of a position the teacher gives nothing (finite: KL stays defined)


def teacher_targets(
    teacher: Any, examples: QAExamples, owner: Sequence[tuple[int, list[tuple[int, int]]]], batch_size: int = 64
) -> list[list[list[float]]]:
    """Per student window (``owner``: its example and its tokens' character spans), the teacher's
    start and end log-probabilities over the window's tokens, ``[2][tokens]``."""
    questions, pieces, firsts = [], [], []
    for example, offsets in owner:
        inside = [span for span in offsets if span != OUTSIDE]
        context = examples.contexts[example]
        first, last = _whole_words(context, inside[0][0], inside[-1][1]) if inside else (0, 0)
        questions.append(examples.questions[example])
        pieces.append(context[first:last])
        firsts.append(first)
    settings = teacher.info.settings
    read = encode_questions(teacher.tokenizer, questions, pieces, teacher.info.max_length, int(settings.doc_stride))
    starts, ends = window_logits(teacher, read, batch_size)
    by_window: list[list[int]] = [[] for _ in owner]
    for j, window in enumerate(read.owner):
        by_window[window].append(j)
    rows = []
    for w, (_, offsets) in enumerate(owner):
        start_mass, end_mass = np.zeros(len(offsets)), np.zeros(len(offsets))
        for j in by_window[w]:
            moved = _carried(read.offsets[j], firsts[w], offsets, _softmax(starts[j]), _softmax(ends[j]))
            start_mass += moved[0] / len(by_window[w])
            end_mass += moved[1] / len(by_window[w])
        rows.append([_log(start_mass), _log(end_mass)])
    return rows


def _whole_words(context: str, first: int, last: int) -> tuple[int, int]:
    """``[first, last)`` widened to whole words: a window may begin or end inside a word, which
    the teacher's tokenizer would read as a word of its own."""
    while first > 0 and not context[first - 1].isspace():
        first -= 1
    while last < len(context) and not context[last].isspace():
        last += 1
    return first, last


def _carried(
    teacher_spans: Sequence[tuple[int, int]],
    shift: int,
    student_spans: Sequence[tuple[int, int]],
    start_probs: np.ndarray,
    end_probs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's start and end probabilities of one of its windows on the student's tokens;
    the teacher's spans are in the piece of context it read, which begins at character ``shift``."""
    spans = np.asarray(student_spans, dtype=np.int64).reshape(-1, 2)
    tokens = np.flatnonzero(spans[:, 0] >= 0)
    start_out, end_out = np.zeros(len(spans)), np.zeros(len(spans))
    start_out[NO_ANSWER], end_out[NO_ANSWER] = start_probs[NO_ANSWER], end_probs[NO_ANSWER]
    theirs = np.asarray(teacher_spans, dtype=np.int64).reshape(-1, 2)
    context = np.flatnonzero(theirs[:, 0] >= 0)
    if not len(tokens) or not len(context):
        return start_out, end_out
    first_chars = theirs[context, 0] + shift
    last_chars = theirs[context, 1] - 1 + shift
    low, high = spans[tokens[0], 0], spans[tokens[-1], 1]  # the window's characters
    # the student token holding the character (or the next one, past a space), and for ends the
    # last student token starting at or before it; a start or end outside the window is dropped
    starts_in = (first_chars >= low) & (first_chars < high)
    ends_in = (last_chars >= low) & (last_chars < high)
    at_start = tokens[np.minimum(np.searchsorted(spans[tokens, 1], first_chars, side="right"), len(tokens) - 1)]
    at_end = tokens[np.maximum(np.searchsorted(spans[tokens, 0], last_chars, side="right") - 1, 0)]
    np.add.at(start_out, at_start[starts_in], start_probs[context][starts_in])
    np.add.at(end_out, at_end[ends_in], end_probs[context][ends_in])
    return start_out, end_out


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def _log(mass: np.ndarray) -> list[float]:
    with np.errstate(divide="ignore"):
        return np.where(mass > 0, np.log(np.maximum(mass, 1e-30)), NO_MASS).tolist()


def loss(temperature: float, alpha: float) -> Callable[..., Any]:
    """Hinton's loss on the start and on the end positions (each a softmax over the window), averaged."""

    def compute(outputs: Any, teacher: torch.Tensor, gold: dict[str, torch.Tensor]) -> torch.Tensor:
        start = distillation_loss(outputs["start_logits"], teacher[:, 0], gold["start_positions"], temperature, alpha)
        end = distillation_loss(outputs["end_logits"], teacher[:, 1], gold["end_positions"], temperature, alpha)
        return (start + end) / 2

    return compute


class QACollator:
    """Pads the windows as ``DataCollatorWithPadding`` does, and the teacher's [2, tokens] targets
    (when the rows carry them) with ``NO_MASS`` to the same length."""

    def __init__(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> None:
        self.pad = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        teacher = [f[TEACHER_COLUMN] for f in features] if features and TEACHER_COLUMN in features[0] else None
        batch = self.pad([{k: v for k, v in f.items() if k != TEACHER_COLUMN} for f in features])
        if teacher is not None:
            width = batch["input_ids"].shape[1]
            scores = np.full((len(teacher), 2, width), NO_MASS, dtype=np.float32)
            for i, row in enumerate(teacher):
                values = np.asarray(row, dtype=np.float32)
                scores[i, :, : values.shape[1]] = values
            batch[TEACHER_COLUMN] = torch.from_numpy(scores)
        return batch


def with_teacher_answers(teacher: Any, train: QAExamples, extra: QAExamples) -> QAExamples:
    """``train`` with the unlabeled questions added, answered by the teacher (no answer, for a SQuAD
    2.0 teacher that finds none)."""
    found = teacher.predict([{"question": q, "context": c} for q, c in zip(extra.questions, extra.contexts)])
    answers = [[Answer(a["answer"], int(a["start"]))] if a.get("answer") else [] for a in found]
    return dataclasses.replace(
        train,
        questions=train.questions + extra.questions,
        contexts=train.contexts + extra.contexts,
        answers=list(train.answers or []) + answers,
        ids=train.ids + [f"unlabeled-{i}" for i in extra.ids],
        locations=train.locations + extra.locations,
    )
