"""Bulk prediction over a file of any size: streamed in chunks, constant memory, bad rows reported.

Every readable row is predicted and written with its own columns kept (an ``id`` column comes
back beside its label); a row that cannot be read — invalid JSON, a missing text, the wrong
number of fields, undecodable bytes — is reported with its line number and, with
``on_error="skip"`` (the default), the run goes on. The output is written to ``OUT.partial`` and
renamed when the run ends, so a file that looks complete is complete; an existing output is never
overwritten unless asked.

Example::

    summary = predict_file("model-dir", "reviews.csv", "scored.jsonl")
    summary.predicted, summary.skipped   # -> (99998, 2)
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headstart.data.options import READ_KEYS, ReadOptions
from headstart.data.rows import Chunk, RowProblem
from headstart.data.stream import BadRecord, Record, Stream, open_stream
from headstart.errors import ConfigError, DataError, OutputExistsError
from headstart.inference.predictor import Predictor, check_options
from headstart.tasks import get_task, read_model_info

logger = logging.getLogger(__name__)

ON_ERROR = ("skip", "fail")
OUTPUT_SUFFIXES = (".jsonl", ".json", ".csv")
SHOWN_ERRORS = 20  # bad rows logged one by one; all of them go to the errors file

# Predicts a file's chunks somewhere else (``integrations.ray``): the chunks in file order, how the
# file is read, the batch size and the prediction options in; each chunk's output rows, in order, out.
ChunkRunner = Callable[[Iterator[Chunk], ReadOptions, int, dict[str, Any]], Iterator[list[dict[str, Any]]]]


@dataclass
class BatchSummary:
    """What a :func:`predict_file` run did."""

    input: str
    output: str | None
    rows: int = 0  # records read, good and bad
    predicted: int = 0
    skipped: int = 0
    seconds: float = 0.0
    errors_file: str | None = None
    first_errors: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0


def predict_file(
    model: str | Path | Predictor,
    input: str | Path,
    output: str | Path | None = None,
    read: ReadOptions | None = None,
    *,
    on_error: str = "skip",
    chunk_size: int = 1000,
    batch_size: int = 32,
    all_scores: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    stdout: IO[str] | None = None,
    runner: ChunkRunner | None = None,
    **options: Any,
) -> BatchSummary:
    """Predict every row of ``input`` and write JSONL or CSV to ``output`` (stdout when ``None``).

    Args:
        model: A directory written by ``headstart train`` (or a loaded Predictor).
        input: A file of inputs (csv, tsv, jsonl, json, parquet; CoNLL for NER), streamed in chunks: any size.
        output: Where to write predictions (.jsonl or .csv) with each row's own columns; stdout when absent.
        read: How the file is read (``ReadOptions``); its keys may also be given as keywords.
        on_error: A row that cannot be read: skip reports its line (also in OUTPUT.errors.jsonl) and
            goes on; fail stops with a DataError naming the line and writes nothing.
        chunk_size: Rows read, predicted and written at a time, so memory does not grow with the file.
        batch_size: Inputs per forward pass.
        all_scores: Include every label's score.
        overwrite: Replace an existing output.
        progress: A progress bar on stderr (default: when stderr is a terminal).
        runner: Predicts the chunks elsewhere (``headstart.integrations.ray``) instead of in this
            process, which then reads and writes only (``model`` is then a directory, not loaded here).
        options: ``ReadOptions`` keys, and the task's own prediction options (``decode`` for a tagger).
    """
    if on_error not in ON_ERROR:
        raise ConfigError(f"--on-error among {', '.join(ON_ERROR)}", found=repr(on_error), fix="pick one")
    if chunk_size < 1:
        raise ConfigError("a --chunk-size of at least 1", found=str(chunk_size), fix="raise it")
    read = ReadOptions.of(read, {k: options.pop(k) for k in READ_KEYS if k in options})
    if runner is None:
        predictor = model if isinstance(model, Predictor) else Predictor.load(model)
        info, task = predictor.info, predictor.task
    else:
        info = model.info if isinstance(model, Predictor) else read_model_info(model)
        task = get_task(info.task)
    check_options(task, info, options)
    rows = task.file_rows(info, read)
    stream = open_stream(input, format=read.format, encoding=read.encoding, header=read.header, **rows.stream_options)
    summary = BatchSummary(str(input), None if output is None else str(output))
    writer = _Writer(output, overwrite, stdout or sys.stdout)
    errors = _ErrorLog(writer.errors_path, on_error, summary)
    started = time.perf_counter()
    bar = _progress_bar(stream, progress)
    chunks = rows.chunks(_chunks(stream, rows, errors, chunk_size, bar, summary))
    options = {"all_scores": all_scores, **options}
    if runner is None:
        runner = lambda chunks, _, size, opts: (predict_chunk(predictor, rows, c, size, opts) for c in chunks)  # noqa: E731
    try:
        for predicted in runner(chunks, read, batch_size, options):
            writer.write(predicted)
            summary.predicted += len(predicted)
            if bar is not None:
                bar.set_postfix(rows=summary.predicted, skipped=summary.skipped, refresh=False)
        writer.finish()
        errors.finish(overwrite)
    except BaseException:
        writer.abort()
        errors.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def predict_chunk(
    predictor: Predictor, rows: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """The output rows of one chunk: each input row's fields, then its prediction's."""
    preds = rows.predict(predictor, chunk, batch_size, options)
    return [rows.merge(rec.fields, x, pred) for rec, x, pred in zip(chunk.records, chunk.inputs, preds)]


# -- chunks ------------------------------------------------------------------------------------
def _chunks(
    stream: Stream, to_input: Any, errors: _ErrorLog, size: int, bar: Any, summary: BatchSummary
) -> Iterator[Chunk]:
    records: list[Record] = []
    inputs: list[Any] = []
    last = 0
    source = str(stream.path)
    for rec in stream.records:
        summary.rows += 1
        if isinstance(rec, BadRecord):
            errors.add(rec.location, rec.line, rec.message)
        else:
            try:
                value = to_input(rec, source)
            except RowProblem as exc:
                errors.add(rec.location, rec.line, str(exc))
            else:
                records.append(rec)
                inputs.append(value)
        if len(records) >= size:
            yield Chunk(records, inputs, [r.document for r in records])
            records, inputs = [], []
        if bar is not None and summary.rows % 256 == 0:
            now = stream.bytes_read
            bar.update(now - last)
            last = now
    if records:
        yield Chunk(records, inputs, [r.document for r in records])
    if bar is not None:
        bar.update(stream.size - last)


# -- output ------------------------------------------------------------------------------------
def write_records(
    records: list[dict[str, Any]], output: str | Path | None, *, overwrite: bool = False, stdout: IO[str] | None = None
) -> None:
    """Write prediction records as :func:`predict_file` does (JSONL/CSV, never over a file)."""
    writer = _Writer(output, overwrite, stdout or sys.stdout)
    try:
        writer.write(records)
        writer.finish()
    except BaseException:
        writer.abort()
        raise


class _Writer:
    """JSONL or CSV, to ``OUT.partial`` then renamed; or JSON lines on stdout."""

    def __init__(self, output: str | Path | None, overwrite: bool, stdout: IO[str]) -> None:
        self.path = None if output is None else Path(output)
        self.errors_path: Path | None = None
        self.csv: csv.DictWriter | None = None
        self.fields: list[str] | None = None
        self.dropped: set[str] = set()
        if self.path is None:
            self.handle = stdout
            self.tmp = None
            return
        suffix = self.path.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise ConfigError(
                "an --output ending in .jsonl or .csv", found=f"'{self.path.name}'", fix="rename the output"
            )
        self.errors_path = self.path.with_name(self.path.name + ".errors.jsonl")
        if not overwrite:
            for existing in (self.path, self.errors_path):
                if existing.exists():
                    raise OutputExistsError(
                        "an output file that does not exist yet",
                        found=f"{existing} already there",
                        fix="pick another --output, or pass --overwrite to replace it",
                    )
        if self.path.parent and not self.path.parent.is_dir():
            raise ConfigError(
                "an --output in an existing folder", found=f"no folder {self.path.parent}", fix="create it first"
            )
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.handle = self.tmp.open("w", encoding="utf-8", newline="")
        self.is_csv = suffix == ".csv"

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self.path is not None and self.is_csv:
            self._write_csv(rows)
        else:
            for row in rows:
                self.handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.handle.flush()

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        flat = [{k: _cell(v) for k, v in row.items()} for row in rows]
        if self.csv is None:
            self.fields = list(dict.fromkeys(k for row in flat for k in row))
            self.csv = csv.DictWriter(self.handle, fieldnames=self.fields, extrasaction="ignore")
            self.csv.writeheader()
        extra = {k for row in flat for k in row} - set(self.fields or []) - self.dropped
        if extra:  # a CSV header is written once; a later row's new fields have no column
            logger.warning(
                "fields %s first appear after the CSV header was written; use .jsonl to keep them", sorted(extra)
            )
            self.dropped |= extra
        self.csv.writerows(flat)

    def finish(self) -> None:
        if self.tmp is None or self.path is None:
            return
        if self.is_csv and self.csv is None:
            self.handle.write("\n")
        self.handle.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.tmp is not None:
            self.handle.close()
            self.tmp.unlink(missing_ok=True)


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else value


class _ErrorLog:
    """Bad rows: the first few logged, all of them written as JSONL next to the output."""

    def __init__(self, path: Path | None, on_error: str, summary: BatchSummary) -> None:
        self.path = path
        self.on_error = on_error
        self.summary = summary
        self.handle: IO[str] | None = None

    def add(self, location: str, line: int, message: str) -> None:
        if self.on_error == "fail":
            raise DataError(
                "a readable row",
                found=message,
                fix="fix the row, or pass --on-error skip to report such rows and go on",
                file=location,
            )
        self.summary.skipped += 1
        if len(self.summary.first_errors) < SHOWN_ERRORS:
            self.summary.first_errors.append(f"{location}: {message}")
            logger.warning("skipped %s: %s", location, message)
        if self.path is not None:
            if self.handle is None:
                self.handle = self._partial().open("w", encoding="utf-8")
            self.handle.write(json.dumps({"location": location, "line": line, "error": message}) + "\n")

    def _partial(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".partial")

    def finish(self, overwrite: bool) -> None:
        """Rename the errors file into place; with ``overwrite``, a stale one from before goes."""
        if self.path is None:
            return
        if self.handle is not None:
            self.handle.close()
            os.replace(self._partial(), self.path)
            self.summary.errors_file = str(self.path)
        elif overwrite:
            self.path.unlink(missing_ok=True)

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self._partial().unlink(missing_ok=True)


def _progress_bar(stream: Stream, progress: bool | None) -> Any:
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=stream.size, unit="B", unit_scale=True, desc=stream.path.name, file=sys.stderr)
