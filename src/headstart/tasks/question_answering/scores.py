"""SQuAD scores of predicted spans, and the no-answer threshold with the best F1 (as the v2.0
script's ``find_best_thresh`` picks it, over every gap between the no-answer and the best span)."""

from __future__ import annotations

import numpy as np

from headstart.tasks.question_answering.examples import QAExamples
from headstart.tasks.question_answering.metrics import question_scores, squad_scores
from headstart.tasks.question_answering.postprocess import BestSpans


def scores_at(best: BestSpans, examples: QAExamples, threshold: float | None) -> dict[str, float]:
    """EM/F1 (and v2.0's HasAns/NoAns split) of the answers at ``threshold`` (None: always a span)."""
    answers = best.answers(examples.contexts, threshold)
    golds = {str(i): [a.text for a in gold] for i, gold in enumerate(examples.answers or [])}
    return squad_scores(golds, {str(i): str(a["answer"]) for i, a in enumerate(answers)})


def best_threshold(best: BestSpans, examples: QAExamples) -> float:
    """The no-answer threshold with the best F1: no answer where ``null_gap`` exceeds it."""
    answers = best.answers(examples.contexts, None)
    span_f1 = np.array(
        [
            question_scores([a.text for a in gold], str(ans["answer"]))[1]
            for gold, ans in zip(examples.answers or [], answers)
        ]
    )
    null_f1 = np.array([0.0 if gold else 1.0 for gold in examples.answers or []])
    if not len(span_f1):
        return 0.0
    gaps = np.minimum(best.null_gap, 1e9)  # inf: a question with no span at all, always "no answer"
    order = np.argsort(gaps, kind="stable")
    # k questions with the smallest gaps answered with their span, the rest with "no answer"
    totals = (
        np.concatenate([[0.0], np.cumsum(span_f1[order])])
        + null_f1.sum()
        - np.concatenate([[0.0], np.cumsum(null_f1[order])])
    )
    k = int(totals.argmax())
    return float(gaps[order[k - 1]]) if k > 0 else float(gaps[order[0]] - 1.0)
