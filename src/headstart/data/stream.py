"""Streaming readers: a file of any size as records, one at a time, bad rows reported, not fatal.

The batch readers (:mod:`headstart.data.readers`) read a whole file and stop at the first bad
line, which is right for training data. Bulk prediction needs the opposite: constant memory,
and a run over ten million rows must not die at row 9,000,001 because one line is not JSON. So
each reader here yields :class:`Record` (a row as a dict) or :class:`BadRecord` (where, and what
is wrong), and the caller decides whether a bad record skips or fails.

File-level problems (no such file, an unknown format, binary data where text was expected at the
top, a header with duplicate names) still raise :class:`DataError` at once: there is nothing to
skip to.

Example::

    for rec in stream_records("big.csv"):
        if isinstance(rec, BadRecord):
            print(rec.location, rec.message)
        else:
            rec.fields["text"]
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import json
import logging
import lzma
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from headstart.data.readers import _quotes_are_literal, detect_format, header_names, read_table
from headstart.errors import DataError

logger = logging.getLogger(__name__)

SNIFF_LINES = 2000  # lines read ahead to decide whether double quotes are CSV quoting or literal text
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass
class Record:
    """One readable row; ``document`` numbers CoNLL ``-DOCSTART-`` sections (context for NER)."""

    location: str
    line: int
    fields: dict[str, Any]
    document: int | None = None


@dataclass
class BadRecord:
    """A row that could not be read: where it is and why."""

    location: str
    line: int
    message: str


@dataclass
class Stream:
    """Records of one file plus how many of its bytes were read so far (for progress)."""

    path: Path
    kind: str  # csv | tsv | jsonl | json | parquet | conll
    records: Iterator[Record | BadRecord]
    size: int
    raw: IO[bytes] | None = None  # the file on disk (compressed bytes for an archive)

    @property
    def bytes_read(self) -> int:
        """How far into the file on disk the read has got (the whole file for parquet/json)."""
        if self.raw is None or self.raw.closed:
            return self.size
        return self.raw.tell()


def open_stream(
    path: str | Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    header: bool = True,
    conll: bool = False,
    token_column: int = 0,
) -> Stream:
    """Records of a csv, tsv, jsonl, json, parquet (or, with ``conll=True``, CoNLL) file.

    ``conll=True`` (a NER model's input) reads files whose extension is not a table format as
    CoNLL columns: one sentence per blank-line-separated block, ``{"tokens": [...]}`` per record.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("an existing input file", found=f"nothing at {path}", fix="check the path", file=path)
    if conll and format in (None, "conll"):
        try:
            kind = "conll" if format == "conll" else detect_format(path, None)
        except DataError:
            kind = "conll"
    else:
        kind = detect_format(path, format)
    size = path.stat().st_size
    if kind == "parquet":
        return Stream(path, kind, _parquet_records(path), size)
    if kind == "json":  # one JSON document cannot be streamed; read it whole
        table = read_table(path, "json", encoding, header)
        records = (
            Record(table.location(i), table.lines[i], {c: table.data[c][i] for c in table.columns})
            for i in range(len(table))
        )
        return Stream(path, kind, records, size)
    raw = path.open("rb")
    opener = _OPENERS.get(path.suffix.lower())
    binary: IO[bytes] = opener(raw) if opener else raw  # type: ignore[assignment]
    lines = _decoded_lines(binary, path, encoding)
    if kind in ("csv", "tsv"):
        records = _delimited_records(lines, "," if kind == "csv" else "\t", str(path), header)
    elif kind == "jsonl":
        records = _jsonl_records(lines, str(path))
    else:
        records = _conll_records(lines, str(path), token_column)
    return Stream(path, kind, _closing(records, binary, raw), size, raw)


def _closing(records: Iterator[Record | BadRecord], *handles: Any) -> Iterator[Record | BadRecord]:
    try:
        yield from records
    finally:
        for handle in handles:
            handle.close()


# -- bytes -> lines ----------------------------------------------------------------------------
@dataclass
class _Line:
    number: int
    text: str
    error: str | None = None  # why this line cannot be trusted (undecodable, binary)


def _decoded_lines(binary: IO[bytes], path: Path, encoding: str | None) -> Iterator[_Line]:
    """Physical lines (keeping their ``\\n``), decoded one at a time.

    UTF-16 (by BOM) is decoded as a stream; otherwise each line is UTF-8 — or the given encoding —
    and a line that is not becomes a bad line (with ``encoding`` unset, cp1252 is tried first, as
    the batch reader does for a whole file, with one warning).
    """
    try:
        head = binary.peek(4)[:4]  # type: ignore[attr-defined]
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError("a readable archive", found=str(exc), fix="re-create the archive", file=path) from None
    reader = binary
    if encoding is None and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = io.TextIOWrapper(reader, encoding="utf-16", newline="")
        n = 0
        try:
            for n, line in enumerate(text, start=1):
                yield _Line(n, line)
        except UnicodeDecodeError as exc:  # UTF-16 cannot resynchronise: the rest is unreadable
            yield _Line(n + 1, "", f"undecodable UTF-16 after line {n} ({exc.reason}); re-save the file as UTF-8")
        return
    if encoding is not None:
        try:
            "".encode(encoding)
        except LookupError:
            raise DataError("a known text encoding", found=repr(encoding), fix="use e.g. utf-8 or latin-1") from None
    warned = False
    n = 0
    try:
        for n, raw in enumerate(reader, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if b"\x00" in raw:
                yield _Line(n, "", "binary data (a NUL byte)")
                continue
            try:
                yield _Line(n, raw.decode(encoding or "utf-8"))
                continue
            except UnicodeDecodeError as exc:
                if encoding is not None:
                    yield _Line(n, "", f"byte {raw[exc.start]:#04x} that {encoding} cannot decode")
                    continue
            if not warned:
                logger.warning("%s:%d is not UTF-8; read such lines as cp1252. Set --encoding to override.", path, n)
                warned = True
            yield _Line(n, raw.decode("cp1252", errors="strict") if _is_cp1252(raw) else raw.decode("latin-1"))
    except (OSError, EOFError, lzma.LZMAError) as exc:  # a truncated or corrupt archive
        yield _Line(n + 1, "", f"an unreadable archive after line {n} ({exc})")


def _is_cp1252(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


# -- records -----------------------------------------------------------------------------------
def _delimited_records(
    lines: Iterator[_Line], delimiter: str, source: str, header: bool
) -> Iterator[Record | BadRecord]:
    csv.field_size_limit(2**31 - 1)
    head = list(itertools.islice(lines, SNIFF_LINES))
    sample = "".join(line.text for line in head)
    literal = '"' in sample and _quotes_are_literal(sample, delimiter)
    quoting = csv.QUOTE_NONE if literal else csv.QUOTE_MINIMAL
    bad: dict[int, str] = {}

    def texts() -> Iterator[str]:
        for line in itertools.chain(head, lines):
            if line.error is not None:
                bad[line.number] = line.error
            yield line.text if line.error is None else "\n"

    reader = csv.reader(texts(), delimiter=delimiter, quoting=quoting, strict=False)
    columns: list[str] | None = None
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield BadRecord(f"{source}:{start}", start, f"malformed delimited text ({exc})")
            start = reader.line_num + 1
            continue
        end, first = reader.line_num, start
        start = end + 1
        broken = [f"line {k}: {bad.pop(k)}" for k in range(first, end + 1) if k in bad]
        if broken:
            yield BadRecord(f"{source}:{first}", first, "; ".join(broken))
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        if columns is None:
            columns = _header(row, header, source, first)
            if header:
                continue
        if len(row) != len(columns):
            name = "comma" if delimiter == "," else "tab"
            yield BadRecord(
                f"{source}:{first}",
                first,
                f"{len(row)} fields where the header has {len(columns)} (quote fields that contain a {name})",
            )
            continue
        yield Record(f"{source}:{first}", first, dict(zip(columns, row)))
    if columns is None:
        raise DataError("a header row and data rows", found="an empty file", fix="check the file", file=source)


def _header(row: list[str], header: bool, source: str, line: int) -> list[str]:
    return header_names(row, source, line) if header else [f"column_{i + 1}" for i in range(len(row))]


def _jsonl_records(lines: Iterator[_Line], source: str) -> Iterator[Record | BadRecord]:
    for line in lines:
        where = f"{source}:{line.number}"
        if line.error is not None:
            yield BadRecord(where, line.number, line.error)
            continue
        if not line.text.strip():
            continue
        try:
            obj = json.loads(line.text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield BadRecord(where, line.number, f"invalid JSON ({exc.msg})")
            continue
        except RecursionError:
            yield BadRecord(where, line.number, "JSON nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield BadRecord(where, line.number, f"a JSON {type(obj).__name__} where an object was expected")
            continue
        yield Record(where, line.number, obj)


def _conll_records(lines: Iterator[_Line], source: str, token_column: int) -> Iterator[Record | BadRecord]:
    """Sentences as ``{"tokens": [...]}``; the token is column ``token_column``, other columns ignored."""
    words: list[str] = []
    first = 0
    problem: str | None = None
    document = 0
    seen_sentence = False

    def flush() -> Iterator[Record | BadRecord]:
        where = f"{source}:{first}"
        if problem is not None:
            yield BadRecord(where, first, problem)
        elif words:
            yield Record(where, first, {"tokens": list(words)}, document)

    for line in lines:
        fields = line.text.split() if line.error is None else ["\x00"]
        if not fields or fields[0] == "-DOCSTART-":
            yield from flush()
            seen_sentence = seen_sentence or bool(words) or problem is not None
            words, problem = [], None
            if fields and seen_sentence:
                document += 1
            continue
        if not words and problem is None:
            first = line.number
        if line.error is not None:
            problem = problem or f"line {line.number}: {line.error}"
        elif len(fields) <= token_column:
            problem = problem or f"line {line.number}: no column {token_column} in {line.text.strip()[:80]!r}"
        else:
            words.append(fields[token_column])
    yield from flush()


def _parquet_records(path: Path) -> Iterator[Record | BadRecord]:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            "a readable parquet file", found=f"{type(exc).__name__}: {exc}", fix="re-export the file", file=path
        ) from None
    n = 0
    try:
        for batch in handle.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                n += 1
                yield Record(f"{path} row {n}", n, {str(k): v for k, v in row.items()})
    except Exception as exc:  # a corrupt row group: the rest of the file cannot be reached
        yield BadRecord(f"{path} row {n + 1}", n + 1, f"an unreadable row group ({type(exc).__name__}: {exc})")
