"""The one reader per format: a file of any size as records, one at a time, bad rows reported.

csv, tsv, jsonl, json, parquet and CoNLL files are read here and nowhere else. Each reader
yields :class:`Record` (a row as a dict) or :class:`BadRecord` (where, what is wrong and what to
do), and the caller decides: bulk prediction skips a bad record and reads on in constant memory,
while training data is collected whole (:func:`headstart.data.readers.read_table`,
:func:`headstart.data.tokens.read_token_file`) and stops at the first bad record with its line.

Real files are messy, so bytes are decoded here (UTF-8 with or without BOM, UTF-16 by BOM,
cp1252/latin-1 as a logged fallback), CRLF is accepted, and each delimited file is sniffed for
whether double quotes are CSV quoting or literal text: GLUE's MRPC has sentences that start
with a quote character that is not a quoted field, while exported spreadsheets quote fields
that contain tabs.

File-level problems (no such file, an unknown format, an unreadable archive or parquet file, a
header with duplicate names) raise :class:`DataError` at once: there is nothing to skip to.

Example::

    for rec in open_stream("big.csv").records:
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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headstart.data.tags import split_tag
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
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"', re.DOTALL)
SNIFF_LINES = 2000  # lines read ahead to decide whether double quotes are CSV quoting or literal text
_LINE_KIND = {"parquet": "row", "json": "record"}  # how a record's position is named; "line" otherwise


@dataclass
class Record:
    """One readable row; ``document`` numbers CoNLL ``-DOCSTART-`` sections (context for NER)."""

    location: str
    line: int
    fields: dict[str, Any]
    document: int | None = None


@dataclass
class BadRecord:
    """A row that could not be read: where it is, what was found, what was expected and what to do."""

    location: str
    line: int
    found: str
    expected: str = "a readable row"
    fix: str | None = None

    @property
    def message(self) -> str:
        """One line for a log of skipped rows."""
        return self.found + (f"; {self.fix}" if self.fix else "")

    def error(self, source: str, line_kind: str) -> DataError:
        """The error that stops a whole-file read at this record."""
        line = self.line if line_kind == "line" else None
        file = source if line is not None else self.location
        return DataError(self.expected, found=self.found, fix=self.fix, file=file, line=line)


@dataclass
class Stream:
    """Records of one file plus how many of its bytes were read so far (for progress)."""

    path: Path
    kind: str  # csv | tsv | jsonl | json | parquet | conll
    records: Iterator[Record | BadRecord]
    size: int
    raw: IO[bytes] | None = None  # the file on disk (compressed bytes for an archive)
    columns: list[str] = field(default_factory=list)  # csv/tsv header or parquet schema, once read

    @property
    def bytes_read(self) -> int:
        """How far into the file on disk the read has got (the whole file for parquet/json)."""
        if self.raw is None or self.raw.closed:
            return self.size
        return self.raw.tell()

    @property
    def line_kind(self) -> str:
        """What a record's number counts: ``line`` in text files, ``row`` in parquet, ``record`` in json."""
        return _LINE_KIND.get(self.kind, "line")

    def close(self) -> None:
        close = getattr(self.records, "close", None)
        if close is not None:
            close()


def detect_format(path: str | Path, format: str | None = None) -> str:
    """The table format named by ``format``, else by the file's extension (under .gz/.bz2/.xz)."""
    if format is not None:
        if format not in FORMATS:
            raise DataError(f"a format among {', '.join(FORMATS)}", found=repr(format), fix="fix --format")
        return format
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _OPENERS:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise DataError(
        f"a file ending in one of {', '.join(sorted(_EXTENSIONS))} (optionally .gz/.bz2/.xz)",
        found=f"'{Path(path).name}'",
        fix="name the format with --format csv|tsv|jsonl|json|parquet",
        file=path,
    )


@dataclass(frozen=True)
class CoNLL:
    """The column layout of a CoNLL file: which column holds the token and which the tag.

    ``tag_column=None`` reads tokens only (text to tag); ``require_tags=False`` lets a file with
    tags also have lines of a token alone (the caller decides whether a mix is allowed).
    """

    token_column: int = 0
    tag_column: int | None = None
    require_tags: bool = True


def open_stream(
    path: str | Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    header: bool = True,
    conll: CoNLL | None = None,
    sniff_lines: int | None = SNIFF_LINES,
) -> Stream:
    """Records of a csv, tsv, jsonl, json, parquet (or, with ``conll``, CoNLL) file.

    With ``conll`` set (a NER model's data), ``format="conll"`` or an extension that is not a
    table format reads CoNLL columns: one sentence per blank-line-separated block, as
    ``{"tokens": [...]}`` (plus ``"tags"`` when the layout has a tag column). ``sniff_lines=None``
    decides the quoting of a delimited file from all of it rather than its first lines.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("an existing data file", found=f"nothing at {path}", fix="check the path", file=path)
    kind = _kind(path, format, conll is not None)
    size = path.stat().st_size
    if kind == "parquet":
        stream = Stream(path, kind, iter(()), size)
        stream.records = _parquet_records(path, stream.columns)
        return stream
    raw = path.open("rb")
    opener = _OPENERS.get(path.suffix.lower())
    binary: IO[bytes] = opener(raw) if opener else raw  # type: ignore[assignment]
    try:
        lines = _decoded_lines(binary, path, encoding)
        stream = Stream(path, kind, iter(()), size, raw)
        if kind in ("csv", "tsv"):
            delimiter = "," if kind == "csv" else "\t"
            records = _delimited_records(lines, delimiter, str(path), header, sniff_lines, stream.columns)
        elif kind == "jsonl":
            records = _jsonl_records(lines, str(path))
        elif kind == "json":  # one JSON document cannot be streamed: it is parsed whole
            records = _json_records(lines, str(path))
        else:
            records = _conll_records(lines, str(path), conll or CoNLL())
    except BaseException:
        binary.close()
        raw.close()
        raise
    stream.records = _closing(records, binary, raw)
    return stream


def _kind(path: Path, format: str | None, conll: bool) -> str:
    if not conll or format not in (None, "conll"):
        return detect_format(path, format)
    if format == "conll":
        return "conll"
    try:
        return detect_format(path, None)
    except DataError:
        return "conll"


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
    error: tuple[str, str, str] | None = None  # why this line cannot be trusted: (expected, found, fix)


def _decoded_lines(binary: IO[bytes], path: Path, encoding: str | None) -> Iterator[_Line]:
    """Physical lines (keeping their ``\\n``), decoded one at a time.

    UTF-16 (by BOM) is decoded as a stream; otherwise each line is UTF-8 — or the given encoding —
    and a line that is not becomes a bad line (with ``encoding`` unset, such a line is read as
    cp1252, or latin-1 where cp1252 has no character, with one warning per file).
    """
    try:
        head = binary.peek(4)[:4]  # type: ignore[attr-defined]
    except (OSError, EOFError, lzma.LZMAError) as exc:
        suffix = path.suffix.lower()
        raise DataError(f"a valid {suffix} archive", found=str(exc), fix="re-create the archive", file=path) from None
    if encoding is not None:
        try:
            "".encode(encoding)
        except LookupError:
            raise DataError("a known text encoding", found=repr(encoding), fix="use e.g. utf-8 or latin-1") from None
    if encoding is None and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _utf16_lines(binary)
    return _byte_lines(binary, path, encoding)


def _utf16_lines(binary: IO[bytes]) -> Iterator[_Line]:
    text = io.TextIOWrapper(binary, encoding="utf-16", newline="")
    n = 0
    try:
        for n, line in enumerate(text, start=1):
            yield _Line(n, line)
    except UnicodeDecodeError as exc:  # UTF-16 cannot resynchronise: the rest is unreadable
        found = f"undecodable UTF-16 after line {n} ({exc.reason})"
        yield _Line(n + 1, "", ("UTF-16 text (the file starts with a UTF-16 byte-order mark)", found, _RESAVE))


_RESAVE = "re-save the file as UTF-8, or set --encoding"


def _byte_lines(binary: IO[bytes], path: Path, encoding: str | None) -> Iterator[_Line]:
    warned = False
    n = 0
    try:
        for n, raw in enumerate(binary, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if b"\x00" in raw:
                yield _Line(n, "", ("a text file", "binary data (a NUL byte)", "export the data as UTF-8 text"))
                continue
            try:
                yield _Line(n, raw.decode(encoding or "utf-8"))
                continue
            except UnicodeDecodeError as exc:
                if encoding is not None:
                    found = f"byte {raw[exc.start]:#04x} that {encoding} cannot decode"
                    fix = "set the right --encoding (or leave it unset to detect UTF-8/latin-1)"
                    yield _Line(n, "", (f"text in {encoding}", found, fix))
                    continue
            if not warned:
                logger.warning("%s:%d is not UTF-8; read such lines as cp1252. Set --encoding to override.", path, n)
                warned = True
            yield _Line(n, raw.decode("cp1252") if _is_cp1252(raw) else raw.decode("latin-1"))
    except (OSError, EOFError, lzma.LZMAError) as exc:  # a truncated or corrupt archive
        found = f"an unreadable archive after line {n} ({exc})"
        yield _Line(n + 1, "", ("a readable archive", found, "re-create the archive"))


def _is_cp1252(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _bad_line(line: _Line, source: str) -> BadRecord:
    expected, found, fix = line.error or ("a readable line", "an unreadable line", "check the file")
    return BadRecord(f"{source}:{line.number}", line.number, found, expected, fix)


# -- delimited ---------------------------------------------------------------------------------
def _delimited_records(
    lines: Iterator[_Line], delimiter: str, source: str, header: bool, sniff_lines: int | None, columns: list[str]
) -> Iterator[Record | BadRecord]:
    """Rows of a csv/tsv file as dicts keyed by the header (filled into ``columns`` once read)."""
    csv.field_size_limit(2**31 - 1)
    head = list(lines if sniff_lines is None else itertools.islice(lines, sniff_lines))
    sample = "".join(line.text for line in head)
    literal = '"' in sample and quotes_are_literal(sample, delimiter)
    quoting = csv.QUOTE_NONE if literal else csv.QUOTE_MINIMAL
    bad: dict[int, _Line] = {}

    def texts() -> Iterator[str]:
        for line in itertools.chain(head, lines):
            if line.error is not None:
                bad[line.number] = line
            yield line.text if line.error is None else "\n"

    reader = csv.reader(texts(), delimiter=delimiter, quoting=quoting, strict=False)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield BadRecord(f"{source}:{start}", start, str(exc), "well-formed delimited text", "check the quoting")
            start = reader.line_num + 1
            continue
        end, first = reader.line_num, start
        start = end + 1
        broken = [bad.pop(k) for k in range(first, end + 1) if k in bad]
        if broken:
            yield _bad_row(broken, source)
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        if not columns:
            columns.extend(header_names(row, source, first) if header else [f"column_{i + 1}" for i in range(len(row))])
            if header:
                continue
        if len(row) != len(columns):
            name = "comma" if delimiter == "," else "tab"
            yield BadRecord(
                f"{source}:{first}",
                first,
                f"{len(row)} fields where the header has {len(columns)}",
                f"{len(columns)} fields per row, as in the header {columns}",
                f"quote fields that contain a {name} or a line break, or pick the right --format",
            )
            continue
        yield Record(f"{source}:{first}", first, dict(zip(columns, row)))
    if not columns:
        raise DataError("a header row and data rows", found="an empty file", fix="check the file", file=source)


def _bad_row(broken: list[_Line], source: str) -> BadRecord:
    """A row spanning lines that could not be read: the first problem leads, the others are listed."""
    first = _bad_line(broken[0], source)
    if len(broken) > 1:
        first.found = "; ".join(f"line {line.number}: {line.error[1]}" for line in broken if line.error)
    return first


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


def quotes_are_literal(text: str, delimiter: str) -> bool:
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


# -- JSON --------------------------------------------------------------------------------------
_OBJECT = "one JSON object per line"


def _jsonl_records(lines: Iterator[_Line], source: str) -> Iterator[Record | BadRecord]:
    for line in lines:
        where = f"{source}:{line.number}"
        if line.error is not None:
            yield _bad_line(line, source)
            continue
        if not line.text.strip():
            continue
        try:
            obj = json.loads(line.text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield BadRecord(where, line.number, f"invalid JSON ({exc.msg})", _OBJECT, "fix or remove the line")
            continue
        except RecursionError:
            yield BadRecord(where, line.number, "JSON nested too deeply", _OBJECT, "fix or remove the line")
            continue
        if not isinstance(obj, dict):
            found = f"a JSON {type(obj).__name__} where an object was expected"
            yield BadRecord(where, line.number, found, _OBJECT, "wrap the values in an object")
            continue
        yield Record(where, line.number, obj)


def _json_records(lines: Iterator[_Line], source: str) -> Iterator[Record | BadRecord]:
    """The rows of one JSON document: a list of objects, ``{"data": [...]}``, or columns of lists."""
    parts = []
    for line in lines:
        if line.error is not None:
            expected, found, fix = line.error
            raise DataError(expected, found=found, fix=fix, file=source, line=line.number)
        parts.append(line.text)
    try:
        obj = json.loads("".join(parts))
    except json.JSONDecodeError as exc:
        fix = "fix the file (or use .jsonl for one object per line)"
        raise DataError("valid JSON", found=exc.msg, fix=fix, file=source, line=exc.lineno) from None
    except RecursionError:
        raise DataError("valid JSON", found="JSON nested too deeply", fix="flatten the file", file=source) from None
    for i, row in enumerate(_json_rows(obj, source), start=1):
        yield Record(f"{source} record {i}", i, row)


def _json_rows(obj: Any, source: str) -> list[dict[str, Any]]:
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(r, dict) for r in lists[0]):
            obj = lists[0]  # {"data": [{...}, ...]}
        elif lists and len(lists) == len(obj) and len({len(v) for v in lists}) == 1:
            return [dict(zip(obj, values)) for values in zip(*obj.values())]  # {"text": [...], "label": [...]}
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise DataError(
            "a JSON list of objects, an object with one such list, or an object of equal-length column lists",
            found=f"a {type(obj).__name__}",
            fix="reshape the file or use .jsonl",
            file=source,
        )
    return obj


# -- CoNLL -------------------------------------------------------------------------------------
def _conll_records(lines: Iterator[_Line], source: str, layout: CoNLL) -> Iterator[Record | BadRecord]:
    """Sentences as ``{"tokens": [...]}`` (and ``"tags"`` with a tag column); other columns ignored.

    A file without ``-DOCSTART-`` lines is one document: its sentences are neighbours.
    """
    words: list[str] = []
    tags: list[str] = []
    first = 0
    problem: BadRecord | None = None
    document = 0
    seen_sentence = False

    def flush() -> Iterator[Record | BadRecord]:
        if problem is not None:
            yield problem
        elif words:
            fields: dict[str, Any] = {"tokens": list(words)}
            if layout.tag_column is not None:
                fields["tags"] = list(tags)
            yield Record(f"{source}:{first}", first, fields, document)

    for line in lines:
        fields = line.text.split() if line.error is None else ["\x00"]
        if not fields or fields[0] == "-DOCSTART-":
            yield from flush()
            seen_sentence = seen_sentence or bool(words) or problem is not None
            words, tags, problem = [], [], None
            if fields and seen_sentence:
                document += 1
            continue
        if not words and problem is None:
            first = line.number
        if problem is not None:
            continue
        if line.error is not None:
            problem = _bad_line(line, source)
            continue
        token = _conll_token(fields, line, source, layout)
        if isinstance(token, BadRecord):
            problem = token
            continue
        words.append(token[0])
        tags.append(token[1])
    yield from flush()


def _conll_token(fields: list[str], line: _Line, source: str, layout: CoNLL) -> tuple[str, str] | BadRecord:
    """The token and tag of one line ("" for no tag), or why the line does not fit the layout."""
    text = line.text.strip()[:80]

    def bad(expected: str, found: str, fix: str) -> BadRecord:
        return BadRecord(f"{source}:{line.number}", line.number, found, expected, fix)

    if layout.tag_column is None:
        if len(fields) <= layout.token_column:
            return bad(f"a token in column {layout.token_column}", f"{len(fields)} column(s): {text!r}", _LAYOUT)
        return fields[layout.token_column], ""
    if len(fields) == 1 and not layout.require_tags:  # a token alone, to predict
        return fields[0], ""
    try:
        word, tag = fields[layout.token_column], fields[layout.tag_column]
    except IndexError:
        return bad(
            f"a token (column {layout.token_column}) and a tag (column {layout.tag_column})"
            " separated by spaces or tabs",
            f"{len(fields)} column(s): {text!r}",
            _LAYOUT,
        )
    if len(fields) < 2:
        fix = "add the tag, or a blank line between sentences"
        return bad("a token and its tag on each non-blank line", f"only {text!r}", fix)
    if not looks_like_tag(tag):
        return bad(
            "a tag like O, B-PER, I-LOC, E-ORG or S-MISC in the tag column",
            repr(tag),
            "set data.tag_column to the column that holds the tags",
        )
    return word, tag


_LAYOUT = "fix the line, or set data.token_column / data.tag_column"


def looks_like_tag(tag: str) -> bool:
    """Whether a CoNLL cell reads as an entity tag (O, B-PER, I-LOC, E-ORG, S-MISC, or a bare type)."""
    prefix, etype = split_tag(tag)
    return prefix == "O" or (bool(etype) and (tag[:2] in ("B-", "I-", "E-", "S-", "L-", "U-") or "-" not in tag))


# -- parquet -----------------------------------------------------------------------------------
def _parquet_records(path: Path, columns: list[str]) -> Iterator[Record | BadRecord]:
    """Rows of a parquet file in batches (its pandas index columns left out, NaN read as missing)."""
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        names = handle.schema_arrow.names
        index = (handle.schema_arrow.pandas_metadata or {}).get("index_columns", [])
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            "a readable parquet file", found=f"{type(exc).__name__}: {exc}", fix="re-export the file", file=path
        ) from None
    keep = [name for name in names if name not in index]
    columns.extend(keep)
    return _parquet_rows(handle, path, keep)


def _parquet_rows(handle: Any, path: Path, keep: list[str]) -> Iterator[Record | BadRecord]:
    n = 0
    try:
        for batch in handle.iter_batches(batch_size=1024, columns=keep):
            for row in batch.to_pylist():
                n += 1
                fields = {str(k): None if isinstance(v, float) and v != v else v for k, v in row.items()}
                yield Record(f"{path} row {n}", n, fields)
    except Exception as exc:  # a corrupt row group: the rest of the file cannot be reached
        found = f"an unreadable row group ({type(exc).__name__}: {exc})"
        yield BadRecord(f"{path} row {n + 1}", n + 1, found, "a readable parquet file", "re-export the file")
