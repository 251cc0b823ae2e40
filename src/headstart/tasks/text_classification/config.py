"""The task section's keys of text classification (text-to-text reads the same)."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.tasks.common import options


@dataclass
class Config:
    positive_label: str | None = options.positive_label()
    class_weights: str | dict | None = options.class_weights()
    long_documents: str = options.long_documents()
    window_aggregation: str = options.window_aggregation()
    stride: int = options.stride()


CHECKS = (options.check_stride,)
