"""The task section's keys of extractive question answering (HF ``run_qa``'s names where it has them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headstart.config import setting


@dataclass
class Config:
    doc_stride: int = setting(
        128,
        "QA: tokens shared by consecutive windows of a context longer than max_length (HF run_qa's doc_stride).",
        flags=("--doc-stride",),
    )
    max_answer_length: int = setting(30, "QA: the longest answer predicted, in tokens.")
    version_2_with_negative: bool | None = setting(
        None,
        "QA: whether a question may have no answer in its context (SQuAD 2.0). Null: yes when some training "
        "question has none.",
    )
    null_score_diff_threshold: float | None = setting(
        None,
        "QA with unanswerable questions: answer nothing when the no-answer score beats the best span's by more "
        "than this (log-probabilities). Null: the value with the best validation F1.",
    )


def check_qa(task: Any) -> list[str]:
    out = []
    if task.doc_stride < 1:
        out.append(f"task.doc_stride must be >= 1, found {task.doc_stride}")
    if task.max_answer_length < 1:
        out.append(f"task.max_answer_length must be >= 1, found {task.max_answer_length}")
    return out


CHECKS = (check_qa,)
