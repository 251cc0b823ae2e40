"""What the QA report adds to EM/F1: scores by question word, answer length and context length,
and the most confident wrong answers with their context."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from headstart.tasks.common.metrics import MISTAKES_SHOWN
from headstart.tasks.question_answering.examples import QAExamples
from headstart.tasks.question_answering.metrics import question_scores

QUESTION_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_WORD = re.compile(r"[a-z]+")


def question_word(question: str) -> str:
    """The first wh-word of a question ("other" when it has none)."""
    return next((w for w in _WORD.findall(question.lower()) if w in QUESTION_WORDS), "other")


def answer_length(gold: list[Any]) -> str:
    if not gold:
        return "no answer"
    n = len(gold[0].text.split())
    return "1 word" if n == 1 else "2-3 words" if n <= 3 else "4-6 words" if n <= 6 else "7+ words"


def context_length(context: str) -> str:
    n = len(context.split())
    return "<100 words" if n < 100 else "100-199 words" if n < 200 else "200-399 words" if n < 400 else "400+ words"


def breakdowns(examples: QAExamples, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """EM/F1 and counts per question word, answer length and context length."""
    scores = [
        question_scores([a.text for a in gold], str(ans["answer"]))
        for gold, ans in zip(examples.answers or [], answers)
    ]
    golds = examples.answers or []
    groups: dict[str, Callable[[int], str]] = {
        "by_question_word": lambda i: question_word(examples.questions[i]),
        "by_answer_length": lambda i: answer_length(golds[i]),
        "by_context_length": lambda i: context_length(examples.contexts[i]),
    }
    out: dict[str, Any] = {}
    for name, key in groups.items():
        buckets: dict[str, list[tuple[float, float]]] = {}
        for i, pair in enumerate(scores):
            buckets.setdefault(key(i), []).append(pair)
        out[name] = {
            k: {
                "exact_match": 100 * sum(p[0] for p in v) / len(v),
                "f1": 100 * sum(p[1] for p in v) / len(v),
                "n": len(v),
            }
            for k, v in sorted(buckets.items(), key=lambda kv: -len(kv[1]))
        }
    return out


def confident_mistakes(
    examples: QAExamples, answers: list[dict[str, Any]], k: int = MISTAKES_SHOWN
) -> list[dict[str, Any]]:
    """The wrong answers (exact match 0) the model was surest of: the question, then the context around them."""
    found = []
    for i, (gold, ans) in enumerate(zip(examples.answers or [], answers)):
        if question_scores([a.text for a in gold], str(ans["answer"]))[0]:
            continue
        context = examples.contexts[i]
        at = ans["start"] if ans["start"] is not None else (gold[0].start if gold else 0)
        lo = max(0, int(at) - 150)
        found.append(
            {
                "location": examples.locations[i],
                "text": f"{examples.questions[i]} | "
                + ("…" if lo else "")
                + context[lo : lo + 400]
                + ("…" if lo + 400 < len(context) else ""),
                "expected": " | ".join(a.text for a in gold) or "(no answer)",
                "predicted": ans["answer"] or "(no answer)",
                "score": ans["score"],
            }
        )
    return sorted(found, key=lambda m: -m["score"])[:k]
