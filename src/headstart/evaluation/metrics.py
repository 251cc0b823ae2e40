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
