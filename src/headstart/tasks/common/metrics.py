"""Classification metrics: accuracy, precision/recall/F1 (macro, micro, positive class), per class.

>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], ["neg", "pos"])
>>> m["accuracy"], round(m["f1"], 3), m["per_class"]["pos"]["support"]
(0.75, 0.667, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

MISTAKES_SHOWN = 10  # most confident mistakes kept in metrics.json and the report


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], names: Sequence[str], positive: int = 1
) -> dict[str, Any]:
    """All scores for single-label classification; ``f1``/``precision``/``recall`` are the
    positive class's for binary tasks."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    ids = list(range(len(names)))
    out: dict[str, Any] = {"accuracy": float((yt == yp).mean()) if len(yt) else 0.0, "n": int(len(yt))}
    for avg in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(yt, yp, labels=ids, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=ids, average=None, zero_division=0)
    if len(names) == 2:
        out.update(
            {
                "precision": float(p[positive]),
                "recall": float(r[positive]),
                "f1": float(f[positive]),
                "positive_label": names[positive],
            }
        )
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(names)
    }
    out["confusion_matrix"] = confusion_matrix(yt, yp, labels=ids).tolist()
    return out


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the numbers (what HF Trainer logs and compares)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"}


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Multi-label scores from 0/1 matrices [n, labels]: micro/macro P/R/F1, subset accuracy
    (all labels of an example right), per label.

    >>> m = multilabel_metrics(np.array([[1, 0], [1, 1]]), np.array([[1, 0], [1, 0]]), ["a", "b"])
    >>> m["subset_accuracy"], round(m["f1_micro"], 3), m["per_class"]["b"]["recall"]
    (0.5, 0.8, 0.0)
    """
    yt, yp = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    n = len(yt)
    out: dict[str, Any] = {"subset_accuracy": float((yt == yp).all(1).mean()) if n else 0.0, "n": int(n)}
    for avg in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(yt, yp, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    out["hamming_loss"] = float((yt != yp).mean()) if n else 0.0
    p, r, f, s = precision_recall_fscore_support(yt, yp, average=None, zero_division=0)
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(names)
    }
    return out


def best_threshold(probs: np.ndarray, y_true: np.ndarray) -> tuple[float, float]:
    """The decision threshold (0.05 .. 0.95) with the best micro F1 on [n, labels] scores, and
    that F1; ties go to the threshold nearest 0.5.

    >>> best_threshold(np.array([[0.3, 0.1], [0.35, 0.9]]), np.array([[1, 0], [1, 1]]))
    (0.3, 1.0)
    """
    best = (-1.0, 0.0, 0.5)
    for t in np.round(np.arange(0.05, 0.951, 0.05), 2):
        pred = (probs >= t).astype(int)
        _, _, f, _ = precision_recall_fscore_support(y_true, pred, average="micro", zero_division=0)
        key = (float(f), -abs(t - 0.5))
        if key > best[:2]:
            best = (float(f), -abs(t - 0.5), float(t))
    return best[2], best[0]


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, Any]:
    """MSE, RMSE, MAE, Pearson and Spearman correlation (0 where a side is constant).

    >>> m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    >>> round(m["mse"], 4), m["spearman"]
    (0.3333, 1.0)
    """
    from scipy.stats import pearsonr, spearmanr

    yt, yp = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = yp - yt
    out: dict[str, Any] = {"n": int(len(yt))}
    out["mse"] = float((err**2).mean()) if len(yt) else 0.0
    out["rmse"] = float(np.sqrt(out["mse"]))
    out["mae"] = float(np.abs(err).mean()) if len(yt) else 0.0
    varied = len(yt) > 1 and yt.std() > 0 and yp.std() > 0
    out["pearson"] = float(pearsonr(yt, yp)[0]) if varied else 0.0
    out["spearman"] = float(spearmanr(yt, yp)[0]) if varied else 0.0
    return out
