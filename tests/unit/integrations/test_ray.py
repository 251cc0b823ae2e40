"""Batch prediction on a local 2-CPU Ray: the same output as ``headstart predict`` in one process,
one model load per actor, and clear errors (no extra, no cluster, a model the workers cannot load)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import time
from pathlib import Path

import pytest

from headstart import Predictor, train
from headstart.cli import main
from headstart.errors import ConfigError
from headstart.inference.onnx_export import export_onnx
from tests_support import SENTIMENT, ner_rows, qa_rows, tiny_run_config

ray = pytest.importorskip("ray")
from headstart.inference.batch import predict_file  # noqa: E402
from headstart.integrations.ray import CONNECT_SECONDS, connect, file_runner, predict_dataset  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "saved_v1"


@pytest.fixture(scope="module")
def local_ray():
    connect(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def qa_model(tiny_model_dir, tmp_path_factory):
    rows = qa_rows()
    task = {"type": "question-answering", "doc_stride": 8}
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("qa") / "out", task=task, num_train_epochs=3)
    return train(cfg, train=rows, validation=rows).output_dir


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "export"
    export_onnx(ASSETS / "text-classification", out)
    return out


def _text_file(path: Path) -> Path:
    lines = [json.dumps({"id": f"r{i}", "text": row["text"], "note": i}) for i, row in enumerate(SENTIMENT * 3)]
    lines.insert(5, '{"id": "broken", "text": ')  # reported with its line, in both runs
    lines.insert(9, json.dumps({"id": "empty"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _conll_file(path: Path) -> Path:
    blocks = ["-DOCSTART- O\n"]
    for row in ner_rows() * 2:
        blocks.append("".join(f"{w}\n" for w in row["tokens"]))
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def _qa_file(path: Path) -> Path:
    rows = [{"question": r["question"], "context": r["context"], "qid": i} for i, r in enumerate(qa_rows())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


CASES = {
    "text-classification": (lambda m: ASSETS / "text-classification", _text_file, "in.jsonl"),
    "ner-crf-conll": (lambda m: ASSETS / "token-classification-crf", _conll_file, "in.conll"),
    "question-answering": (lambda m: m("qa_model"), _qa_file, "in.jsonl"),
    "onnx-export": (lambda m: m("onnx_model"), _text_file, "in.jsonl"),
}
# The classifier runs by default; the other heads (about 10 s each, for their actors' start-up)
# under -m slow, to keep the default run inside its 15 minutes.
PARAMS = [pytest.param(c, marks=() if c == "text-classification" else pytest.mark.slow) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_ray_output_equals_the_single_process_output(case, local_ray, request, tmp_path, capsys):
    model_of, write, name = CASES[case]
    model = model_of(request.getfixturevalue)  # the QA model and the export are made only for their cases
    data = write(tmp_path / name)
    args = ["predict", str(model), "--input", str(data), "--chunk-size", "5"]
    assert main([*args, "--output", str(tmp_path / "one.jsonl")]) == 0
    capsys.readouterr()
    assert main([*args, "--output", str(tmp_path / "ray.jsonl"), "--ray", "--ray-actors", "2"]) == 0
    assert "predicted" in capsys.readouterr().err
    one, two = (tmp_path / "one.jsonl").read_text(), (tmp_path / "ray.jsonl").read_text()
    assert one.count("\n") > 10 and one == two  # every row, its own columns, file order
    errors = tmp_path / "one.jsonl.errors.jsonl"
    if errors.exists():
        assert (tmp_path / "ray.jsonl.errors.jsonl").read_text() == errors.read_text()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.slow
def test_a_ray_dataset_gets_its_predictions_beside_its_columns_in_order(local_ray):
    from ray.data import DataContext

    DataContext.get_current().execution_options.preserve_order = True
    rows = [{"id": i, "text": row["text"]} for i, row in enumerate(SENTIMENT * 4)]
    dataset = ray.data.from_items(rows, override_num_blocks=4)
    out = predict_dataset(dataset, ASSETS / "text-classification", rows_per_call=5, all_scores=True).take_all()
    expected = Predictor.load(ASSETS / "text-classification").predict([r["text"] for r in rows], all_scores=True)
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert [r["label"] for r in out] == [e["label"] for e in expected]
    assert all(r["scores"] == pytest.approx(e["scores"], abs=1e-5) for r, e in zip(out, expected))


@pytest.mark.slow
def test_the_file_streams_to_the_actors_a_few_chunks_ahead(local_ray, tmp_path):
    """The driver reads two chunks per actor ahead of the rows it writes, not the whole file: the
    first chunk's rows came back when 4 of the 12 chunks had been read. And Ray made two
    ChunkPredictor actors, so the model (loaded in the constructor) was loaded twice: Ray's own
    actor table counts them (its GCS, no dashboard needed)."""
    from ray._private.state import actors

    def made() -> int:
        return sum("ChunkPredictor" in a["ActorClassName"] for a in actors().values())

    before = made()
    model = ASSETS / "text-classification"
    ray_chunks = file_runner(model, actors=2)
    read_when: list[int] = []
    consumed = 0

    def counting(chunks, *rest):
        def counted():
            nonlocal consumed
            for chunk in chunks:
                consumed += 1
                yield chunk

        for rows in ray_chunks(counted(), *rest):
            read_when.append(consumed)
            yield rows

    data = _text_file(tmp_path / "in.jsonl")
    summary = predict_file(str(model), data, tmp_path / "o.jsonl", chunk_size=3, runner=counting)
    assert summary.predicted == 36 and read_when[0] == 4 and read_when[-1] == 12, read_when
    assert made() - before == 2


@pytest.mark.slow
def test_a_model_the_workers_cannot_load_is_a_clear_error(local_ray, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(ASSETS / "text-classification", broken)
    (broken / "model.safetensors").unlink()
    data = _text_file(tmp_path / "in.jsonl")
    started = time.monotonic()
    code = main(["predict", str(broken), "--input", str(data), "--output", str(tmp_path / "o.jsonl"), "--ray"])
    err = capsys.readouterr().err
    assert code == 2 and "Ray workers that load the model" in err and "model.safetensors" in err, err[-2000:]
    assert "storage every node reads" in err and time.monotonic() - started < 240
    assert not (tmp_path / "o.jsonl").exists() and not list(tmp_path.glob("*.partial"))


def test_the_actor_count_is_checked(local_ray, tmp_path, capsys):
    data = _text_file(tmp_path / "in.jsonl")
    args = ["predict", str(ASSETS / "text-classification"), "--input", str(data), "--output", str(tmp_path / "o.jsonl")]
    assert main([*args, "--ray", "--ray-actors", "0"]) == 2
    assert "at least 1 Ray actor" in capsys.readouterr().err
    assert main([*args, "--ray-actors", "2"]) == 2
    assert "--ray-actors with --ray" in capsys.readouterr().err
    assert not list(tmp_path.glob("o.jsonl*"))


def test_without_ray_installed_the_flag_names_the_extra(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    data = _text_file(tmp_path / "in.jsonl")
    code = main(["predict", str(ASSETS / "text-classification"), "--input", str(data), "--ray"])
    assert code == 2 and "pip install 'headstart[ray]'" in capsys.readouterr().err


def test_an_unreachable_address_fails_fast(tmp_path, capsys):
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    if ray.is_initialized():
        ray.shutdown()
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"a Ray head answering at 127.0.0.1:{port}"):
        connect(f"127.0.0.1:{port}")
    assert time.monotonic() - started < CONNECT_SECONDS + 5
    with pytest.raises(ConfigError, match="HOST:PORT"):
        connect("just-a-name")
    data = _text_file(tmp_path / "in.jsonl")
    assert (
        main(["predict", str(ASSETS / "text-classification"), "--ray", f"127.0.0.1:{port}", "--input", str(data)]) == 2
    )
    assert "ray status on the head" in capsys.readouterr().err
