"""The task section's keys of multi-label classification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headstart.config import setting
from headstart.tasks.common import options


@dataclass
class Config:
    class_weights: str | dict | None = options.class_weights()
    long_documents: str = options.long_documents()
    window_aggregation: str = options.window_aggregation()
    stride: int = options.stride()
    label_delimiter: str = setting(
        ",", "Multi-label: the separator between labels in a text cell ('sports,politics'); lists need none."
    )
    threshold: float | None = setting(
        None, "Multi-label: the score above which a label is predicted; tuned on validation (micro F1) when null."
    )


def check_threshold(task: Any) -> list[str]:
    if task.threshold is not None and not 0 < task.threshold < 1:
        return [f"task.threshold must be between 0 and 1, found {task.threshold}"]
    return []


CHECKS = (options.check_stride, check_threshold)
