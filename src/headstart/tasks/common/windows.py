"""Per-document scores from the scores of its windows (``long_documents: windows``).

Windows of one document vote with their scores (each task says what a score is: softmax
probabilities, sigmoids per label, the value itself) by the mean or the max, and the result is
handed back as logits again, so everything downstream (the softmax of ``probabilities``,
thresholds, evaluation) treats a windowed document like any other input.

>>> import numpy as np
>>> logits = np.log(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]))
>>> np.exp(aggregate(logits, [0, 0, 1], 2, "mean", SOFTMAX)).astype(float).round(2).tolist()
[[0.7, 0.3], [0.2, 0.8]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

AGGREGATIONS = ("mean", "max")
_EPS = 1e-7


@dataclass(frozen=True)
class Scoring:
    """How a task's logits become the scores windows vote with, and back."""

    scores: Callable[[np.ndarray], np.ndarray]
    logits: Callable[[np.ndarray], np.ndarray]


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def _log_normalized(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / p.sum(-1, keepdims=True))  # max: renormalised


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


SOFTMAX = Scoring(_softmax, _log_normalized)  # single-label: one distribution over the labels
SIGMOID = Scoring(lambda x: 1.0 / (1.0 + np.exp(-x)), _log_odds)  # multi-label: a probability per label
IDENTITY = Scoring(lambda x: x, lambda x: x)  # regression: the number itself


def aggregate(logits: np.ndarray, owner: Sequence[int], n: int, how: str, scoring: Scoring) -> np.ndarray:
    """[windows, K] logits and each window's document -> [n, K] document logits."""
    owner = np.asarray(owner)
    if len(owner) == n and (owner == np.arange(n)).all():
        return logits  # no document was split
    scores = scoring.scores(logits)
    out = np.zeros((n, logits.shape[-1]), dtype=np.float64)
    if how == "max":
        out[:] = -np.inf
        np.maximum.at(out, owner, scores)
    else:
        np.add.at(out, owner, scores)
        out /= np.bincount(owner, minlength=n)[:, None]
    return scoring.logits(out).astype(np.float32)


def combiner(scoring: Scoring) -> Callable[[np.ndarray, Sequence[int], int, str], np.ndarray]:
    """``aggregate`` with the task's scoring bound, as ``texts.text_logits`` takes it."""
    return lambda logits, owner, n, how: aggregate(logits, owner, n, how, scoring)
