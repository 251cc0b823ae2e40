"""`headstart serve` as a real uvicorn process on a loopback port: API, limits, batching, shutdown."""

import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from headstart import Predictor, train
from headstart.inference.embeddings import Embedder
from headstart.serving import ServeConfig, create_app
from server_support import KEY, Server
from tests_support import SENTIMENT, ner_rows, tiny_run_config


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_model_dir):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("serve") / "model")
    return train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir


@pytest.fixture(scope="module")
def server(model_dir):
    srv = Server(model_dir, "--api-key", KEY, "--max-texts", "8", "--max-chars", "400", "--max-body-bytes", "3000")
    yield srv
    srv.stop()


def test_predict_matches_the_predictor_and_logs_one_line(server, model_dir):
    texts = [r["text"] for r in SENTIMENT[:5]]
    status, _, body = server.json("/v1/predict", {"inputs": texts, "all_scores": True})
    assert status == 200 and body["task"] == "text-classification"
    expected = Predictor.load(model_dir).predict(texts, all_scores=True)
    assert [p["label"] for p in body["predictions"]] == [p["label"] for p in expected]
    for got, want in zip(body["predictions"], expected):
        assert got["score"] == pytest.approx(want["score"], abs=1e-5)
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)
    status, _, body = server.json("/v1/predict", {"inputs": "great fun"})
    assert status == 200 and set(body["predictions"][0]) == {"label", "score"}
    time.sleep(0.2)
    assert any(re.search(r"POST /v1/predict 200 5 texts [\d.]+ ms", line) for line in server.lines)


def test_embed_model_health_docs_and_page(server, model_dir):
    status, _, body = server.json("/v1/embed", {"inputs": ["great fun", "boring"], "normalize": True})
    predictor = Predictor.load(model_dir)
    want = Embedder.from_model(predictor.model, predictor.tokenizer, max_length=32).encode(
        ["great fun", "boring"], normalize=True
    )
    assert status == 200 and body["dim"] == want.shape[1]
    assert np.allclose(np.array(body["embeddings"]), want, atol=1e-5)
    status, _, facts = server.json("/v1/model")
    assert status == 200 and facts["labels"] == ["neg", "pos"] and facts["limits"]["max_texts"] == 8
    assert facts["versions"]["serving"]["headstart"] and facts["metrics"]["validation"]["accuracy"] == 1.0
    status, _, health = server.json("/healthz", key=None)
    assert status == 200 and health["requires_key"] is True
    status, _, spec = server.json("/openapi.json", key=None)
    assert status == 200 and {"/v1/predict", "/v1/embed", "/v1/model", "/healthz"} <= set(spec["paths"])
    status, headers, page = server.call("/", key=None)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/v1/predict" in page and not re.search(rb"""(src|href)=["'](https?:)?//""", page), "no external assets"


@pytest.mark.parametrize(
    ("kwargs", "code", "kind", "says"),
    [
        ({"key": None}, 401, "unauthorized", "found none"),
        ({"key": "wrong"}, 401, "unauthorized", "found a wrong key"),
        ({"body": {"inputs": ["a"] * 9}}, 413, "too_many_texts", "at most 8 texts; found 9"),
        (
            {"body": {"inputs": ["a" * 300, "b" * 200]}},
            413,
            "too_much_text",
            "at most 400 characters in all; found 500",
        ),
        ({"raw": b'{"inputs": ["' + b"a" * 4000 + b'"]}'}, 413, "body_too_large", "at most 3000 bytes"),
        ({"raw": b"not json"}, 422, "invalid_request", "found invalid JSON"),
        ({"body": {"inputs": [3]}}, 422, "invalid_request", 'expected "inputs": a text'),
        ({"body": {"inputs": [["a", "b"]]}}, 422, "invalid_request", "this model takes plain texts"),
        ({"body": {"text": "hi"}}, 422, "invalid_request", "see /docs"),
    ],
)
def test_errors_are_json_with_a_status_a_type_and_a_fix(server, kwargs, code, kind, says):
    kwargs = {"body": {"inputs": ["fine"]}, **kwargs}
    status, headers, body = server.json("/v1/predict", **kwargs)
    assert status == code and body["error"]["code"] == code and body["error"]["type"] == kind
    assert says in body["error"]["message"], body
    if code == 401:
        assert headers["www-authenticate"] == "Bearer"


def test_concurrent_requests_are_micro_batched(server):
    _, _, before = server.json("/healthz")
    texts = [r["text"] for r in SENTIMENT]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: server.json("/v1/predict", {"inputs": [texts[i % 12]]}), range(96)))
    assert all(status == 200 for status, _, _ in results)
    labels = {texts[i % 12]: body["predictions"][0]["label"] for i, (_, _, body) in enumerate(results)}
    assert len(labels) == 12
    _, _, after = server.json("/healthz")
    assert after["batches"] - before["batches"] < 96, "requests that arrived together shared forward passes"


def test_a_full_queue_answers_503_with_retry_after_and_shutdown_is_graceful(model_dir):
    # The first request waits 1.5 s for company before running: the queue (4 texts) is full then.
    srv = Server(model_dir, "--max-queue", "4", "--max-texts", "4", "--max-batch", "64", "--batch-wait-ms", "1500")
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(srv.json, "/v1/predict", {"inputs": ["great fun"] * 4})
            time.sleep(0.5)
            status, headers, body = srv.json("/v1/predict", {"inputs": ["one more"]})
            assert status == 503 and headers["retry-after"] == "1" and body["error"]["type"] == "overloaded"
            assert first.result()[0] == 200, "the queued request was not hurt by the overload"
            # SIGTERM while a request is waiting: it is answered, then the process exits cleanly
            late = pool.submit(srv.json, "/v1/predict", {"inputs": ["boring waste"]})
            time.sleep(0.5)
            code = srv.stop()
            assert late.result()[0] == 200
        # uvicorn re-raises the signal once drained, so the exit status says "ended by SIGTERM"
        assert code in (0, -signal.SIGTERM)
        assert any("Finished server process" in line for line in srv.lines)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()


@pytest.mark.slow
def test_a_busy_port_is_a_clear_error(server, model_dir):
    port = server.url.rsplit(":", 1)[1]
    proc = subprocess.run(
        [sys.executable, "-m", "headstart", "serve", str(model_dir), "--port", port],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and f"127.0.0.1:{port}" in proc.stderr and "pick another --port" in proc.stderr


def test_ner_model_serves_entities(tmp_path_factory, tiny_model_dir):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("serve-ner") / "m", task={"type": "ner"})
    model = train(cfg, train=ner_rows(), validation=ner_rows()).output_dir
    with TestClient(create_app(model, ServeConfig())) as client:
        response = client.post("/v1/predict", json={"inputs": ["he said the company was great"]})
        entities = response.json()["predictions"][0]
        assert response.status_code == 200 and [e["word"] for e in entities] == ["he", "company"]
        assert entities == Predictor.load(model).predict(["he said the company was great"])[0]
        assert client.post("/v1/embed", json={"inputs": "he"}).json()["dim"] == 32


def test_pair_model_takes_lists_and_objects(tmp_path_factory, tiny_model_dir):
    rows = [{"text": r["text"], "text_pair": r["text"], "label": r["label"]} for r in SENTIMENT]
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("serve-pair") / "m", num_train_epochs=3)
    model = train(cfg, train=rows, validation=rows).output_dir
    pairs = [(r["text"], r["text_pair"]) for r in rows[:3]]
    want = [p["label"] for p in Predictor.load(model).predict(pairs)]
    with TestClient(create_app(model, ServeConfig())) as client:
        as_lists = client.post("/v1/predict", json={"inputs": [list(p) for p in pairs]}).json()
        as_objects = client.post("/v1/predict", json={"inputs": [{"text": a, "text_pair": b} for a, b in pairs]}).json()
        assert [p["label"] for p in as_lists["predictions"]] == want == [p["label"] for p in as_objects["predictions"]]
        single = client.post("/v1/predict", json={"inputs": ["just one text"]})
        assert single.status_code == 422 and "[text, text_pair] pairs" in single.json()["error"]["message"]
        assert client.get("/v1/model").json()["is_pair"] is True


def test_multi_label_and_regression_models_serve_their_outputs(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("serve-kinds")
    multi = [{"text": r["text"], "labels": [r["label"], "any"]} for r in SENTIMENT]
    cfg = tiny_run_config(tiny_model_dir, root / "multi", task={"type": "multi-label"}, num_train_epochs=3)
    model = train(cfg, train=multi, validation=multi).output_dir
    want = Predictor.load(model).predict(["great movie"])
    with TestClient(create_app(model, ServeConfig())) as client:
        got = client.post("/v1/predict", json={"inputs": ["great movie"]}).json()["predictions"]
        assert got[0]["labels"] == want[0]["labels"] and abs(got[0]["score"] - want[0]["score"]) < 1e-6
    ratings = [{"text": r["text"], "score": 4.0 if r["label"] == "pos" else 1.0} for r in SENTIMENT]
    cfg = tiny_run_config(tiny_model_dir, root / "reg", task={"type": "regression"}, num_train_epochs=3)
    model = train(cfg, train=ratings, validation=ratings).output_dir
    want = Predictor.load(model).predict(["great movie"])[0]
    with TestClient(create_app(model, ServeConfig())) as client:
        got = client.post("/v1/predict", json={"inputs": ["great movie"]}).json()["predictions"][0]
        assert got["label"] == "score" and abs(got["score"] - want["score"]) < 1e-5
