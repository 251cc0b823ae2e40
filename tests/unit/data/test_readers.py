import bz2
import gzip
import json

import pandas as pd
import pytest

from headstart.data.readers import read_table
from headstart.data.stream import detect_format
from headstart.errors import DataError


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_csv_with_bom_crlf_and_quoted_fields(tmp_path):
    raw = '\ufefftext,label\r\n"he said ""hi"", then\tleft",pos\r\n"two\r\nlines",neg\r\n'.encode()
    t = read_table(write(tmp_path / "a.csv", raw))
    assert t.columns == ["text", "label"]
    assert t.data["text"] == ['he said "hi", then\tleft', "two\r\nlines"]
    assert t.location(1) == f"{tmp_path / 'a.csv'}:3"


def test_tsv_quoted_field_with_tab(tmp_path):
    t = read_table(write(tmp_path / "a.tsv", b'text\tlabel\n"a\tb"\t1\nplain\t0\n'))
    assert t.data["text"] == ["a\tb", "plain"]


def test_tsv_with_literal_quotes_like_glue_mrpc(tmp_path):
    raw = (
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        '1\t1\t2\t"The company," he said.\tHe said "the company".\n'
        '0\t3\t4\tNo quotes here\t"Quoted" start and end "word"\n'
    ).encode()
    t = read_table(write(tmp_path / "train.tsv", raw))
    assert t.data["#1 String"] == ['"The company," he said.', "No quotes here"]
    assert t.data["#2 String"][1] == '"Quoted" start and end "word"'


def test_latin1_file_is_detected(tmp_path, caplog):
    t = read_table(write(tmp_path / "a.csv", "text,label\ncafé crème,1\n".encode("latin-1")))
    assert t.data["text"] == ["café crème"]
    assert "not UTF-8" in caplog.text


def test_explicit_wrong_encoding_names_the_line(tmp_path):
    path = write(tmp_path / "a.csv", "text,label\nok,1\ncafé,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"a.csv:3: expected text in utf-8"):
        read_table(path, encoding="utf-8")


def test_utf16_by_bom(tmp_path):
    t = read_table(write(tmp_path / "a.csv", "text,label\nhé,1\n".encode("utf-16")))
    assert t.data["text"] == ["hé"] and t.location(0).endswith("a.csv:2")


def test_binary_junk_is_refused_with_line(tmp_path):
    with pytest.raises(DataError, match=r"b.csv:2: expected a text file; found binary data"):
        read_table(write(tmp_path / "b.csv", b"text,label\n\x00\x01\x02,1\n"))


def test_wrong_field_count_names_the_line(tmp_path):
    with pytest.raises(DataError, match=r"a.csv:3: expected 2 fields per row.*found 3 fields"):
        read_table(write(tmp_path / "a.csv", b"text,label\nfine,1\nnot, fine,0\n"))


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="found an empty file"):
        read_table(write(tmp_path / "a.csv", b"\n\n"))


def test_duplicate_header(tmp_path):
    with pytest.raises(DataError, match="duplicates"):
        read_table(write(tmp_path / "a.csv", b"text,text\na,b\n"))


def test_compressed_files(tmp_path):
    raw = b"text,label\nhello,1\n"
    assert read_table(write(tmp_path / "a.csv.gz", gzip.compress(raw))).data["text"] == ["hello"]
    assert read_table(write(tmp_path / "a.csv.bz2", bz2.compress(raw))).data["label"] == ["1"]
    with pytest.raises(DataError, match="valid .gz archive"):
        read_table(write(tmp_path / "b.csv.gz", raw))


def test_jsonl_and_bad_line(tmp_path):
    good = write(tmp_path / "a.jsonl", b'{"text": "a", "label": 1}\n\n{"text": "b", "label": 0, "x": 2}\n')
    t = read_table(good)
    assert t.columns == ["text", "label", "x"] and t.data["x"] == [None, 2] and t.lines == [1, 3]
    with pytest.raises(DataError, match=r"b.jsonl:2: expected one JSON object per line"):
        read_table(write(tmp_path / "b.jsonl", b'{"text": "a"}\n{"text": \n'))
    with pytest.raises(DataError, match=r"c.jsonl:1: expected one JSON object per line.*found a JSON list"):
        read_table(write(tmp_path / "c.jsonl", b"[1, 2]\n"))


@pytest.mark.parametrize(
    "obj",
    [[{"text": "a", "label": 1}], {"data": [{"text": "a", "label": 1}]}, {"text": ["a"], "label": [1]}],
)
def test_json_shapes(tmp_path, obj):
    t = read_table(write(tmp_path / "a.json", json.dumps(obj).encode()))
    assert t.data["text"] == ["a"] and t.location(0).endswith("record 1")


def test_parquet(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"text": ["a", None], "label": [1, 0]}).to_parquet(path)
    t = read_table(path)
    assert t.data["text"] == ["a", None] and t.location(1).endswith("row 2")


def test_format_detection_and_override(tmp_path):
    assert detect_format("x.TSV.gz") == "tsv"
    with pytest.raises(DataError, match="--format"):
        detect_format("x.txt")
    t = read_table(write(tmp_path / "x.txt", b"text\tlabel\na\t1\n"), format="tsv")
    assert t.data["label"] == ["1"]
    with pytest.raises(DataError, match="expected a format among"):
        detect_format("x.csv", "xlsx")


def test_missing_file():
    with pytest.raises(DataError, match="found nothing at"):
        read_table("/nonexistent/train.csv")


def test_headerless_file(tmp_path):
    t = read_table(write(tmp_path / "a.csv", b'"3","title","body text"\n"4","t2","b2"\n'), header=False)
    assert t.columns == ["column_1", "column_2", "column_3"] and t.data["column_1"] == ["3", "4"]
    assert t.location(1).endswith("a.csv:2")
