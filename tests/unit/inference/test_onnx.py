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


def _matmul_types(path):
    import onnx

    return [n.op_type for n in onnx.load(str(path)).graph.node if n.op_type in ("MatMul", "MatMulInteger")]


def test_int8_targets_keep_the_matmuls_after_gelu_in_fp32_only_for_cpus_without_vnni(classifier, tmp_path, capsys):
    avx2 = export_onnx(classifier, tmp_path / "avx2", quantize="int8", int8_target="avx2")
    kept = avx2.int8["fp32_matmuls"]
    assert avx2.int8["target"] == "avx2" and avx2.int8["per_channel"]
    assert len(kept) == 2 and all("output/dense" in name for name in kept), "one per layer: the FFN's second matmul"
    assert _matmul_types(tmp_path / "avx2" / "model_int8.onnx").count("MatMul") == 2
    vnni = export_onnx(classifier, tmp_path / "vnni", quantize="int8", int8_target="vnni")
    assert vnni.int8["fp32_matmuls"] == [] and "MatMul" not in _matmul_types(tmp_path / "vnni" / "model_int8.onnx")
    info = json.loads((tmp_path / "avx2" / "headstart.json").read_text())["onnx"]
    assert info["int8"] == {"target": "avx2", "requested": "avx2", "per_channel": True, "fp32_matmuls": kept}
    size = {t: (tmp_path / t / "model_int8.onnx").stat().st_size for t in ("avx2", "vnni")}
    assert size["avx2"] > size["vnni"], "fp32 weights for the kept matmuls"
    want = Predictor.load(classifier).probabilities(TEXTS)
    for target in ("avx2", "vnni"):
        assert np.abs(Predictor.load(tmp_path / target).probabilities(TEXTS) - want).max() < 0.1
    from headstart.acceleration.hardware import int8_saturates

    auto = export_onnx(classifier, tmp_path / "auto", quantize="int8")
    assert auto.int8["requested"] == "auto" and auto.int8["target"] == ("avx2" if int8_saturates() else "vnni")
    cli = ["export", str(classifier), "-o", str(tmp_path / "cli"), "--quantize", "int8", "--int8-target", "avx2"]
    assert main(cli) == 0
    assert json.loads(capsys.readouterr().out)["int8"]["fp32_matmuls"] == kept
    with pytest.raises(ConfigError, match="int8-target among"):
        export_onnx(classifier, tmp_path / "bad", quantize="int8", int8_target="avx512")


def test_a_vnni_graph_on_a_cpu_without_vnni_warns(classifier, tmp_path, monkeypatch, caplog):
    import headstart.acceleration.hardware

    export_onnx(classifier, tmp_path / "vnni", quantize="int8", int8_target="vnni")
    export_onnx(classifier, tmp_path / "avx2", quantize="int8", int8_target="avx2")
    monkeypatch.setattr(headstart.acceleration.hardware, "int8_saturates", lambda: True)
    with caplog.at_level("WARNING", logger="headstart.inference.onnx_runtime"):
        Predictor.load(tmp_path / "avx2")
        assert not caplog.records
        Predictor.load(tmp_path / "vnni")
    assert len(caplog.records) == 1 and "--int8-target avx2" in caplog.records[0].getMessage()
    monkeypatch.setattr(headstart.acceleration.hardware, "int8_saturates", lambda: False)
    caplog.clear()
    Predictor.load(tmp_path / "vnni")
    assert not caplog.records


def test_the_gelu_fed_matmuls_are_found_in_an_unfused_graph_too():
    from onnx import helper

    from headstart.inference.onnx_export import _gelu_fed_matmuls

    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="up"),
        helper.make_node("Div", ["h", "sqrt2"], ["d"], name="div"),
        helper.make_node("Erf", ["d"], ["e"], name="erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="add"),
        helper.make_node("Mul", ["h", "a"], ["m"], name="mul"),
        helper.make_node("Mul", ["m", "half"], ["g"], name="half"),
        helper.make_node("MatMul", ["g", "w2"], ["y"], name="down"),
        helper.make_node("Softmax", ["y"], ["p"], name="softmax"),
        helper.make_node("MatMul", ["p", "v"], ["z"], name="context"),
    ]
    graph = helper.make_graph(nodes, "ffn", [], [])
    assert _gelu_fed_matmuls(helper.make_model(graph)) == ["down"]


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


@pytest.mark.parametrize("merge", [pytest.param(True, marks=pytest.mark.slow), False])
def test_a_lora_directory_exports_merged_with_parity(merge, tiny_model_dir, tmp_path):
    """LoRA runs export the merged model, whether the directory holds it or the adapters alone."""
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "lora")
    cfg["model"].update(lora=True, merge=merge)
    source = train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir
    report = export_onnx(source, tmp_path / "onnx")
    assert report.parity["fp32_max_abs_diff"] <= 1e-4
    onnx = Predictor.load(tmp_path / "onnx")
    assert np.allclose(onnx.probabilities(TEXTS), Predictor.load(source).probabilities(TEXTS), atol=1e-5)
    assert "adapters" not in json.loads((tmp_path / "onnx" / "headstart.json").read_text())
