"""ONNX export: parity with PyTorch at export time, and the same Predictor API on the export."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from headstart import Predictor, train
from headstart.cli import main
from headstart.errors import ConfigError, OutputExistsError
from headstart.inference.embeddings import Embedder
from headstart.inference.onnx_export import export_onnx
from headstart.inference.onnx_runtime import OnnxModel
from headstart.serving import ServeConfig, create_app
from tests_support import SENTIMENT, ner_rows, tiny_run_config

TEXTS = [r["text"] for r in SENTIMENT]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tiny_model_dir):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("onnx") / "clf")
    return train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx-out") / "fp32"
    return out, export_onnx(classifier, out)


def test_fp32_export_matches_pytorch_through_the_same_predictor(classifier, exported):
    out, report = exported
    assert report.parity["fp32_max_abs_diff"] <= 1e-4 and report.parity["probes"] == 8
    assert report.parity["fused_operators"]["Attention"] == 2, "one fused attention per layer"
    onnx = Predictor.load(out)
    assert isinstance(onnx.model, OnnxModel)
    torch_pred = Predictor.load(classifier)
    assert np.allclose(onnx.probabilities(TEXTS), torch_pred.probabilities(TEXTS), atol=1e-5)
    one_by_one = np.concatenate([onnx.probabilities([t], batch_size=1) for t in TEXTS])
    assert np.allclose(one_by_one, onnx.probabilities(TEXTS, batch_size=5), atol=1e-5), "batched == unbatched"
    vectors = Embedder.from_model(onnx.model, onnx.tokenizer).encode(TEXTS[:3])
    want = Embedder.from_model(torch_pred.model, torch_pred.tokenizer).encode(TEXTS[:3])
    assert np.allclose(vectors, want, atol=1e-5)
    info = json.loads((out / "headstart.json").read_text())
    assert info["runtime"] == "onnx" and info["onnx"]["file"] == "model.onnx" and (out / "metrics.json").is_file()


def test_int8_export_is_smaller_and_still_agrees(classifier, exported, tmp_path):
    report = export_onnx(classifier, tmp_path / "int8", quantize="int8")
    int8_bytes = (tmp_path / "int8" / "model_int8.onnx").stat().st_size
    assert int8_bytes < (exported[0] / "model.onnx").stat().st_size and not (tmp_path / "int8" / "model.onnx").exists()
    assert 0 < report.parity["int8_max_abs_diff"] and report.parity["int8_same_label"] >= 0.75
    preds = Predictor.load(tmp_path / "int8").predict(TEXTS)
    same = sum(a["label"] == b["label"] for a, b in zip(preds, Predictor.load(classifier).predict(TEXTS)))
    assert same >= 10


@pytest.mark.parametrize("crf", [False, True])
def test_ner_exports_keep_tags_and_the_crf_decodes_outside_the_graph(tmp_path_factory, tiny_model_dir, crf):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("onnx-ner") / "m", task={"type": "ner", "crf": crf})
    model = train(cfg, train=ner_rows(), validation=ner_rows()).output_dir
    out = tmp_path_factory.mktemp("onnx-ner-out") / "x"
    report = export_onnx(model, out)
    assert report.parity["fp32_max_abs_diff"] <= 1e-4 and (out / "crf.safetensors").is_file() == crf
    sentences = [r["tokens"] for r in ner_rows()[:12]]
    assert Predictor.load(out).predict_tags(sentences)[0] == Predictor.load(model).predict_tags(sentences)[0]
    text = "he said the company was great"
    got, want = Predictor.load(out).predict(text)[0], Predictor.load(model).predict(text)[0]
    assert [{**e, "score": round(e["score"], 4)} for e in got] == [{**e, "score": round(e["score"], 4)} for e in want]


def test_pair_model_exports_with_token_types(tmp_path_factory, tiny_model_dir):
    rows = [{"text": r["text"], "text_pair": r["text"], "label": r["label"]} for r in SENTIMENT]
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("onnx-pair") / "m", num_train_epochs=3)
    model = train(cfg, train=rows, validation=rows).output_dir
    out = tmp_path_factory.mktemp("onnx-pair-out") / "x"
    export_onnx(model, out)
    pairs = [(r["text"], r["text_pair"]) for r in rows]
    assert json.loads((out / "headstart.json").read_text())["onnx"]["inputs"][-1] == "token_type_ids"
    assert np.allclose(Predictor.load(out).probabilities(pairs), Predictor.load(model).probabilities(pairs), atol=1e-5)


def test_refusals_and_the_cli(classifier, exported, tmp_path, capsys):
    out, _ = exported
    with pytest.raises(OutputExistsError):
        export_onnx(classifier, out)
    with pytest.raises(ConfigError, match="already an ONNX export"):
        export_onnx(out, tmp_path / "again")
    with pytest.raises(ConfigError, match="int8 or omit"):
        export_onnx(classifier, tmp_path / "x", quantize="int4")
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".*partial"))
    assert main(["export", str(classifier), "--output", str(tmp_path / "cli")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["parity"]["fp32_max_abs_diff"] <= 1e-4 and printed["size_mb"] > 0


def test_the_server_serves_an_export(exported):
    with TestClient(create_app(exported[0], ServeConfig())) as client:
        body = client.post("/v1/predict", json={"inputs": ["great movie loved it"]}).json()
        assert body["predictions"][0]["label"] == "pos"
        assert client.post("/v1/embed", json={"inputs": ["hi"]}).json()["dim"] == 32
