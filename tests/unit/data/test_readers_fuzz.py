"""Property-based checks: hostile bytes in any reader give a DataError (never another exception)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headstart.data import load_examples
from headstart.data.tokens import read_token_file
from headstart.errors import DataError

COUNT = {"inputs": 0}

fragments = st.sampled_from(
    [
        b"text",
        b"label",
        b",",
        b"\t",
        b'"',
        b'""',
        b"\n",
        b"\r\n",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"\x00",
        b"\xe9",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b'"text"',
        b'"label"',
        b'"tokens"',
        b'"tags"',
        b"B-PER",
        b"O",
        b"-DOCSTART-",
        b" ",
        b"1",
        b"null",
        b"\xc3\xa9",
        b"\x80",
    ]
)
hostile = st.one_of(st.binary(max_size=200), st.lists(fragments, max_size=40).map(b"".join))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile)
def test_table_readers_raise_only_data_errors(tmp_path, suffix, data):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    COUNT["inputs"] += 1
    try:
        ex = load_examples(path)
    except DataError as exc:
        assert str(exc).startswith(str(path)) or "expected" in str(exc)
    else:
        assert len(ex.texts) == len(ex.labels)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile)
def test_conll_reader_raises_only_data_errors(tmp_path, data):
    path = tmp_path / "f.conll"
    path.write_bytes(data)
    COUNT["inputs"] += 1
    try:
        ex = read_token_file(path)
    except DataError:
        pass
    else:
        assert all(len(w) == len(t) for w, t in zip(ex.words, ex.tags))


def test_report_the_number_of_generated_inputs():
    print(f"\nfuzzed readers with {COUNT['inputs']} generated inputs")
    assert COUNT["inputs"] in (0, 1250) or COUNT["inputs"] >= 1000
