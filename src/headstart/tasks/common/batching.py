"""Prediction batches: inputs sorted longest first, cut by a batch size and a budget of padded tokens.

>>> [list(b) for b in batches([2, 0, 1], [3, 5, 9], batch_size=2, max_tokens=None)]
[[2, 0], [1]]
>>> [list(b) for b in batches([2, 0, 1], [3, 5, 9], batch_size=8, max_tokens=10)]
[[2], [0, 1]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def sorted_by_length(lengths: Sequence[int]) -> np.ndarray:
    """Input indices, longest first (stable), so that a batch pads little."""
    return np.argsort([-n for n in lengths], kind="stable")


def batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int | None) -> Iterable[Any]:
    """Consecutive slices of ``order`` (longest first) of at most ``batch_size`` inputs and, when
    ``max_tokens`` is set, at most that many padded tokens (one input always fits)."""
    start = 0
    while start < len(order):
        size = batch_size
        if max_tokens is not None:
            size = max(1, min(batch_size, max_tokens // max(1, lengths[order[start]])))
        yield order[start : start + size]
        start += size
