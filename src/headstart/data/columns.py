"""Which columns hold the text, the optional second text of a pair, and the label.

Names are matched after normalising case and punctuation, so GLUE MRPC's odd header
``Quality  #1 ID  #2 ID  #1 String  #2 String`` resolves to text ``#1 String``, pair
``#2 String`` and label ``Quality``.

>>> detect_columns(["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], source="dev.tsv")
ColumnSpec(text='#1 String', text_pair='#2 String', label='Quality')
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from headstart.errors import DataError

# Known (first, second) text column pairs, most specific first.
PAIR_NAMES = (
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("question", "sentence"),
    ("question", "passage"),
    ("text", "text pair"),
    ("text a", "text b"),
    ("1 string", "2 string"),
)
TEXT_NAMES = (
    "text",
    "sentence",
    "review",
    "content",
    "document",
    "comment",
    "tweet",
    "body",
    "utterance",
    "description",
    "question",
    "passage",
    "snippet",
    "message",
    "abstract",
    "query",
)
LABEL_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "target",
    "sentiment",
    "quality",
    "gold label",
    "y",
    "tag",
)
# Regression: the number to predict (a dataset often has both a class label and a rating, as
# IMDB does: regression looks for these names only).
TARGET_NAMES = ("score", "rating", "stars", "similarity", "target", "y")


@dataclass(frozen=True)
class ColumnSpec:
    text: str
    text_pair: str | None
    label: str | None


def normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(name).lower()).strip()


def detect_columns(
    columns: list[str],
    *,
    text: str | None = None,
    text_pair: str | None = None,
    label: str | None = None,
    need_label: bool = True,
    source: str = "data",
    label_names: tuple[str, ...] = LABEL_NAMES,
) -> ColumnSpec:
    """Resolve the text / pair / label columns, from explicit names or from common names."""
    by_norm: dict[str, list[str]] = {}
    for c in columns:
        by_norm.setdefault(normalize(c), []).append(c)
    for given, flag in ((text, "--text-column"), (text_pair, "--text-pair-column"), (label, "--label-column")):
        if given is not None and given not in columns:
            raise DataError(
                f"a column named '{given}' ({flag})",
                found=f"columns {columns}",
                fix=f"pass one of these to {flag}",
                file=source,
            )
    if text is None:
        text, auto_pair = _detect_text(by_norm, columns, source)
        if text_pair is None:
            text_pair = auto_pair
    if label is None:
        label = _detect_one(by_norm, label_names, "label", "--label-column", columns, source, required=need_label)
    if label is not None and label in (text, text_pair):
        raise DataError(
            "a label column different from the text columns",
            found=f"'{label}' used for both",
            fix="name the columns with --text-column / --label-column",
            file=source,
        )
    return ColumnSpec(text, text_pair, label)


def _detect_text(by_norm: dict[str, list[str]], columns: list[str], source: str) -> tuple[str, str | None]:
    for first, second in PAIR_NAMES:
        if len(by_norm.get(first, [])) == 1 and len(by_norm.get(second, [])) == 1:
            return by_norm[first][0], by_norm[second][0]
    found = _detect_one(by_norm, TEXT_NAMES, "text", "--text-column", columns, source, required=True)
    return typing.cast(str, found), None


def _detect_one(
    by_norm: dict[str, list[str]],
    names: tuple[str, ...],
    what: str,
    flag: str,
    columns: list[str],
    source: str,
    *,
    required: bool,
) -> str | None:
    hits = [c for name in names for c in by_norm.get(name, [])]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise DataError(
            f"one {what} column",
            found=f"several candidates {hits} among columns {columns}",
            fix=f"choose one with {flag}",
            file=source,
        )
    if required:
        raise DataError(
            f"a {what} column (one of: {', '.join(names)})",
            found=f"columns {columns}",
            fix=f"name it with {flag}",
            file=source,
        )
    return None
