"""Task-section keys that several tasks declare (tasks/<task>/config.py), and their checks.

Each is a function returning a fresh dataclass field, so that every task declaring it declares
the same default, help and allowed values (the registry refuses two defaults for one key).
"""

from __future__ import annotations

from typing import Any

from headstart.config import setting


def class_weights() -> Any:
    return setting(
        None,
        "Weights of the classes in the loss: 'auto' (inverse frequency in train, mean 1), or one per "
        "label as 'pos=2,neg=1' (a mapping in YAML). Multi-label: the weight of each label's positives.",
        flags=("--class-weights",),
    )


def positive_label() -> Any:
    return setting(
        None, "For binary tasks, the label whose precision/recall/F1 are reported; the second label if null."
    )


def stride() -> Any:
    return setting(
        32, "Sub-tokens shared by consecutive windows of an input longer than max_length (NER; long_documents)."
    )


def long_documents() -> Any:
    return setting(
        "windows",
        "Text classification of texts longer than max_length: 'windows' reads all of it in overlapping windows "
        "(each trained with the document's label; scores aggregated per document), 'head-tail' keeps the first "
        "quarter and the end, 'truncate' the start. Text pairs are always truncated.",
        flags=("--long-documents",),
        choices=("truncate", "head-tail", "windows"),
    )


def window_aggregation() -> Any:
    return setting(
        "mean", "long_documents=windows: how window scores make the document's: mean or max.", choices=("mean", "max")
    )


def check_stride(task: Any) -> list[str]:
    return [f"task.stride must be >= 0, found {task.stride}"] if task.stride < 0 else []
