"""The task section's keys of regression (class weights and a positive label are refused there)."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.tasks.common import options


@dataclass
class Config:
    long_documents: str = options.long_documents()
    window_aggregation: str = options.window_aggregation()
    stride: int = options.stride()


CHECKS = (options.check_stride,)
