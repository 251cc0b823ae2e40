"""Property-based checks: hostile input to any reader or CLI flag gives a typed error, never a crash.

Readers (csv, tsv, jsonl, json, parquet; CoNLL and NER JSONL) get hostile bytes and hostile
tables; the CLI's train flags get hostile argument lists. The total is printed at the end.
"""

import argparse
import contextlib
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headstart.cli import build_parser, config_from_args
from headstart.data import load_examples
from headstart.data.tokens import read_token_file
from headstart.errors import ConfigError, DataError
from tests_support import FUZZ_COUNT as COUNT  # printed in the run summary by conftest
from tests_support import hostile


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
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


@pytest.mark.parametrize("suffix", [".conll", ".jsonl"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile)
def test_token_readers_raise_only_data_errors(tmp_path, suffix, data):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    COUNT["inputs"] += 1
    try:
        ex = read_token_file(path)
    except DataError:
        pass
    else:
        assert all(len(w) == len(t) for w, t in zip(ex.words, ex.tags))


cells = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(min_size=5000, max_size=6000, alphabet="ab \n"),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["", " ", "\t", "pos", "neg", "1", "0", "\x00", "é"]),
)
column_names = st.sampled_from(["text", "label", "sentence", "sentence1", "sentence2", "", " ", "Text", "x", "0"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(column_names, min_size=1, max_size=4), rows=st.integers(0, 6), data=st.data())
def test_parquet_tables_raise_only_data_errors(tmp_path, names, rows, data):
    """Real parquet files with wrong, duplicate or missing columns and mixed, empty or huge cells."""
    columns = {}
    for i, name in enumerate(names):
        values = data.draw(st.lists(cells, min_size=rows, max_size=rows))
        columns[f"{name}" if name not in columns else f"{name}.{i}"] = values
    frame = pd.DataFrame(columns)
    path = tmp_path / "f.parquet"
    try:
        frame.to_parquet(path)
    except Exception:  # pyarrow refuses some mixed-type columns: not a file a user could have
        frame.astype(str).to_parquet(path)
    COUNT["inputs"] += 1
    try:
        ex = load_examples(path)
    except DataError as exc:
        assert "expected" in str(exc)
    else:
        assert len(ex.texts) == len(ex.labels) and all(isinstance(t, str) for t in ex.texts)


FLAGS = sorted(
    {
        option
        for action in build_parser()._subparsers._group_actions[0].choices["train"]._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }
)
flag_values = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(["", "-1", "0", "1e400", "nan", "true", "maybe", "x.y=z", "train.seed=abc", "model.=1"]),
    st.sampled_from(["train.bogus=1", "=", "task.type=ner", "train.learning_rate=-5", "\x00", "é" * 50]),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(argv=st.lists(flag_values, max_size=8))
def test_cli_train_flags_give_usage_or_config_errors(argv):
    """Hostile train flags are parsed and validated (nothing is trained): a usage error (exit 2)
    or a ConfigError, or a valid config — never another exception."""
    COUNT["inputs"] += 1
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            args = build_parser().parse_args(["train", *argv])
        except SystemExit as exc:
            assert exc.code == 2
            return
    assert isinstance(args, argparse.Namespace)
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        assert "expected" in str(exc)
    else:
        # what validation lets through is usable: positive rates and sizes, a known task
        assert cfg.train.learning_rate > 0 and cfg.train.per_device_train_batch_size > 0
        assert cfg.task.type in ("text-classification", "token-classification")


def test_report_the_number_of_generated_inputs():
    print(f"\nfuzzed readers and CLI flags with {COUNT['inputs']} generated inputs")
    assert COUNT["inputs"] == 0 or COUNT["inputs"] >= 2000
