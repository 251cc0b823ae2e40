"""Scores of written texts against one or more references, from the libraries the field uses:
BLEU and chrF (``sacrebleu``), ROUGE-1/2/L (``rouge-score``) and exact match.

BLEU is sacrebleu's corpus BLEU with the 13a tokenizer on lowercased text, inputs with fewer
references padded with ``None``: that reproduces the official E2E NLG script's BLEU (its
signature is kept with the scores). ROUGE takes each output's best reference, as ``score_multi`` does.

>>> s = text_scores(["the cat sat on the mat"], [["The cat sat on the mat", "a cat sat"]])
>>> s["bleu"], s["exact_match"]
(100.0, 100.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

ROUGE = ("rouge1", "rouge2", "rougeL")
METRICS = ("bleu", "chrf", *ROUGE, "exact_match")


def normalize(text: str) -> str:
    """Case and spacing do not count for exact match."""
    return re.sub(r"\s+", " ", text).strip().lower()


def text_scores(outputs: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Corpus scores (0-100) of ``outputs`` against their references, and the BLEU signature."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if not outputs:
        return {name: 0.0 for name in METRICS} | {"n": 0}
    width = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    bleu = sacrebleu.metrics.BLEU(tokenize="13a", lowercase=True)
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(outputs), streams)
    chrf_score = chrf.corpus_score(list(outputs), streams)
    scorer = rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)
    rouge = {name: 0.0 for name in ROUGE}
    for out, refs in zip(outputs, references):
        best = scorer.score_multi(list(refs), out)
        for name in ROUGE:
            rouge[name] += best[name].fmeasure
    exact = sum(normalize(out) in {normalize(r) for r in refs} for out, refs in zip(outputs, references))
    n = len(outputs)
    return {
        "bleu": round(float(bleu_score.score), 4),
        "chrf": round(float(chrf_score.score), 4),
        **{name: round(100 * total / n, 4) for name, total in rouge.items()},
        "exact_match": round(100 * exact / n, 4),
        "n": n,
        "bleu_signature": str(bleu.get_signature()),
    }


def sentence_scores(outputs: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """Each output's chrF against its references (the report's "worst first" order)."""
    import sacrebleu

    return [float(sacrebleu.sentence_chrf(out, list(refs)).score) for out, refs in zip(outputs, references)]
