"""NER examples from memory or files: the tag set, in-memory inputs, and a seeded held-out split."""

from __future__ import annotations

import random
from typing import Any

from headstart.data.labels import LabelSet
from headstart.data.tags import split_tag
from headstart.data.tokens import TokenExamples, examples_from_spans, rows_to_examples
from headstart.errors import DataError


def tag_set(tags: list[list[str]]) -> LabelSet:
    """Tags sorted by entity type, then B before I, with O first."""
    found = {t for seq in tags for t in seq}
    ordered = sorted(found - {"O"}, key=lambda t: (split_tag(t)[1], split_tag(t)[0]))
    return LabelSet(["O", *ordered])


def to_token_examples(source: Any, scheme: str | None = None) -> TokenExamples:
    """In-memory NER data: TokenExamples, texts, word lists, or rows of tokens/tags or text/entities."""
    if isinstance(source, TokenExamples):
        return source
    if isinstance(source, str):
        source = [source]
    if isinstance(source, (list, tuple)) and source:
        if all(isinstance(s, str) for s in source):
            return examples_from_spans([{"text": s} for s in source])
        if all(isinstance(s, (list, tuple)) and all(isinstance(w, str) for w in s) for s in source):
            return TokenExamples([list(s) for s in source], source="input")
        if all(isinstance(s, dict) for s in source):
            return rows_to_examples(list(source), [f"input row {i + 1}" for i in range(len(source))], "input", scheme)
    raise DataError(
        "texts, lists of words, or rows with tokens/tags or text/entities",
        found=f"{type(source).__name__}" + ("" if source else " (empty)"),
        fix='pass e.g. ["Ann lives in Paris"] or [["Ann", "lives"]]',
    )


def random_split(examples: TokenExamples, fraction: float, seed: int) -> tuple[TokenExamples, TokenExamples]:
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    k = max(1, round(len(order) * fraction))
    if k >= len(order):
        raise DataError(
            f"enough sentences to hold out {fraction:.0%}",
            found=f"{len(order)}",
            fix="pass a --validation file or add training data",
            file=examples.source,
        )
    held = sorted(order[:k])
    keep = sorted(order[k:])
    return examples.subset(keep), examples.subset(held)
