"""Calibrated scores: temperature scaling fitted on validation, and how well scores match accuracy.

Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017) divides the
logits by one number T chosen to minimise the validation negative log-likelihood: the predicted
label never changes, only how sure the scores say the model is. Where a long text was cut into
windows, T is fitted through the same window aggregation that prediction applies.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> targets = rng.integers(0, 2, 2000)
>>> z = np.where(targets == 1, 1.0, -1.0) + rng.normal(0, 1, 2000)
>>> calibrated = np.stack([np.zeros(2000), 2 * z], -1)  # the exact log-odds of N(+-1, 1) classes
>>> t = fit_temperature(4 * calibrated, np.arange(2000), 2000, "mean", targets)  # four times too sure
>>> round(t, 1)
3.8
>>> before = calibration_scores(softmax(4 * calibrated), targets)["ece"]
>>> after = calibration_scores(softmax(4 * calibrated / t), targets)["ece"]
>>> round(before, 3), round(after, 3)
(0.113, 0.019)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.metrics import brier_score_loss

from headstart.tasks.common.windows import SOFTMAX, aggregate

BINS = 15  # equal-width confidence bins, as Guo et al. report ECE
BOUNDS = (0.05, 20.0)  # temperatures outside these mean a broken model, not a calibration


def softmax(logits: np.ndarray) -> np.ndarray:
    """Scores [..., K] from logits, as the text-classification pipeline computes them."""
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _log_probs(window_logits: np.ndarray, owner: Sequence[int], n: int, how: str, temperature: float) -> np.ndarray:
    """[n, K] log-probabilities of the documents with every window's logits divided by T."""
    return log_softmax(aggregate(window_logits / temperature, owner, n, how, SOFTMAX), axis=-1)


def fit_temperature(window_logits: np.ndarray, owner: Sequence[int], n: int, how: str, targets: np.ndarray) -> float:
    """The T in ``BOUNDS`` that minimises the negative log-likelihood of ``targets`` (searched on log T)."""
    targets = np.asarray(targets)
    logits = np.asarray(window_logits, dtype=np.float64)

    def nll(log_t: float) -> float:
        log_probs = _log_probs(logits, owner, n, how, math.exp(log_t))
        return float(-log_probs[np.arange(n), targets].mean())

    best = minimize_scalar(nll, bounds=(math.log(BOUNDS[0]), math.log(BOUNDS[1])), method="bounded")
    return float(math.exp(best.x))


def calibration_scores(probs: np.ndarray, targets: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Expected calibration error (top-label confidence against accuracy, equal-width bins),
    Brier score (scikit-learn's ``brier_score_loss``), negative log-likelihood, and the
    reliability diagram's bins."""
    probs, targets = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    confidence, guess = probs.max(-1), probs.argmax(-1)
    correct = (guess == targets).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    diagram, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += inside.mean() * abs(conf - acc)
        diagram.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "confidence": conf,
                "accuracy": acc,
                "count": int(inside.sum()),
            }
        )
    k = probs.shape[-1]
    nll = float(-np.log(np.clip(probs[np.arange(len(targets)), targets], 1e-12, None)).mean())
    brier = float(brier_score_loss(targets, probs if k > 2 else probs[:, 1], labels=list(range(k))))
    return {"ece": float(ece), "brier": brier, "nll": nll, "reliability": diagram}


def calibration_report(
    window_logits: np.ndarray, owner: Sequence[int], targets: np.ndarray, how: str, temperature: float | None
) -> dict[str, Any]:
    """``ece`` and ``brier`` of the model's scores, and under ``calibration`` the details: with a
    ``temperature`` folded into the model, the same scores before it (the logits times T) too."""
    n = len(targets)
    after = calibration_scores(np.exp(_log_probs(window_logits, owner, n, how, 1.0)), targets)
    out: dict[str, Any] = {"ece": after["ece"], "brier": after["brier"], "calibration": {"after": after}}
    if temperature is not None:
        before = calibration_scores(np.exp(_log_probs(window_logits * temperature, owner, n, how, 1.0)), targets)
        out["calibration"] = {"temperature": temperature, "before": before, "after": after}
    return out
