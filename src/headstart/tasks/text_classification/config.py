"""The task section's keys of text classification (text-to-text reads the same)."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import setting
from headstart.tasks.common import options


@dataclass
class Config:
    positive_label: str | None = options.positive_label()
    class_weights: str | dict | None = options.class_weights()
    long_documents: str = options.long_documents()
    window_aggregation: str = options.window_aggregation()
    stride: int = options.stride()
    calibrate: bool = setting(
        True,
        "Text classification: fit a temperature on the validation set so the scores say how often the model is "
        "right, folded into the classification layer (plain pipeline() returns the calibrated scores too); false "
        "keeps the raw scores.",
        flags=("--calibrate",),
    )


CHECKS = (options.check_stride,)
