"""File rows of a QA model: a ``question`` and a ``context`` field in, the answer's fields out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headstart.data.rows import Chunk, RowProblem, text_field
from headstart.data.stream import Record
from headstart.tasks.common.rows import merge_fields


class QARows:
    stream_options: dict[str, Any] = {}

    def __call__(self, record: Record, source: str) -> Any:
        question = text_field(record.fields, "question")
        if not question.strip():
            raise RowProblem("an empty 'question'")
        return {"question": question, "context": text_field(record.fields, "context")}

    def chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        return chunks

    def predict(self, run: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]) -> list[Any]:
        return run.predict(chunk.inputs, batch_size=batch_size, **options)

    def merge(self, fields: dict[str, Any], value: Any, prediction: Any) -> dict[str, Any]:
        return merge_fields(fields, dict(prediction))
