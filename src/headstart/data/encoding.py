"""Tokenization to at most ``max_length`` tokens, counting what was too long, no padding.

Padding happens per batch in the collator (dynamic padding), so nothing here pads. Inputs are
tokenized once without truncation to learn their true lengths; only the ones that are too long
are tokenized again, so the count of long examples costs almost nothing. A too-long input is
(``long_documents``):

- ``truncate``: cut at the end (for a pair, the longer text first);
- ``head-tail``: the first quarter of the budget from the start, the rest from the end (Sun et
  al. 2019, "How to Fine-Tune BERT for Text Classification": head 128 + tail 382 of 512 was
  best on IMDB, as reviews conclude at their end);
- ``windows``: overlapping windows of ``max_length`` tokens sharing ``stride`` tokens; each is an
  input of its own, ``owner`` maps it back to its example.

Example::

    enc = encode_texts(tokenizer, ["a short text"], None, max_length=8)
    enc.n_truncated, len(enc.features["input_ids"][0]) <= 8, enc.owner   # -> (0, True, [0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LONG_DOCUMENTS = ("truncate", "head-tail", "windows")
HEAD_SHARE = 0.25  # head-tail: the share of the budget taken from the start


@dataclass
class Encoded:
    features: dict[str, list[list[int]]]  # input_ids, attention_mask, [token_type_ids]; unpadded
    lengths: list[int]  # tokens per input row after truncation (a row per window)
    n_truncated: int  # examples longer than max_length (cut, or split into windows)
    max_untruncated: int  # longest example before truncation, in tokens
    full_lengths: list[int] = field(default_factory=list)  # tokens per example before truncation
    owner: list[int] = field(default_factory=list)  # the example of each row

    @property
    def n_windows(self) -> int:
        return len(self.owner)


def encode_texts(
    tokenizer: Any,
    texts: Sequence[str],
    pairs: Sequence[str] | None,
    max_length: int,
    *,
    long_documents: str = "truncate",
    stride: int = 64,
) -> Encoded:
    """Tokenize texts (or text pairs) without padding, fitting each into ``max_length`` tokens."""
    texts = list(texts)
    pair_list = list(pairs) if pairs is not None else None
    full = tokenizer(texts, pair_list, truncation=False, padding=False, verbose=False)
    features = {k: list(v) for k, v in full.items()}
    full_lengths = [len(ids) for ids in features["input_ids"]]
    too_long = [i for i, n in enumerate(full_lengths) if n > max_length]
    owner = list(range(len(texts)))
    if too_long and (long_documents == "truncate" or pair_list is not None):
        # pairs are always truncated: windows or a head and tail of two texts have no clear meaning
        _replace(features, too_long, _truncated(tokenizer, texts, pair_list, too_long, max_length))
    elif too_long and long_documents == "head-tail":
        _replace(features, too_long, _head_tail(tokenizer, [texts[i] for i in too_long], max_length))
    elif too_long and long_documents == "windows":
        features, owner = _windows(tokenizer, texts, features, set(too_long), max_length, stride)
    lengths = [len(ids) for ids in features["input_ids"]]
    return Encoded(features, lengths, len(too_long), max(full_lengths, default=0), full_lengths, owner)


def _replace(features: dict[str, list[Any]], rows: list[int], new: dict[str, list[Any]]) -> None:
    for key in features:
        for j, i in enumerate(rows):
            features[key][i] = new[key][j]


def _truncated(
    tokenizer: Any, texts: list[str], pairs: list[str] | None, rows: list[int], max_length: int
) -> dict[str, list[Any]]:
    return tokenizer(
        [texts[i] for i in rows],
        [pairs[i] for i in rows] if pairs is not None else None,
        truncation=True,
        max_length=max_length,
        padding=False,
    )


def _head_tail(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, list[Any]]:
    """The start and the end of each text, cut at token boundaries and joined by a space, then
    tokenized again so that the tokenizer adds its own special tokens."""
    special = len(tokenizer("", add_special_tokens=True)["input_ids"])
    budget = max(2, max_length - special)
    head = max(1, int(budget * HEAD_SHARE))
    tail = budget - head
    plain = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    spliced = []
    for text, offsets in zip(texts, plain["offset_mapping"]):
        head_end = offsets[head - 1][1]
        tail_start = offsets[len(offsets) - tail][0]
        spliced.append(text[:head_end] + " " + text[tail_start:])
    # re-tokenizing at the cut can merge two tokens differently: truncation keeps the limit exact
    return tokenizer(spliced, truncation=True, max_length=max_length, padding=False)


def _windows(
    tokenizer: Any,
    texts: list[str],
    features: dict[str, list[Any]],
    too_long: set[int],
    max_length: int,
    stride: int,
) -> tuple[dict[str, list[Any]], list[int]]:
    long_rows = sorted(too_long)
    stride = min(stride, max_length // 2)  # the tokenizer needs each window to move forward
    split = tokenizer(
        [texts[i] for i in long_rows],
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        padding=False,
    )
    pieces: dict[int, list[int]] = {}
    for row, sample in enumerate(split["overflow_to_sample_mapping"]):
        pieces.setdefault(long_rows[sample], []).append(row)
    out: dict[str, list[Any]] = {key: [] for key in features}
    owner: list[int] = []
    for i in range(len(texts)):
        rows = pieces.get(i)
        for key in features:
            out[key].extend([split[key][r] for r in rows] if rows else [features[key][i]])
        owner.extend([i] * (len(rows) if rows else 1))
    return out, owner
