"""Whole-file tables: a data file, a DataFrame or a HF dataset split as one :class:`Table`.

Files are read by :mod:`headstart.data.stream` (the one reader per format) and collected here.

Example::

    t = read_table("train.csv")
    t.columns, t.location(0)   # -> (['text', 'label'], 'train.csv:2')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.data.stream import BadRecord, open_stream
from headstart.errors import DataError

logger = logging.getLogger(__name__)


@dataclass
class Table:
    """Rows of named columns, each row remembering where it came from (for error messages)."""

    source: str
    columns: list[str]
    data: dict[str, list[Any]]
    lines: list[int] = field(default_factory=list)
    line_kind: str = "line"  # "line" for text files, "row" for parquet/in-memory, "record" for json

    def __len__(self) -> int:
        return len(self.lines)

    def location(self, i: int) -> str:
        """Where row ``i`` came from: ``file:line`` for text files, ``file row N`` otherwise."""
        if self.line_kind == "line":
            return f"{self.source}:{self.lines[i]}"
        return f"{self.source} {self.line_kind} {self.lines[i]}"

    @classmethod
    def from_rows(
        cls, source: str, rows: list[dict[str, Any]], lines: list[int], line_kind: str, columns: list[str] | None = None
    ) -> Table:
        """Rows as dicts; the columns are ``columns`` (a header), then any other key in first-seen order."""
        columns = list(columns or [])
        seen: set[str] = set(columns)
        for row in rows:
            for key in row:
                if key not in seen:
                    seen.add(key)
                    columns.append(key)
        data = {c: [row.get(c) for row in rows] for c in columns}
        return cls(source, columns, data, lines, line_kind)


def read_table(path: str | Path, format: str | None = None, encoding: str | None = None, header: bool = True) -> Table:
    """Read a labeled-data file into a Table; the format comes from the extension unless given.

    The rows are collected from :func:`~headstart.data.stream.open_stream`, the one reader per
    format, and the first unreadable row stops the read with its line. ``header=False``
    (csv/tsv) names the columns ``column_1``, ``column_2``, ...
    """
    stream = open_stream(path, format=format, encoding=encoding, header=header, sniff_lines=None)
    source = str(stream.path)
    rows, lines = [], []
    try:
        for record in stream.records:
            if isinstance(record, BadRecord):
                raise record.error(source, stream.line_kind)
            rows.append(record.fields)
            lines.append(record.line)
    finally:
        stream.close()
    if not rows and stream.kind == "jsonl":
        raise DataError("at least one JSON object", found="an empty file", fix="check the file", file=source)
    return Table.from_rows(source, rows, lines, stream.line_kind, stream.columns)


def table_from_frame(frame: Any, source: str) -> Table:
    """A pandas DataFrame as a Table (rows numbered from 1)."""
    columns = [str(c) for c in frame.columns]
    data = {str(c): [None if _isna(v) else v for v in frame[c].tolist()] for c in frame.columns}
    return Table(source, columns, data, list(range(1, len(frame) + 1)), "row")


def read_hf_dataset(name: str, config_name: str | None, split: str) -> Table:
    """One split of a HF dataset via ``datasets.load_dataset``; ClassLabel ints become names."""
    import datasets

    try:
        ds = datasets.load_dataset(name, config_name, split=split)
    except Exception as exc:  # network, missing config and missing split errors have many types
        raise DataError(
            f"the HF dataset '{name}'" + (f" ({config_name})" if config_name else "") + f" split '{split}'",
            found=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            fix="check the name/config/split, or without hub access export it to a local file and pass --train",
        ) from None
    data = ds.to_dict()
    for col, feature in ds.features.items():
        if isinstance(feature, datasets.ClassLabel):
            data[col] = [feature.int2str(v) if v is not None and v >= 0 else None for v in data[col]]
    source = f"{name}/{config_name or ''}:{split}"
    return Table(source, list(data), data, list(range(1, len(ds) + 1)), "row")


def hf_split_table(data: Any, split: str | None) -> Table | None:
    """``split`` of the HF dataset the config's ``data`` section names; None where it names none,
    or where a split other than the training one is missing (a held-out split stands in for it)."""
    if not data.dataset_name or not split:
        return None
    try:
        return read_hf_dataset(data.dataset_name, data.dataset_config_name, split)
    except DataError:
        if split == data.train_split_name:
            raise
        logger.warning("HF dataset %s has no split '%s'", data.dataset_name, split)
        return None


def _isna(value: Any) -> bool:
    return isinstance(value, float) and value != value
