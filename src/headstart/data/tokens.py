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

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from headstart.data.readers import _COMPRESSION, decode
from headstart.data.tags import SCHEMES, detect_scheme, split_tag, to_iob2
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

    With ``require_tags=False`` (prediction input) a CoNLL file may hold one token per line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("an existing data file", found=f"nothing at {path}", fix="check the path", file=path)
    raw = path.read_bytes()
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        raw = _COMPRESSION[suffixes[-1]](raw)
        suffixes = suffixes[:-1]
    fmt = format or ("jsonl" if suffixes and suffixes[-1] in (".jsonl", ".json", ".ndjson") else "conll")
    if fmt not in ("conll", "jsonl", "json"):
        raise DataError("a token-classification format: conll or jsonl", found=repr(fmt), fix="fix --format")
    text = decode(raw, path, encoding)
    if fmt == "conll":
        words, tags, lines, documents = _parse_conll(text, str(path), token_column, tag_column, require_tags)
        locations = [f"{path}:{n}" for n in lines]
        return _finish(TokenExamples(words, tags, locations, str(path), documents=documents), scheme)
    rows, lines = _parse_jsonl(text, str(path))
    return rows_to_examples(rows, [f"{path}:{n}" for n in lines], str(path), scheme)


def _parse_conll(
    text: str, source: str, token_column: int, tag_column: int, require_tags: bool = True
) -> tuple[list[list[str]], list[list[str]] | None, list[int], list[int]]:
    """Sentences, their tags (None for token-only input), first lines and document numbers.

    A file without ``-DOCSTART-`` lines is one document: its sentences are neighbours.
    """
    words: list[list[str]] = []
    tags: list[list[str]] = []
    starts: list[int] = []
    documents: list[int] = []
    document = 0
    cur_w: list[str] = []
    cur_t: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if cur_w:
                words.append(cur_w)
                tags.append(cur_t)
                documents.append(document)
                cur_w, cur_t = [], []
            if fields and words:
                document += 1
            continue
        if len(fields) == 1 and not require_tags:  # tokens only, to predict
            if not cur_w:
                starts.append(n)
            cur_w.append(fields[0])
            cur_t.append("")
            continue
        try:
            word, tag = fields[token_column], fields[tag_column]
        except IndexError:
            raise DataError(
                f"a token (column {token_column}) and a tag (column {tag_column}) separated by spaces or tabs",
                found=f"{len(fields)} column(s): {line.strip()[:80]!r}",
                fix="fix the line, or set data.token_column / data.tag_column",
                file=source,
                line=n,
            ) from None
        if len(fields) < 2:
            raise DataError(
                "a token and its tag on each non-blank line",
                found=f"only {line.strip()[:80]!r}",
                fix="add the tag, or a blank line between sentences",
                file=source,
                line=n,
            )
        if not _looks_like_tag(tag):
            raise DataError(
                "a tag like O, B-PER, I-LOC, E-ORG or S-MISC in the tag column",
                found=repr(tag),
                fix="set data.tag_column to the column that holds the tags",
                file=source,
                line=n,
            )
        if not cur_w:
            starts.append(n)
        cur_w.append(word)
        cur_t.append(tag)
    if cur_w:
        words.append(cur_w)
        tags.append(cur_t)
        documents.append(document)
    if not words:
        raise DataError("sentences of token/tag lines", found="no tokens", fix="check the file", file=source)
    if any("" in seq for seq in tags):
        if any(t for seq in tags for t in seq):
            raise DataError(
                "a tag on every line, or on none",
                found="some lines without a tag",
                fix="add the missing tags",
                file=source,
            )
        return words, None, starts, documents
    return words, tags, starts, documents


def _looks_like_tag(tag: str) -> bool:
    prefix, etype = split_tag(tag)
    return prefix == "O" or (bool(etype) and (tag[:2] in ("B-", "I-", "E-", "S-", "L-", "U-") or "-" not in tag))


def _parse_jsonl(text: str, source: str) -> tuple[list[dict], list[int]]:
    rows, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                "one JSON object per line", found=f"invalid JSON ({exc.msg})", fix="fix the line", file=source, line=n
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                'an object like {"tokens": [...], "tags": [...]} or {"text": ..., "entities": [...]}',
                found=f"a {type(obj).__name__}",
                fix="fix the line",
                file=source,
                line=n,
            )
        rows.append(obj)
        lines.append(n)
    if not rows:
        raise DataError("at least one JSON object", found="an empty file", fix="check the file", file=source)
    return rows, lines


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
