"""File rows of the text tasks: the text (and pair) columns of each row in, the prediction's keys out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headstart.data.columns import ColumnSpec, detect_columns
from headstart.data.rows import Chunk, text_field
from headstart.data.stream import Record
from headstart.errors import DataError


class TextRows:
    """A classifier's input from a row: its text (and pair) columns, found from the first row."""

    stream_options: dict[str, Any] = {}

    def __init__(self, info: Any, text_column: str | None = None, text_pair_column: str | None = None) -> None:
        self.info = info
        self.is_pair = bool(info.settings.is_pair)
        self.named = (text_column, text_pair_column)
        self.spec: ColumnSpec | None = None

    def resolve(self, record: Record, source: str) -> ColumnSpec:
        columns = list(record.fields)
        saved = self.info.columns
        if (
            not any(self.named)
            and saved.get("text")
            and all(c is None or c in columns for c in (saved.get("text"), saved.get("text_pair")))
        ):
            spec = ColumnSpec(saved["text"], saved.get("text_pair"), None)
        else:
            spec = detect_columns(
                columns, text=self.named[0], text_pair=self.named[1], label=None, need_label=False, source=source
            )
        if bool(spec.text_pair) != self.is_pair:
            kind = "text pairs" if self.is_pair else "single texts"
            raise DataError(
                f"{kind}, as the model was trained on",
                found=f"columns {columns}",
                fix="name the text columns with --text-column/--text-pair-column",
                file=source,
            )
        return spec

    def __call__(self, record: Record, source: str) -> Any:
        if self.spec is None:
            self.spec = self.resolve(record, source)
        text = text_field(record.fields, self.spec.text)
        if self.spec.text_pair is None:
            return text
        return (text, text_field(record.fields, self.spec.text_pair))

    def chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        return chunks

    def predict(self, run: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]) -> list[Any]:
        return run.predict(chunk.inputs, batch_size=batch_size, **options)

    def merge(self, fields: dict[str, Any], value: Any, prediction: Any) -> dict[str, Any]:
        return merge_fields(fields, dict(prediction))


def merge_fields(fields: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The row's own fields, then the prediction's; an input field the prediction reuses (a gold
    ``label`` or ``tags`` column) is kept as ``input_<name>``."""
    row: dict[str, Any] = {}
    for key, value in fields.items():
        row[f"input_{key}" if key in new else key] = value
    row.update(new)
    return row
