"""Tokenization with truncation to ``max_length``, counting what was truncated, no padding.

Padding happens per batch in the collator (dynamic padding), so nothing here pads. Inputs are
tokenized once without truncation to learn their true lengths; only the ones that are too long
are tokenized again with truncation, so the count of truncated examples costs almost nothing.

Example::

    enc = encode_texts(tokenizer, ["a short text"], None, max_length=8)
    enc.n_truncated, len(enc.features["input_ids"][0]) <= 8   # -> (0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Encoded:
    features: dict[str, list[list[int]]]  # input_ids, attention_mask, [token_type_ids]; unpadded
    lengths: list[int]  # tokens per example after truncation
    n_truncated: int
    max_untruncated: int  # longest example before truncation, in tokens
    full_lengths: list[int] = field(default_factory=list)  # tokens per example before truncation


def encode_texts(tokenizer: Any, texts: Sequence[str], pairs: Sequence[str] | None, max_length: int) -> Encoded:
    """Tokenize texts (or text pairs) without padding, truncating to ``max_length`` tokens."""
    texts = list(texts)
    pair_list = list(pairs) if pairs is not None else None
    full = tokenizer(texts, pair_list, truncation=False, padding=False, verbose=False)
    features = {k: list(v) for k, v in full.items()}
    too_long = [i for i, ids in enumerate(features["input_ids"]) if len(ids) > max_length]
    full_lengths = [len(ids) for ids in features["input_ids"]]
    max_untruncated = max(full_lengths, default=0)
    if too_long:
        cut = tokenizer(
            [texts[i] for i in too_long],
            [pair_list[i] for i in too_long] if pair_list is not None else None,
            truncation=True,
            max_length=max_length,
            padding=False,
        )
        for key in features:
            for j, i in enumerate(too_long):
                features[key][i] = cut[key][j]
    lengths = [len(ids) for ids in features["input_ids"]]
    return Encoded(features, lengths, len(too_long), max_untruncated, full_lengths)
