"""Entity-level scores as seqeval computes them (default and strict mode), plus token accuracy.

>>> m = entity_metrics([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
>>> m["precision"], m["recall"], round(m["f1"], 4), m["per_type"]["LOC"]["support"]
(1.0, 0.5, 0.6667, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from headstart.data.tags import entities


def _prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def entity_metrics(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], *, strict: bool = False
) -> dict[str, Any]:
    """Micro (``precision``/``recall``/``f1``) and macro scores over entity types, per type, and
    token accuracy; an entity counts only when its type and both boundaries match."""
    true_ents: set[tuple[int, str, int, int]] = set()
    pred_ents: set[tuple[int, str, int, int]] = set()
    correct_tokens = total_tokens = 0
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        true_ents |= {(i, *e) for e in entities(t, strict=strict)}
        pred_ents |= {(i, *e) for e in entities(p, strict=strict)}
        correct_tokens += sum(a == b for a, b in zip(t, p))
        total_tokens += len(t)
    hits = true_ents & pred_ents
    types = sorted({e[1] for e in true_ents | pred_ents})
    n_true, n_pred, n_hit = (Counter(e[1] for e in s) for s in (true_ents, pred_ents, hits))
    per_type = {}
    for etype in types:
        p, r, f = _prf(n_hit[etype], n_pred[etype], n_true[etype])
        per_type[etype] = {"precision": p, "recall": r, "f1": f, "support": n_true[etype]}
    p, r, f = _prf(len(hits), len(pred_ents), len(true_ents))
    scored = [v for k, v in per_type.items() if n_true[k]]  # seqeval's macro averages types with support
    return {
        "precision": p,
        "recall": r,
        "f1": f,
        "precision_macro": sum(v["precision"] for v in scored) / len(scored) if scored else 0.0,
        "recall_macro": sum(v["recall"] for v in scored) / len(scored) if scored else 0.0,
        "f1_macro": sum(v["f1"] for v in scored) / len(scored) if scored else 0.0,
        "token_accuracy": correct_tokens / total_tokens if total_tokens else 0.0,
        "n": len(y_true),
        "entities": len(true_ents),
        "per_type": per_type,
        "mode": "strict" if strict else "default",
    }
