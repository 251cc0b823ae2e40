"""Sub-word alignment and windows for token classification.

Each word's tag goes to its first sub-token; the other sub-tokens get -100 (ignored by the loss)
unless ``label_all_tokens`` (then they get the word's tag, with B- turned into I-). A sentence
longer than ``max_length`` sub-tokens is cut into overlapping windows of whole words; each word
is *owned* by exactly one window (the one where it sits furthest from an edge), only owned words
carry labels, and predictions are read from the owner, so no word is dropped or counted twice.

With ``context`` > 0 and the document of each sentence known, a sentence that fits is fed with up
to ``context`` sub-tokens of the neighbouring sentences of its document on each side, as whole
words that are never labelled nor read (document-level features, Schweter & Akbik 2020, "FLERT").
The model sees what a sentence is about ("Japan 2 Syria 1" among football results) at the cost
of longer inputs.

>>> enc = encode_words(tokenizer, [["Ann", "lives", "here"]], max_length=8)  # doctest: +SKIP
>>> enc.windows[0].words                                                        # doctest: +SKIP
[None, 0, 1, 2, None]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IGNORE = -100


@dataclass
class Window:
    sentence: int  # index of the sentence this window comes from
    words: list[int | None]  # absolute word index of each sub-token (None for special tokens)
    owned: list[bool]  # per sub-token: is this the first sub-token of a word this window owns


@dataclass
class WordEncoding:
    features: dict[str, list[list[int]]]  # input_ids, attention_mask, [token_type_ids], [labels], word_mask
    windows: list[Window]
    lengths: list[int]
    n_windowed: int  # sentences split into more than one window
    unaligned: list[tuple[int, int]] = field(default_factory=list)  # (sentence, word) with no sub-token
    max_untruncated: int = 0
    n_with_context: int = 0  # sentences fed with words of their neighbours
    full_lengths: list[int] = field(default_factory=list)  # sub-tokens per sentence, before windowing


def encode_words(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    max_length: int,
    *,
    tag_ids: Sequence[Sequence[int]] | None = None,
    label_all_tokens: bool = False,
    b_to_i: dict[int, int] | None = None,
    stride: int = 32,
    documents: Sequence[int] | None = None,
    context: int = 0,
) -> WordEncoding:
    """Tokenize pre-split sentences into (possibly several) windows of at most ``max_length``."""
    out = WordEncoding({}, [], [], 0)
    full = tokenizer([list(s) for s in sentences], is_split_into_words=True, truncation=False, verbose=False)
    with_context = (
        _with_context(tokenizer, sentences, full, documents, context, max_length)
        if context > 0 and documents is not None
        else {}
    )
    out.n_with_context = len(with_context)
    for i, words in enumerate(sentences):
        word_ids = full.word_ids(i)
        out.max_untruncated = max(out.max_untruncated, len(word_ids))
        out.full_lengths.append(len(word_ids))
        present = {w for w in word_ids if w is not None}
        out.unaligned += [(i, w) for w in range(len(words)) if w not in present]
        if i in with_context:
            spans = [(0, len(words), 0, len(words))]
            encodings = [with_context[i]]
        elif len(word_ids) <= max_length:
            spans = [(0, len(words), 0, len(words))]
            encodings = [({k: full[k][i] for k in full.keys()}, word_ids)]
        else:
            out.n_windowed += 1
            spans = _windows(word_ids, len(words), max_length, stride)
            encodings = []
            for start, end, _, _ in spans:
                enc = tokenizer(
                    list(words[start:end]), is_split_into_words=True, truncation=True, max_length=max_length
                )
                encodings.append(
                    ({k: enc[k] for k in enc.keys()}, [None if w is None else w + start for w in enc.word_ids()])
                )
        for (_, _, own_from, own_to), (features, wids) in zip(spans, encodings):
            owned = [
                w is not None and own_from <= w < own_to and (p == 0 or wids[p - 1] != w) for p, w in enumerate(wids)
            ]
            for key, value in features.items():
                out.features.setdefault(key, []).append(list(value))
            out.features.setdefault("word_mask", []).append([int(o) for o in owned])
            if tag_ids is not None:
                out.features.setdefault("labels", []).append(
                    _labels(wids, owned, tag_ids[i], own_from, own_to, label_all_tokens, b_to_i or {})
                )
            out.windows.append(Window(i, wids, owned))
            out.lengths.append(len(wids))
    return out


def _with_context(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    full: Any,
    documents: Sequence[int],
    context: int,
    max_length: int,
) -> dict[int, tuple[dict[str, list[int]], list[int | None]]]:
    """Encodings of the sentences that fit, with neighbouring words of their document around them.

    Context words map to ``None`` like special tokens, so they carry no label and are never read.
    """
    if len(documents) != len(sentences):
        raise ValueError(f"{len(documents)} document numbers for {len(sentences)} sentences")
    counts = []  # sub-tokens per word, per sentence
    for i, words in enumerate(sentences):
        c = [0] * len(words)
        for w in full.word_ids(i):
            if w is not None:
                c[w] += 1
        counts.append(c)
    plans: dict[int, tuple[list[str], list[str]]] = {}
    for i in range(len(sentences)):
        room = max_length - len(full.word_ids(i))
        budget = min(context, room // 2)
        if budget <= 0:
            continue
        left: list[str] = []
        used, j = 0, i - 1
        while j >= 0 and documents[j] == documents[i] and used < budget:
            for word, n in zip(reversed(sentences[j]), reversed(counts[j])):
                if used + n > budget:
                    used = budget
                    break
                left.insert(0, word)
                used += n
            j -= 1
        right: list[str] = []
        used, j = 0, i + 1
        while j < len(sentences) and documents[j] == documents[i] and used < budget:
            for word, n in zip(sentences[j], counts[j]):
                if used + n > budget:
                    used = budget
                    break
                right.append(word)
                used += n
            j += 1
        if left or right:
            plans[i] = (left, right)
    if not plans:
        return {}
    order = list(plans)
    batch = [plans[i][0] + list(sentences[i]) + plans[i][1] for i in order]
    enc = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=max_length, verbose=False)
    out = {}
    for row, i in enumerate(order):
        shift, n = len(plans[i][0]), len(sentences[i])
        wids = [None if w is None or not shift <= w < shift + n else w - shift for w in enc.word_ids(row)]
        out[i] = ({k: enc[k][row] for k in enc.keys()}, wids)
    return out


def _labels(
    wids: list[int | None],
    owned: list[bool],
    tags: Sequence[int],
    own_from: int,
    own_to: int,
    label_all_tokens: bool,
    b_to_i: dict[int, int],
) -> list[int]:
    labels = []
    for w, first in zip(wids, owned):
        if first:
            labels.append(tags[w])
        elif label_all_tokens and w is not None and own_from <= w < own_to:
            labels.append(b_to_i.get(tags[w], tags[w]))
        else:
            labels.append(IGNORE)
    return labels


def _windows(word_ids: list[int | None], n_words: int, max_length: int, stride: int) -> list[tuple[int, int, int, int]]:
    """(start, end, own_from, own_to) word ranges: windows that fit, overlapping by ~stride sub-tokens."""
    counts = [0] * n_words
    for w in word_ids:
        if w is not None:
            counts[w] += 1
    budget = max_length - sum(1 for w in word_ids if w is None)  # room left by the special tokens
    stride = max(0, min(stride, budget // 2))
    spans = []
    start = 0
    while start < n_words:
        end, used = start, 0
        while end < n_words and (used + counts[end] <= budget or end == start):
            used += counts[end]
            end += 1
        spans.append([start, end])
        if end >= n_words:
            break
        back, overlap = end, 0  # the next window starts ~stride sub-tokens before this one ends
        while back - 1 > start and overlap + counts[back - 1] <= stride:
            back -= 1
            overlap += counts[back]
        start = back
    out = []
    for k, (s, e) in enumerate(spans):
        own_from = s if k == 0 else (spans[k - 1][1] + s + 1) // 2
        own_to = e if k == len(spans) - 1 else (e + spans[k + 1][0] + 1) // 2
        out.append((s, e, own_from, own_to))
    return out
