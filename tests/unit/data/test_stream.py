"""The one reader per format: streamed records and collected tables come from the same code."""

import json

import pandas as pd
import pytest

from headstart.data.readers import read_table
from headstart.data.stream import SNIFF_LINES, BadRecord, CoNLL, Record, open_stream
from headstart.data.tokens import read_token_file
from headstart.errors import DataError


def streamed(path, **kw):
    stream = open_stream(path, **kw)
    return [r for r in stream.records], stream


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_every_format_streams_the_rows_that_read_table_collects(tmp_path, suffix):
    frame = pd.DataFrame({"text": ['a, "b"', "c\td", "é"], "label": ["x", "y", "x"]})
    path = tmp_path / f"f{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".json":
        path.write_text(json.dumps(frame.to_dict(orient="records")))
    else:
        frame.to_parquet(path)
    records, stream = streamed(path)
    table = read_table(path)
    assert all(isinstance(r, Record) for r in records)
    assert [r.fields for r in records] == [dict(zip(table.columns, row)) for row in zip(*table.data.values())]
    assert [r.location for r in records] == [table.location(i) for i in range(len(table))]
    assert table.data["text"] == ['a, "b"', "c\td", "é"] and stream.line_kind == table.line_kind


def test_collected_tables_sniff_quoting_over_the_whole_file(tmp_path):
    """A literal quote first seen after the streaming look-ahead still reads as text when collected."""
    lines = ["text\tlabel"] + [f"row {i}\t0" for i in range(SNIFF_LINES + 10)] + ['"quoted" start\t1', "end\t0"]
    path = tmp_path / "late.tsv"
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path)
    assert table.data["text"][-2:] == ['"quoted" start', "end"] and len(table) == SNIFF_LINES + 12


def test_a_header_only_file_is_an_empty_table_with_its_columns(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("text,label\n")
    table = read_table(path)
    assert table.columns == ["text", "label"] and len(table) == 0


def test_parquet_leaves_out_the_pandas_index_and_reads_nan_as_missing(tmp_path):
    path = tmp_path / "i.parquet"
    pd.DataFrame({"text": ["a", "b"], "score": [1.5, float("nan")]}, index=["r1", "r2"]).to_parquet(path)
    table = read_table(path)
    assert table.columns == ["text", "score"] and table.data["score"] == [1.5, None]


def test_a_bad_row_is_skipped_when_streamed_and_stops_a_collected_read_with_the_same_reason(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,1\nnot, fine,0\nalso fine,0\n")
    records, _ = streamed(path)
    bad = [r for r in records if isinstance(r, BadRecord)]
    assert [r.line for r in records if isinstance(r, Record)] == [2, 4] and [r.line for r in bad] == [3]
    assert bad[0].message.startswith("3 fields where the header has 2; quote fields that contain a comma")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert (info.value.line, info.value.found, info.value.fix) == (3, bad[0].found, bad[0].fix)
    assert info.value.expected == "2 fields per row, as in the header ['text', 'label']"


def test_conll_records_carry_tags_and_documents_for_the_token_reader(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("-DOCSTART- O\n\nAnn B-PER\nsings O\n\n-DOCSTART- O\n\nBob B-PER\n")
    records, _ = streamed(path, format="conll", conll=CoNLL(tag_column=-1))
    assert [(r.fields, r.document, r.line) for r in records] == [
        ({"tokens": ["Ann", "sings"], "tags": ["B-PER", "O"]}, 0, 3),
        ({"tokens": ["Bob"], "tags": ["B-PER"]}, 1, 8),
    ]
    examples = read_token_file(path)
    assert examples.words == [["Ann", "sings"], ["Bob"]] and examples.documents == [0, 1]
    only_tokens, _ = streamed(path, format="conll", conll=CoNLL())
    assert [r.fields for r in only_tokens] == [{"tokens": ["Ann", "sings"]}, {"tokens": ["Bob"]}]


def test_an_undecodable_line_names_its_line_in_every_format(tmp_path):
    for name, raw in [
        ("a.csv", b"text,label\nok,1\ncaf\xe9,1\n"),
        ("a.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
    ]:
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(DataError, match=rf"{name}:\d: expected text in utf-8; found byte 0xe9"):
            read_table(path, encoding="utf-8")
    path = tmp_path / "a.conll"
    path.write_bytes(b"Ann B-PER\ncaf\xe9 O\n")
    with pytest.raises(DataError, match=r"a.conll:2: expected text in utf-8"):
        read_token_file(path, encoding="utf-8")
