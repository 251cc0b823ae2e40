"""Bulk prediction: streamed in chunks, bad rows reported with their lines, nothing overwritten."""

import gzip
import json
import tracemalloc

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from headstart import Predictor, train
from headstart.cli import main
from headstart.errors import DataError, OutputExistsError
from headstart.inference.batch import predict_file
from tests_support import FUZZ_COUNT as COUNT
from tests_support import SENTIMENT, hostile, tiny_run_config

TEXTS = [row["text"] for row in SENTIMENT]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_model_dir):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("batch") / "model", num_train_epochs=8)
    return train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir


@pytest.fixture(scope="module")
def predictor(model_dir):
    return Predictor.load(model_dir)


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_rows_are_reported_with_their_lines_and_the_rest_is_predicted(predictor, tmp_path):
    good = [f'{i},"{t}"' for i, t in enumerate(TEXTS[:4])]
    raw = (
        (
            "id,text\n"  # line 1
            + "\n".join(good[:2])  # lines 2-3
            + "\n7,too,many,fields\n"  # line 4
            + "8,caf\xe9 is lovely\n"  # line 5: valid UTF-8 too
            + "\n".join(good[2:])  # lines 6-7
            + "\n"
        ).encode("utf-8")
        + b"9,bin\x00ary\n"
        + b'10,"a quoted\nline break"\n'
    )  # lines 8, 9-10
    (tmp_path / "in.csv").write_bytes(raw)
    out = tmp_path / "out.jsonl"
    summary = predict_file(predictor, tmp_path / "in.csv", out)
    rows = _read_jsonl(out)
    assert [r["id"] for r in rows] == ["0", "1", "8", "2", "3", "10"], "input order, own columns kept"
    assert rows[-1]["text"] == "a quoted\nline break"
    alone = predictor.predict([TEXTS[0], TEXTS[1]])  # batched with other rows in the file: float rounding apart
    assert [r["label"] for r in rows[:2]] == [p["label"] for p in alone]
    assert [r["score"] for r in rows[:2]] == pytest.approx([p["score"] for p in alone], abs=1e-6)
    errors = _read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["line"], e["location"]) for e in errors] == [
        (4, f"{tmp_path / 'in.csv'}:4"),
        (8, f"{tmp_path / 'in.csv'}:8"),
    ]
    assert "4 fields where the header has 2" in errors[0]["error"] and "NUL" in errors[1]["error"]
    assert (summary.rows, summary.predicted, summary.skipped) == (8, 6, 2)
    assert summary.errors_file == str(tmp_path / "out.jsonl.errors.jsonl")


def test_fail_mode_names_the_line_and_leaves_no_output(predictor, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "fine"}\n{"text": "also fine"}\n{"text": oops}\n')
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError) as info:
        predict_file(predictor, tmp_path / "in.jsonl", out, on_error="fail", chunk_size=1)
    assert f"{tmp_path / 'in.jsonl'}:3" in str(info.value) and "invalid JSON" in str(info.value)
    assert "--on-error skip" in str(info.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "in.jsonl"], "no output, no .partial"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('["a list"]', "a JSON list where an object was expected"),
        ('{"review": "no text key"}', "no 'text' field"),
        ('{"text": null}', "a missing value in 'text'"),
        ('{"text": ["a", "list"]}', "a list in 'text' where a text was expected"),
        ('{"text": "unclosed', "invalid JSON (Unterminated string"),
    ],
)
def test_each_kind_of_unreadable_jsonl_row_is_skipped_with_a_reason(predictor, tmp_path, line, message):
    (tmp_path / "in.jsonl").write_text('{"text": "great fun", "id": 1}\n' + line + '\n{"text": 42, "id": 3}\n')
    out = tmp_path / "out.jsonl"
    summary = predict_file(predictor, tmp_path / "in.jsonl", out)
    assert [r["id"] for r in _read_jsonl(out)] == [1, 3] and _read_jsonl(out)[1]["text"] == 42
    assert len(summary.first_errors) == 1
    assert summary.first_errors[0].startswith(f"{tmp_path / 'in.jsonl'}:2: {message}")


def test_chunking_does_not_change_predictions(predictor, tmp_path):
    texts = [f"{TEXTS[i % len(TEXTS)]} {'so ' * (i % 7)}".strip() for i in range(50)]
    pd.DataFrame({"text": texts, "n": range(50)}).to_parquet(tmp_path / "in.parquet")
    for size in (1, 7, 1000):
        predict_file(predictor, tmp_path / "in.parquet", tmp_path / f"out{size}.csv", chunk_size=size, all_scores=True)
    frames = [pd.read_csv(tmp_path / f"out{size}.csv") for size in (1, 7, 1000)]
    for other in frames[1:]:  # batches pad differently per chunk size: equal up to float noise
        assert list(other["label"]) == list(frames[0]["label"]) and list(other["n"]) == list(frames[0]["n"])
        assert other["score"].to_numpy() == pytest.approx(frames[0]["score"].to_numpy(), abs=1e-5)
    whole = predictor.predict(texts, all_scores=True)
    assert list(frames[0]["label"]) == [p["label"] for p in whole] and list(frames[0]["n"]) == list(range(50))
    assert json.loads(frames[0]["scores"][0]) == pytest.approx(whole[0]["scores"], abs=1e-6)


def test_an_existing_output_is_never_overwritten(predictor, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "great fun"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    with pytest.raises(OutputExistsError) as info:
        predict_file(predictor, tmp_path / "in.jsonl", out)
    assert "--overwrite" in str(info.value) and out.read_text() == "precious\n"
    predict_file(predictor, tmp_path / "in.jsonl", out, overwrite=True)
    assert _read_jsonl(out)[0]["text"] == "great fun"


def test_compressed_tsv_and_pairs_of_columns_are_found(predictor, tmp_path):
    with gzip.open(tmp_path / "in.tsv.gz", "wt", encoding="utf-8") as fh:
        fh.write("sentence\tlabel\n" + "\n".join(f"{t}\tpos" for t in TEXTS) + "\n")
    out = tmp_path / "out.jsonl"
    predict_file(predictor, tmp_path / "in.tsv.gz", out, chunk_size=5)
    rows = _read_jsonl(out)
    assert [r["sentence"] for r in rows] == TEXTS, "the text column is detected, not assumed"
    assert {r["input_label"] for r in rows} == {"pos"}, "a gold label column is kept beside the prediction"
    assert [r["label"] for r in rows] == [p["label"] for p in predictor.predict(TEXTS)]


@pytest.mark.slow
def test_memory_does_not_grow_with_the_file(predictor, tmp_path):
    """Python-side peak memory for 16x the rows stays flat: rows are read, predicted and written a
    chunk at a time. Loading the 9,600-row file whole would hold > 3 MB of row strings at once."""
    peaks = {}
    for n in (600, 9600):
        path = tmp_path / f"in{n}.jsonl"
        with path.open("w") as fh:
            for i in range(n):
                fh.write(json.dumps({"text": TEXTS[i % len(TEXTS)] + " " + "x" * 300, "id": i}) + "\n")
        predict_file(predictor, path, tmp_path / f"warm{n}.jsonl", chunk_size=100, batch_size=50)
        tracemalloc.start()
        predict_file(predictor, path, tmp_path / f"out{n}.jsonl", chunk_size=100, batch_size=50)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(_read_jsonl(tmp_path / f"out{n}.jsonl")) == n
    assert peaks[9600] < peaks[600] + 1_000_000, peaks


def test_cli_streams_reports_and_shows_progress(model_dir, tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text('{"text": "great fun"}\nnot json\n{"text": "boring waste"}\n')
    out = tmp_path / "out.jsonl"
    args = ["predict", str(model_dir), "--input", str(tmp_path / "in.jsonl"), "--output", str(out)]
    assert main([*args, "--progress", "--chunk-size", "1"]) == 0
    err = capsys.readouterr().err
    assert "predicted 2 rows" in err and "skipped 1 unreadable" in err and "out.jsonl.errors.jsonl" in err
    assert "rows=2" in err, "the progress bar counts rows"
    assert main(args) == 2 and "already there" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--on-error", "fail"]) == 2
    assert f"{tmp_path / 'in.jsonl'}:2" in capsys.readouterr().err
    assert len(_read_jsonl(out)) == 2, "a failed run leaves the earlier output as it was"


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".csv.gz"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile)
def test_streaming_hostile_files_skips_or_raises_data_errors_only(predictor, tmp_path, suffix, data):
    """Whatever the bytes: every row is predicted or reported, and only a file-level problem raises."""
    path = tmp_path / f"f{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    out = tmp_path / "out.jsonl"
    COUNT["inputs"] += 1
    try:
        summary = predict_file(predictor, path, out, overwrite=True)
    except DataError as exc:
        assert str(exc).startswith(str(path)) or "expected" in str(exc)
        assert not out.with_name("out.jsonl.partial").exists()
    else:
        assert summary.rows >= summary.predicted + summary.skipped - 1  # a csv header is no row
        assert len(out.read_text(encoding="utf-8").splitlines()) == summary.predicted


def test_prediction_batches_respect_the_token_budget():
    from headstart.tasks.common.batching import batches as _batches

    lengths = [500, 400, 300, 100, 60, 50, 10, 10, 10]
    order = list(range(len(lengths)))  # longest first, as the predictor sorts them
    got = [list(b) for b in _batches(order, lengths, 4, 1000)]
    assert got == [[0, 1], [2, 3, 4], [5, 6, 7, 8]]
    assert [list(b) for b in _batches(order, lengths, 4, None)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert [list(b) for b in _batches([0], [5000], 4, 1000)] == [[0]], "an input longer than the budget still runs"
