"""Question answering end to end on a tiny BERT: train, score, save, load, predict, files, API, CLI, ONNX."""

import json

import numpy as np
import pytest

from headstart import Predictor, train
from headstart.errors import DataError
from tests_support import qa_rows, tiny_run_config

QA = {"type": "question-answering", "doc_stride": 8}


@pytest.fixture(scope="module")
def qa_model(tiny_model_dir, tmp_path_factory):
    rows = qa_rows()
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("qa") / "out", task=QA)
    return train(cfg, train=rows, validation=rows)


def test_training_learns_the_spans_and_saves_a_stock_qa_model(qa_model):
    scores = qa_model.metrics["validation"]
    assert scores["f1"] >= 90 and scores["exact_match"] >= 85, scores
    assert set(scores["by_question_word"]) == {"who", "what"}
    info = json.loads((qa_model.output_dir / "headstart.json").read_text())
    assert info["task"] == "question-answering" and info["doc_stride"] == 8 and not info["version_2_with_negative"]
    config = json.loads((qa_model.output_dir / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]
    report = (qa_model.output_dir / "report.html").read_text()
    assert "<th>exact_match</th>" in report and "Scores by question word (validation)" in report


def test_predictions_are_spans_of_the_context_batched_as_alone(qa_model):
    predictor = Predictor.load(qa_model.output_dir)
    rows = [{"question": r["question"], "context": r["context"]} for r in qa_rows()[:12]]
    batched = predictor.predict(rows, batch_size=32)
    alone = [predictor.predict(r, batch_size=1)[0] for r in rows]
    for row, a, b in zip(rows, batched, alone):
        assert a["answer"] == b["answer"] and a["score"] == pytest.approx(b["score"], abs=1e-5)
        assert row["context"][a["start"] : a["end"]] == a["answer"]


def test_plain_transformers_loads_it_and_finds_the_same_answers(qa_model):
    """transformers 5 has no question-answering pipeline: the stock model class and a brute-force
    span search over one window must agree with headstart's answers."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(qa_model.output_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(qa_model.output_dir).eval()
    rows = [{"question": r["question"], "context": r["context"]} for r in qa_rows()]
    ours = Predictor.load(qa_model.output_dir).predict(rows)
    for row, answer in zip(rows, ours):
        enc = tokenizer(row["question"], row["context"], return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            out = model(**enc)
        context = [k for k, s in enumerate(enc.sequence_ids(0)) if s == 1]
        start, end = out.start_logits[0], out.end_logits[0]
        i, j = max(((i, j) for i in context for j in context if i <= j < i + 30), key=lambda p: start[p[0]] + end[p[1]])
        assert (answer["start"], answer["end"]) == (offsets[i][0], offsets[j][1]), row


def test_a_long_context_is_read_in_windows(qa_model):
    predictor = Predictor.load(qa_model.output_dir)
    filler = " ".join(["the film was great"] * 60)
    context = f"{filler} and she said the market was fun {filler}"
    (answer,) = predictor.predict({"question": "who said it ?", "context": context})
    assert answer["answer"] == "she" and context[answer["start"] : answer["end"]] == "she"


def test_bad_prediction_input_is_refused_clearly(qa_model):
    predictor = Predictor.load(qa_model.output_dir)
    with pytest.raises(DataError, match="input row 1: expected a question; found an empty one"):
        predictor.predict({"question": "  ", "context": "he said it"})
    with pytest.raises(DataError, match="expected a context column"):
        predictor.predict({"question": "who?"})
    with pytest.raises(DataError, match='inputs as {"question"'):
        predictor.predict(["who said it?"])


def test_evaluating_a_v1_model_on_unanswerable_questions_is_refused(qa_model, tmp_path):
    from headstart import evaluate

    path = tmp_path / "v2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(unanswerable=True)))
    with pytest.raises(DataError, match="trained on SQuAD 1.1-style data and always answers.*6 of 48 questions"):
        evaluate(qa_model.output_dir, path)


def test_file_prediction_streams_rows_and_skips_empty_questions(qa_model, tmp_path):
    from headstart.inference.batch import predict_file

    rows = [{"question": r["question"], "context": r["context"], "id": r["id"]} for r in qa_rows()[:5]]
    rows[2]["question"] = ""
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = predict_file(Predictor.load(qa_model.output_dir), tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == ["q0", "q1", "q3", "q4"] and all("answer" in r for r in out)
    assert summary.skipped == 1 and "an empty 'question'" in summary.first_errors[0]


def test_unanswerable_questions_train_a_tuned_no_answer_threshold(tiny_model_dir, tmp_path):
    rows = qa_rows(unanswerable=True)
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task=QA)
    result = train(cfg, train=rows, validation=rows)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["version_2_with_negative"] and isinstance(info["null_score_diff_threshold"], float)
    scores = result.metrics["validation"]
    assert scores["NoAns_total"] == 6 and scores["f1"] >= 80, scores
    predictor = Predictor.load(result.output_dir)
    unanswerable = [r for r in rows if not r["answers"]["text"]]
    answers = predictor.predict([{"question": r["question"], "context": r["context"]} for r in unanswerable])
    assert sum(a["answer"] == "" for a in answers) >= 4


def test_v1_training_refuses_unanswerable_questions_when_told_so(tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={**QA, "version_2_with_negative": False})
    with pytest.raises(DataError, match="answers to every training question.*6 questions without one"):
        train(cfg, train=qa_rows(unanswerable=True))


def test_the_api_answers_question_objects(qa_model):
    from fastapi.testclient import TestClient

    from headstart.serving import ServeConfig, create_app

    row = {"question": "who said it ?", "context": "the plot was dull and she said the market was fun"}
    with TestClient(create_app(qa_model.output_dir, ServeConfig())) as client:
        response = client.post("/v1/predict", json={"inputs": [row]})
        assert response.status_code == 200, response.json()
        assert response.json()["predictions"] == Predictor.load(qa_model.output_dir).predict([row])
        assert client.post("/v1/predict", json={"inputs": row}).status_code == 200
        refused = client.post("/v1/predict", json={"inputs": ["who said it ?"]})
        assert refused.status_code == 422 and 'a {"question", "context"} object' in refused.json()["error"]["message"]
        empty = client.post("/v1/predict", json={"inputs": [{"question": "", "context": "he"}]})
        assert empty.status_code == 422
        assert client.get("/v1/model").json()["version_2_with_negative"] is False


def test_the_command_line_takes_questions_and_contexts(qa_model, capsys):
    from headstart.cli import main

    row = qa_rows()[1]
    q, c = row["question"], row["context"]
    assert main(["predict", str(qa_model.output_dir), "--question", q, "--context", c]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"question": q, "context": c, **Predictor.load(qa_model.output_dir).predict(row)[0]}
    assert main(["predict", str(qa_model.output_dir), "--question", q, "--question", q, "--context", c]) == 2
    assert "as many values of each input field; found 2 --question, 1 --context" in capsys.readouterr().err
    assert main(["predict", str(qa_model.output_dir), "some text", "--question", q, "--context", c]) == 2
    assert "found TEXT and fields" in capsys.readouterr().err
    assert main(["predict", str(qa_model.output_dir), "--question", q]) == 2
    assert "found no --context" in capsys.readouterr().err
    classifier = "tests/assets/saved_v1/text-classification"
    assert main(["predict", classifier, "--question", q, "--context", c]) == 2
    err = capsys.readouterr().err
    assert "--question only for a question-answering model; found a text-classification model" in err


def test_a_context_of_a_million_characters_is_answered_from_its_windows(qa_model):
    predictor = Predictor.load(qa_model.output_dir)
    context = "the film was great " * 52_632 + "and she said the market was fun"
    assert len(context) > 1_000_000
    (answer,) = predictor.predict({"question": "who said it ?", "context": context}, batch_size=256)
    assert answer["answer"] and context[answer["start"] : answer["end"]] == answer["answer"]


def test_onnx_export_gives_the_same_answers_and_int8_the_same_spans(qa_model, tmp_path):
    pytest.importorskip("onnxruntime")
    from headstart.inference.onnx_export import export_onnx

    rows = [{"question": r["question"], "context": r["context"]} for r in qa_rows()]
    want = Predictor.load(qa_model.output_dir).predict(rows)
    report = export_onnx(qa_model.output_dir, tmp_path / "onnx")
    assert report.parity["fp32_max_abs_diff"] <= report.parity["tolerance"]
    got = Predictor.load(tmp_path / "onnx").predict(rows)
    assert [(a["answer"], a["start"]) for a in got] == [(a["answer"], a["start"]) for a in want]
    assert np.allclose([a["score"] for a in got], [a["score"] for a in want], atol=1e-4)
    int8 = export_onnx(qa_model.output_dir, tmp_path / "int8", quantize="int8")
    quantized = Predictor.load(tmp_path / "int8").predict(rows)
    same = sum(a["answer"] == b["answer"] for a, b in zip(quantized, want))
    assert int8.parity["int8_same_label"] >= 0.75 and same >= 0.75 * len(rows), (int8.parity, same)


def test_class_weights_are_refused_for_spans(tiny_model_dir, tmp_path):
    from headstart.errors import ConfigError

    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={**QA, "class_weights": "auto"})
    with pytest.raises(ConfigError, match="no task.class_weights for question answering.*remove task.class_weights"):
        train(cfg, train=qa_rows())
