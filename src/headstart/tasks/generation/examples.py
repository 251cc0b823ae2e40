"""Generation examples: an input (a text, or chat messages) and the texts it should become.

Read from any table format (csv, tsv, jsonl, json, parquet, a HF dataset, a DataFrame, rows) with
an input and a target column, detected from common names (``source``/``target``,
``input``/``output``, ``prompt``/``completion``, ``mr``/``ref``, ``document``/``summary``, ...),
or from chat-style ``messages`` lists, whose last message (the assistant's) is the target. Rows
sharing an input are one example with several references, as is a target cell holding a list;
training learns every reference, scores count all of them.

>>> rows = [{"mr": "name[Aromi]", "ref": "Aromi."}, {"mr": "name[Aromi]", "ref": "It is Aromi."}]
>>> ex = generation_from_table(to_table(rows))
>>> ex.inputs, ex.references
(['name[Aromi]'], [['Aromi.', 'It is Aromi.']])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from headstart.data.examples import to_table
from headstart.data.options import ReadOptions
from headstart.data.readers import Table
from headstart.errors import DataError

INPUT_KEYS = (
    "input", "source", "src", "prompt", "mr", "meaning_representation", "document", "article", "text",
    "question", "instruction", "query",
)  # fmt: skip
TARGET_KEYS = (
    "target", "tgt", "output", "completion", "ref", "reference", "references", "human_reference", "summary",
    "highlights", "answer", "response", "label",
)  # fmt: skip
MESSAGES = "messages"
Messages = list[dict[str, str]]


@dataclass
class GenerationExamples:
    inputs: list[Any]  # a text, or the chat messages before the reply
    references: list[list[str]] | None = None  # None: unlabeled; one or more texts per input
    locations: list[str] = field(default_factory=list)  # of each input's first row
    source: str = "data"
    columns: dict[str, str | None] = field(default_factory=dict)  # {"input": ..., "target": ...}

    def __post_init__(self) -> None:
        if not self.locations:
            self.locations = [f"{self.source} row {i + 1}" for i in range(len(self.inputs))]

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def is_chat(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], list)

    def pairs(self) -> list[tuple[Any, str]]:
        """(input, target) for every reference: what training learns."""
        return [(x, ref) for x, refs in zip(self.inputs, self.references or []) for ref in refs]

    def subset(self, indices: Sequence[int]) -> GenerationExamples:
        pick = list(indices)
        return replace(
            self,
            inputs=[self.inputs[i] for i in pick],
            references=None if self.references is None else [self.references[i] for i in pick],
            locations=[self.locations[i] for i in pick],
        )


def read_generation(
    source: Any, options: ReadOptions | None = None, target_column: str | None = None, need_targets: bool = True
) -> GenerationExamples:
    """Examples from a file, a HF dataset table, a DataFrame or rows; ``options.text_column`` names
    the input column and ``target_column`` (or ``options.label_column``) the target's."""
    options = options or ReadOptions()
    table = to_table(source, options.format, options.encoding, options.header)
    return generation_from_table(table, options.text_column, target_column or options.label_column, need_targets)


def generation_from_table(
    table: Table, input_column: str | None = None, target_column: str | None = None, need_targets: bool = True
) -> GenerationExamples:
    if not len(table):
        raise DataError("at least one row", found="no rows", fix="check the data", file=table.source)
    if input_column is None and MESSAGES in table.columns:
        return _from_messages(table, need_targets)
    input_key = _column(table, input_column, INPUT_KEYS, "the input", "data.text_column (--text-column)")
    target_key = None
    if need_targets or target_column is not None:
        target_key = _column(
            table, target_column, [k for k in TARGET_KEYS if k != input_key], "the target", "--target-column"
        )
    groups: dict[str, int] = {}
    out = GenerationExamples([], [] if target_key else None, source=table.source)
    out.columns = {"input": input_key, "target": target_key}
    for i, value in enumerate(table.data[input_key]):
        where = table.location(i)
        text = _text(value, input_key, where)
        if text not in groups:
            groups[text] = len(out.inputs)
            out.inputs.append(text)
            out.locations.append(where)
            if out.references is not None:
                out.references.append([])
        if target_key is not None and out.references is not None:
            out.references[groups[text]].extend(_targets(table.data[target_key][i], target_key, where))
    return out


def _from_messages(table: Table, need_targets: bool) -> GenerationExamples:
    references: list[list[str]] = []
    out = GenerationExamples([], references if need_targets else None, source=table.source)
    out.columns = {"input": MESSAGES, "target": None}
    for i, value in enumerate(table.data[MESSAGES]):
        where = table.location(i)
        messages = _messages(value, where)
        if need_targets:
            if messages[-1]["role"] != "assistant":
                raise DataError(
                    "a conversation ending with the assistant's reply (the text to learn)",
                    found=f"a last message from {messages[-1]['role']!r}",
                    fix="end each 'messages' list with {'role': 'assistant', 'content': ...}",
                    file=where,
                )
            *messages, reply = messages
            references.append([_text(reply["content"], "the assistant's content", where)])
        if not messages:
            raise DataError(
                "a message before the reply", found="the reply alone", fix="add the user's message", file=where
            )
        out.inputs.append(messages)
        out.locations.append(where)
    return out


def _messages(value: Any, where: str) -> Messages:
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError("a non-empty list of messages", found=repr(value)[:80], fix="fix the row", file=where)
    out = []
    for m in value:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataError(
                'messages as {"role": ..., "content": "..."}',
                found=repr(m)[:80],
                fix="fix the row",
                file=where,
            )
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _column(table: Table, named: str | None, keys: Sequence[str], what: str, flag: str) -> str:
    if named is not None:
        if named not in table.columns:
            raise DataError(
                f"a column '{named}' with {what}",
                found=f"columns {table.columns}",
                fix=f"name one of these with {flag}",
                file=table.source,
            )
        return named
    by_lower = {c.lower(): c for c in table.columns}
    found = next((by_lower[k] for k in keys if k in by_lower), None)
    if found is None:
        raise DataError(
            f"a column with {what} (one of {', '.join(keys[:8])}, ...)",
            found=f"columns {table.columns}",
            fix=f"name it with {flag}",
            file=table.source,
        )
    return found


def _text(value: Any, column: str, where: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        raise DataError(f"text in {column}", found="a missing value", fix="fill it in or drop the row", file=where)
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        raise DataError(f"text in {column}", found="an empty text", fix="fill it in or drop the row", file=where)
    return text


def _targets(value: Any, column: str, where: str) -> list[str]:
    """One target, or several where the cell holds a list (several references)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise DataError(f"a target in {column}", found="an empty list", fix="add a reference", file=where)
        return [_text(v, column, where) for v in value]
    return [_text(value, column, where)]


def read_options(options: ReadOptions | None, info: Any) -> tuple[ReadOptions, str | None]:
    """The reader options for a saved model's files: the training columns unless others are named."""
    options = options or ReadOptions()
    saved = info.columns or {}
    if options.text_column is None and saved.get("input") and saved["input"] != MESSAGES:
        options = replace(options, text_column=saved["input"])
    return options, options.label_column or saved.get("target")
