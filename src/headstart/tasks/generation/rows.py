"""File rows of a generation model: the input column in, ``generated_text`` out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headstart.data.rows import Chunk, RowProblem, text_field
from headstart.data.stream import Record
from headstart.tasks.common.rows import merge_fields
from headstart.tasks.generation.examples import MESSAGES


class GenerationRows:
    stream_options: dict[str, Any] = {}

    def __init__(self, column: str | None) -> None:
        self.column = column

    def __call__(self, record: Record, source: str) -> Any:
        if self.column is None and isinstance(record.fields.get(MESSAGES), list):
            return record.fields[MESSAGES]
        column = self.column or _first_text(record.fields)
        text = text_field(record.fields, column)
        if not text.strip():
            raise RowProblem(f"an empty '{column}'")
        return text

    def chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        return chunks

    def predict(self, run: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]) -> list[Any]:
        return run.predict(chunk.inputs, batch_size=batch_size, **options)

    def merge(self, fields: dict[str, Any], value: Any, prediction: Any) -> dict[str, Any]:
        return merge_fields(fields, dict(prediction))


def _first_text(fields: dict[str, Any]) -> str:
    from headstart.tasks.generation.examples import INPUT_KEYS

    lower = {k.lower(): k for k in fields}
    found = next((lower[k] for k in INPUT_KEYS if k in lower), None)
    if found is None:
        raise RowProblem(f"no input field (one of {', '.join(INPUT_KEYS[:6])}, ...; name it with --text-column)")
    return found
