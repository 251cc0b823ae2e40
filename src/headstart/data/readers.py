"""Readers: csv, tsv, jsonl, json, parquet and HF datasets into one :class:`Table`.

Real files are messy, so the delimited reader decodes bytes itself (UTF-8 with or without BOM,
UTF-16 by BOM, cp1252/latin-1 as a logged fallback), accepts CRLF, and decides per file whether
double quotes are CSV quoting or literal text: GLUE's MRPC has sentences that start with a quote
character that is not a quoted field, while exported spreadsheets quote fields that contain tabs.

Example::

    t = read_table("train.csv")
    t.columns, t.location(0)   # -> (['text', 'label'], 'train.csv:2')
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import logging
import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.errors import DataError

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSION = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
_QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"', re.DOTALL)


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
    def from_rows(cls, source: str, rows: list[dict[str, Any]], lines: list[int], line_kind: str) -> Table:
        columns: list[str] = []
        seen: set[str] = set()
        for row in rows:
            for key in row:
                if key not in seen:
                    seen.add(key)
                    columns.append(key)
        data = {c: [row.get(c) for row in rows] for c in columns}
        return cls(source, columns, data, lines, line_kind)


def detect_format(path: str | Path, format: str | None = None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise DataError(f"a format among {', '.join(FORMATS)}", found=repr(format), fix="fix --format")
        return format
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise DataError(
        f"a file ending in one of {', '.join(sorted(_EXTENSIONS))} (optionally .gz/.bz2/.xz)",
        found=f"'{Path(path).name}'",
        fix="name the format with --format csv|tsv|jsonl|json|parquet",
        file=path,
    )


def read_table(path: str | Path, format: str | None = None, encoding: str | None = None, header: bool = True) -> Table:
    """Read a labeled-data file into a Table; the format comes from the extension unless given.

    ``header=False`` (csv/tsv) names the columns ``column_1``, ``column_2``, ...
    """
    path = Path(path)
    fmt = detect_format(path, format)
    if not path.is_file():
        raise DataError("an existing data file", found=f"nothing at {path}", fix="check the path", file=path)
    if fmt == "parquet":
        return _read_parquet(path)
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in _COMPRESSION:
        try:
            raw = _COMPRESSION[suffix](raw)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise DataError(
                f"a valid {suffix} archive", found=str(exc), fix="re-create the archive", file=path
            ) from None
    text = decode(raw, path, encoding)
    if fmt in ("csv", "tsv"):
        return _read_delimited(text, "," if fmt == "csv" else "\t", str(path), header)
    if fmt == "jsonl":
        return _read_jsonl(text, str(path))
    return _read_json(text, str(path))


def decode(raw: bytes, path: str | Path, encoding: str | None = None) -> str:
    """Bytes to text: the given encoding, else UTF-8 (BOM stripped), UTF-16 by BOM, cp1252, latin-1."""
    if encoding is not None:
        try:
            text = raw.decode(encoding)
        except LookupError:
            raise DataError("a known text encoding", found=repr(encoding), fix="use e.g. utf-8 or latin-1") from None
        except UnicodeDecodeError as exc:
            raise DataError(
                f"text in {encoding}",
                found=f"byte {raw[exc.start]:#04x} that {encoding} cannot decode",
                fix="set the right --encoding (or leave it unset to detect UTF-8/latin-1)",
                file=path,
                line=raw.count(b"\n", 0, exc.start) + 1,
            ) from None
        return text.lstrip("\ufeff")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(
                "UTF-16 text (the file starts with a UTF-16 byte-order mark)",
                found=f"undecodable bytes at offset {exc.start} ({exc.reason})",
                fix="re-save the file as UTF-8, or set --encoding",
                file=path,
            ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    nul = raw.find(b"\x00")
    if nul != -1:
        raise DataError(
            "a text file",
            found="binary data (a NUL byte)",
            fix="export the data as UTF-8 text",
            file=path,
            line=raw.count(b"\n", 0, nul) + 1,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        for fallback in ("cp1252", "latin-1"):
            try:
                text = raw.decode(fallback)
            except UnicodeDecodeError:
                continue
            logger.warning(
                "%s is not UTF-8 (line %d); read it as %s. Set --encoding to override.", path, line, fallback
            )
            return text
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def _read_delimited(text: str, delimiter: str, source: str, has_header: bool = True) -> Table:
    csv.field_size_limit(2**31 - 1)
    rows, lines = _parse(text, delimiter, csv.QUOTE_MINIMAL, source)
    if '"' in text and _quotes_are_literal(text, delimiter):
        rows, lines = _parse(text, delimiter, csv.QUOTE_NONE, source)
    if not rows:
        raise DataError("a header row and data rows", found="an empty file", fix="check the file", file=source)
    if not has_header:  # a synthetic header row; data starts at the first line
        rows.insert(0, [f"column_{i + 1}" for i in range(len(rows[0]))])
        lines.insert(0, 0)
    header = header_names(rows[0], source, lines[0])
    width = len(header)
    for row, line in zip(rows[1:], lines[1:]):
        if len(row) != width:
            name = "comma" if delimiter == "," else "tab"
            raise DataError(
                f"{width} fields per row, as in the header {header}",
                found=f"{len(row)} fields",
                fix=f"quote fields that contain a {name} or a line break, or pick the right --format",
                file=source,
                line=line,
            )
    data = {h: [row[i] for row in rows[1:]] for i, h in enumerate(header)}
    return Table(source, header, data, lines[1:], "line")


def header_names(row: list[str], source: str, line: int) -> list[str]:
    """Column names from a header row: stripped, blanks named ``column_<i>``, duplicates refused."""
    header = [h.strip() or f"column_{i}" for i, h in enumerate(row)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(
            "unique column names in the header",
            found=f"duplicates {dupes}",
            fix="rename the columns",
            file=source,
            line=line,
        )
    return header


def _parse(text: str, delimiter: str, quoting: int, source: str) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    rows, lines = [], []
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(
            "well-formed delimited text", found=str(exc), fix="check quoting", file=source, line=start
        ) from None
    return rows, lines


def _quotes_are_literal(text: str, delimiter: str) -> bool:
    """True when some field starts with a quote but is not a well-formed quoted field.

    Then quotes are ordinary characters (as in GLUE's TSV files) — provided every physical line
    splits into the same number of fields, which quoting would otherwise be needed for.
    """
    widths = set()
    literal = False
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = line.split(delimiter)
        widths.add(len(cells))
        if len(widths) > 1:
            return False
        for cell in cells:
            if cell.startswith('"') and not _QUOTED_FIELD.fullmatch(cell):
                literal = True
    return literal


def _read_jsonl(text: str, source: str) -> Table:
    rows, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                "one JSON object per line",
                found=f"invalid JSON ({exc.msg})",
                fix="fix or remove the line",
                file=source,
                line=n,
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                'a JSON object per line, like {"text": ..., "label": ...}',
                found=f"a {type(obj).__name__}",
                fix="wrap the values in an object",
                file=source,
                line=n,
            )
        rows.append(obj)
        lines.append(n)
    if not rows:
        raise DataError("at least one JSON object", found="an empty file", fix="check the file", file=source)
    return Table.from_rows(source, rows, lines, "line")


def _read_json(text: str, source: str) -> Table:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            "valid JSON",
            found=exc.msg,
            fix="fix the file (or use .jsonl for one object per line)",
            file=source,
            line=exc.lineno,
        ) from None
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(r, dict) for r in lists[0]):
            obj = lists[0]  # {"data": [{...}, ...]}
        elif lists and len(lists) == len(obj) and len({len(v) for v in lists}) == 1:
            n = len(lists[0])
            return Table(source, list(obj), {k: list(v) for k, v in obj.items()}, list(range(1, n + 1)), "record")
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise DataError(
            "a JSON list of objects, an object with one such list, or an object of equal-length column lists",
            found=f"a {type(obj).__name__}",
            fix="reshape the file or use .jsonl",
            file=source,
        )
    return Table.from_rows(source, obj, list(range(1, len(obj) + 1)), "record")


def _read_parquet(path: Path) -> Table:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            "a readable parquet file", found=f"{type(exc).__name__}: {exc}", fix="re-export the file", file=path
        ) from None
    return table_from_frame(frame, str(path))


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


def _isna(value: Any) -> bool:
    return isinstance(value, float) and value != value
