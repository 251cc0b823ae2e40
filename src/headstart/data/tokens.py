"""Token-level data for NER: CoNLL column files, JSONL token/tag lists, JSONL text + character spans.

Every reader returns :class:`TokenExamples` whose tags are converted to IOB2 (the scheme the
models train on); the input scheme is detected (or set) and kept so outputs can be written back
in it. Sentences built from raw text keep the text and each word's character offsets.

>>> ex = examples_from_spans([{"text": "Ann met Bob in Paris.",
...                            "entities": [{"start": 0, "end": 3, "label": "PER"},
...                                         {"start": 15, "end": 20, "label": "LOC"}]}])
>>> ex.words[0], ex.tags[0]
(['Ann', 'met', 'Bob', 'in', 'Paris', '.'], ['B-PER', 'O', 'O', 'O', 'B-LOC', 'O'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from headstart.data.stream import BadRecord, CoNLL, Record, Stream, open_stream
from headstart.data.tags import SCHEMES, detect_scheme, to_iob2
from headstart.errors import DataError

# Words as BERT's basic tokenizer splits them: runs of word characters, or one punctuation mark.
_WORD = re.compile(r"\w+|[^\w\s]")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) for each word of ``text``; offsets index the original string."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass
class TokenExamples:
    words: list[list[str]]
    tags: list[list[str]] | None = None  # IOB2
    locations: list[str] = field(default_factory=list)
    source: str = "data"
    scheme: str = "iob2"  # the scheme the input was written in
    texts: list[str] | None = None  # original strings, when built from raw text
    offsets: list[list[tuple[int, int]]] | None = None  # character span of each word in its text
    # The document each sentence belongs to (CoNLL -DOCSTART- sections, or a JSONL "document" key):
    # neighbouring sentences of the same document are the context ``task.context`` feeds the model.
    documents: list[int] | None = None

    def __post_init__(self) -> None:
        if not self.locations:
            self.locations = [f"{self.source} sentence {i + 1}" for i in range(len(self.words))]

    def __len__(self) -> int:
        return len(self.words)

    @property
    def labels(self) -> list[str] | None:
        """Every tag, flattened (for label sets and distributions)."""
        return None if self.tags is None else [t for seq in self.tags for t in seq]

    def inputs(self) -> list[str] | list[list[str]]:
        """What :meth:`Predictor.predict` of a tagger takes: the raw texts when known, else the word lists."""
        return list(self.texts) if self.texts is not None else [list(w) for w in self.words]

    def subset(self, indices: Any) -> TokenExamples:
        pick = list(indices)

        def take(values: list | None) -> list | None:
            return None if values is None else [values[i] for i in pick]

        return replace(
            self,
            words=[self.words[i] for i in pick],
            tags=take(self.tags),
            locations=[self.locations[i] for i in pick],
            texts=take(self.texts),
            offsets=take(self.offsets),
            documents=take(self.documents),
        )


def read_token_file(
    path: str | Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    token_column: int = 0,
    tag_column: int = -1,
    scheme: str | None = None,
    require_tags: bool = True,
) -> TokenExamples:
    """A CoNLL file (any extension but .jsonl/.json) or JSONL with tokens/tags or text/entities.

    The sentences are collected from :func:`~headstart.data.stream.open_stream`, the one reader
    per format. With ``require_tags=False`` (prediction input) a CoNLL file may hold one token
    per line.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes = suffixes[:-1]
    fmt = format or ("jsonl" if suffixes and suffixes[-1] in (".jsonl", ".json", ".ndjson") else "conll")
    if fmt not in ("conll", "jsonl", "json"):
        raise DataError("a token-classification format: conll or jsonl", found=repr(fmt), fix="fix --format")
    layout = CoNLL(token_column, tag_column, require_tags)
    stream = open_stream(path, format=fmt if fmt != "json" else "jsonl", encoding=encoding, conll=layout)
    records = _collect(stream)
    if fmt != "conll":
        if not records:
            raise DataError("at least one JSON object", found="an empty file", fix="check the file", file=path)
        return rows_to_examples([r.fields for r in records], [r.location for r in records], str(path), scheme)
    if not records:
        raise DataError("sentences of token/tag lines", found="no tokens", fix="check the file", file=path)
    words = [r.fields["tokens"] for r in records]
    tags = [r.fields["tags"] for r in records]
    if any("" in seq for seq in tags):
        if any(t for seq in tags for t in seq):
            found, fix = "some lines without a tag", "add the missing tags"
            raise DataError("a tag on every line, or on none", found=found, fix=fix, file=path)
        tags = None
    documents = [r.document or 0 for r in records]
    examples = TokenExamples(words, tags, [r.location for r in records], str(path), documents=documents)
    return _finish(examples, scheme)


def _collect(stream: Stream) -> list[Record]:
    """Every record of a stream; the first unreadable one stops the read with its line."""
    out = []
    try:
        for record in stream.records:
            if isinstance(record, BadRecord):
                raise record.error(str(stream.path), stream.line_kind)
            out.append(record)
    finally:
        stream.close()
    return out


TOKEN_KEYS = ("tokens", "words")
TAG_KEYS = ("tags", "ner_tags", "labels")
SPAN_KEYS = ("entities", "spans", "label")


def rows_to_examples(rows: list[dict], locations: list[str], source: str, scheme: str | None = None) -> TokenExamples:
    """Rows with token/tag lists, or rows with text + character spans (not mixed)."""
    if any(k in rows[0] for k in TOKEN_KEYS):
        words, tags = [], []
        has_tags = any(any(k in r for k in TAG_KEYS) for r in rows)
        for row, where in zip(rows, locations):
            w = _get(row, TOKEN_KEYS, where, "a list of tokens")
            words.append([str(x) for x in w])
            if has_tags:
                t = [str(x) for x in _get(row, TAG_KEYS, where, "a list of tags")]
                if len(t) != len(w):
                    raise DataError(
                        f"as many tags as tokens ({len(w)})",
                        found=f"{len(t)} tags",
                        fix="fix the lists so each token has one tag",
                        file=where,
                    )
                tags.append(t)
        documents = _documents(rows) if any("document" in r for r in rows) else None
        return _finish(TokenExamples(words, tags if has_tags else None, locations, source, documents=documents), scheme)
    if "text" in rows[0]:
        return examples_from_spans(rows, locations, source)
    raise DataError(
        'rows with "tokens" and "tags", or "text" and "entities"',
        found=f"keys {sorted(rows[0])}",
        fix="rename the keys",
        file=locations[0],
    )


def _documents(rows: list[dict]) -> list[int]:
    """A number per row from its "document" value: consecutive rows with the same value share one."""
    out, previous, number = [], object(), -1
    for row in rows:
        value = row.get("document")
        if value != previous:
            number, previous = number + 1, value
        out.append(number)
    return out


def _get(row: dict, keys: tuple[str, ...], where: str, what: str) -> list:
    for k in keys:
        if k in row:
            value = row[k]
            if not isinstance(value, list):
                raise DataError(
                    f"{what} under '{k}'", found=f"a {type(value).__name__}", fix="make it a list", file=where
                )
            return value
    raise DataError(f"{what} (key {' or '.join(keys)})", found=f"keys {sorted(row)}", fix="add it", file=where)


def examples_from_spans(rows: list[dict], locations: list[str] | None = None, source: str = "input") -> TokenExamples:
    """Raw text with character-offset entities -> words with IOB2 tags (and the offsets kept)."""
    locations = locations or [f"{source} row {i + 1}" for i in range(len(rows))]
    words, tags, texts, offsets = [], [], [], []
    labeled = any(any(k in r for k in SPAN_KEYS) for r in rows)
    for row, where in zip(rows, locations):
        text = row.get("text")
        if not isinstance(text, str):
            raise DataError('a string under "text"', found=repr(text)[:60], fix="fix the row", file=where)
        parts = split_words(text)
        words.append([w for w, _, _ in parts])
        offsets.append([(s, e) for _, s, e in parts])
        texts.append(text)
        if labeled:
            tags.append(_span_tags(text, parts, _spans(row, where), where))
    return TokenExamples(words, tags if labeled else None, locations, source, "iob2", texts, offsets)


def _spans(row: dict, where: str) -> list[tuple[int, int, str]]:
    raw = next((row[k] for k in SPAN_KEYS if k in row), [])
    out = []
    for item in raw:
        if isinstance(item, dict):
            start, end, label = item.get("start"), item.get("end"), item.get("label", item.get("type"))
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            start, end, label = item
        else:
            start = end = label = None
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str) and label):
            raise DataError(
                'entities like {"start": 0, "end": 5, "label": "PER"} or [0, 5, "PER"]',
                found=repr(item)[:80],
                fix="fix the entity",
                file=where,
            )
        out.append((start, end, label))
    return sorted(out)


def _span_tags(
    text: str, parts: list[tuple[str, int, int]], spans: list[tuple[int, int, str]], where: str
) -> list[str]:
    tags = ["O"] * len(parts)
    prev_end = -1
    for start, end, label in spans:
        if not 0 <= start < end <= len(text):
            raise DataError(
                f"0 <= start < end <= {len(text)} (the text's length)",
                found=f"[{start}, {end})",
                fix="fix the offsets",
                file=where,
            )
        if start < prev_end:
            raise DataError(
                "entities that do not overlap",
                found=f"[{start}, {end}) inside an earlier one",
                fix="keep one of them",
                file=where,
            )
        prev_end = end
        inside = [i for i, (_, s, e) in enumerate(parts) if s < end and e > start]
        if not inside:
            raise DataError(
                "an entity that covers at least one word",
                found=f"[{start}, {end}) {text[start:end]!r}",
                fix="fix the offsets",
                file=where,
            )
        for j, i in enumerate(inside):
            tags[i] = f"{'B' if j == 0 else 'I'}-{label}"
    return tags


def _finish(examples: TokenExamples, scheme: str | None) -> TokenExamples:
    if examples.tags is None:
        return examples
    if scheme is not None and scheme not in SCHEMES:
        raise DataError(f"a tag scheme among {', '.join(SCHEMES)}", found=repr(scheme), fix="fix task.tag_scheme")
    found = scheme or detect_scheme(examples.tags)
    return replace(examples, tags=[to_iob2(t) for t in examples.tags], scheme=found)
