"""Per-document scores from the scores of its windows (``long_documents: windows``).

Windows of one document vote with their probabilities — softmax for single-label, sigmoid per
label for multi-label, the value itself for regression — by the mean or the max, and the result
is handed back as logits again (log-probabilities / log-odds), so everything downstream (the
softmax of ``Predictor.probabilities``, thresholds, evaluation) treats a windowed document like
any other input.

>>> import numpy as np
>>> logits = np.log(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]))
>>> np.exp(aggregate(logits, [0, 0, 1], 2, "mean", "single_label_classification")).astype(float).round(2).tolist()
[[0.7, 0.3], [0.2, 0.8]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AGGREGATIONS = ("mean", "max")
_EPS = 1e-7


def aggregate(logits: np.ndarray, owner: Sequence[int], n: int, how: str, problem_type: str) -> np.ndarray:
    """[windows, K] logits and each window's document -> [n, K] document logits."""
    owner = np.asarray(owner)
    if len(owner) == n and (owner == np.arange(n)).all():
        return logits  # no document was split
    if problem_type == "regression":
        scores = logits
    elif problem_type == "multi_label_classification":
        scores = 1.0 / (1.0 + np.exp(-logits))
    else:
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        scores = shifted / shifted.sum(-1, keepdims=True)
    out = np.zeros((n, logits.shape[-1]), dtype=np.float64)
    if how == "max":
        out[:] = -np.inf
        np.maximum.at(out, owner, scores)
    else:
        np.add.at(out, owner, scores)
        out /= np.bincount(owner, minlength=n)[:, None]
    if problem_type == "regression":
        return out.astype(np.float32)
    p = np.clip(out, _EPS, 1 - _EPS)
    if problem_type == "multi_label_classification":
        return np.log(p / (1 - p)).astype(np.float32)
    return np.log(p / p.sum(-1, keepdims=True)).astype(np.float32)  # max: renormalised
