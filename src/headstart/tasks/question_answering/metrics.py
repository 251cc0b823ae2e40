"""SQuAD exact match and F1, as the official v1.1 and v2.0 evaluation scripts define them.

An answer is normalised (lower case, punctuation and the articles a/an/the removed, whitespace
collapsed) and compared with each gold answer; a question scores its best match. A question
without an answer (SQuAD 2.0) has the empty string as its one gold answer, and an empty
prediction is right for it and wrong for any other.

>>> squad_scores({"q1": ["Denver Broncos"]}, {"q1": "the Denver Broncos"})["exact_match"]
100.0
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token overlap F1 of the normalised answers; two empty answers agree (v2.0's rule)."""
    pred, true = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not true:
        return float(pred == true)
    same = sum((Counter(pred) & Counter(true)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(true)
    return 2 * precision * recall / (precision + recall)


def question_scores(golds: Sequence[str], prediction: str) -> tuple[float, float]:
    """(exact match, F1) of one question: the best over its gold answers ([""] when it has none)."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return max(exact_match(prediction, g) for g in golds), max(f1(prediction, g) for g in golds)


def squad_scores(golds: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> dict[str, float]:
    """EM and F1 in percent over every question of ``golds``; a question without a prediction scores 0.

    With unanswerable questions among them (v2.0), the answerable (``HasAns``) and unanswerable
    (``NoAns``) ones are also scored apart, as the v2.0 script does.
    """
    per = {qid: question_scores(answers, predictions.get(qid, "")) for qid, answers in golds.items()}
    out = _mean(per.values())
    has = [qid for qid, answers in golds.items() if any(normalize_answer(a) for a in answers)]
    if len(has) < len(golds):
        out["HasAns_exact_match"], out["HasAns_f1"] = _mean(per[q] for q in has).values()
        out["NoAns_exact_match"], out["NoAns_f1"] = _mean(v for q, v in per.items() if q not in set(has)).values()
        out["HasAns_total"], out["NoAns_total"] = float(len(has)), float(len(golds) - len(has))
    out["total"] = float(len(golds))
    return out


def _mean(scores: object) -> dict[str, float]:
    pairs = list(scores)  # type: ignore[call-overload]
    if not pairs:
        return {"exact_match": 0.0, "f1": 0.0}
    return {
        "exact_match": 100.0 * sum(p[0] for p in pairs) / len(pairs),
        "f1": 100.0 * sum(p[1] for p in pairs) / len(pairs),
    }
