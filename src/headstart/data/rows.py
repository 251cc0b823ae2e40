"""Rows of a streamed file on their way to a model: a chunk of them, and the problem of one row.

``inference.batch.predict_file`` reads the rows; each task's ``FileRows`` turns a row into a model
input (or raises ``RowProblem``, reported like an unreadable row) and a prediction back into a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headstart.data.stream import Record


class RowProblem(Exception):
    """This row cannot be turned into a model input (reported like an unreadable row)."""


@dataclass
class Chunk:
    records: list[Record]
    inputs: list[Any]
    documents: list[int | None]
    # Inputs fed for context only, never written (NER: neighbouring sentences of a document).
    before: list[tuple[Any, int | None]] = field(default_factory=list)
    after: list[tuple[Any, int | None]] = field(default_factory=list)


def text_field(fields: dict[str, Any], column: str) -> str:
    """The text in ``column`` of a row, or a RowProblem saying what is there instead."""
    if column not in fields:
        raise RowProblem(f"no '{column}' field")
    value = fields[column]
    if value is None or (isinstance(value, float) and value != value):
        raise RowProblem(f"a missing value in '{column}'")
    if isinstance(value, (dict, list, tuple, bytes)):
        raise RowProblem(f"a {type(value).__name__} in '{column}' where a text was expected")
    return value if isinstance(value, str) else str(value)
