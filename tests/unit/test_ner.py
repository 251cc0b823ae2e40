"""NER end to end on the tiny model: train -> save -> load -> predict, softmax and CRF heads."""

import json

import numpy as np
import pytest
from transformers import pipeline

from headstart import Predictor, evaluate, train
from headstart.cli import main
from headstart.data.tags import is_valid_iob2
from headstart.inference.batch import predict_file
from tests_support import ner_rows, tiny_run_config


def _train(tmp_path_factory, tiny_model_dir, crf: bool, rows=None, task=None, **train_cfg):
    out = tmp_path_factory.mktemp("ner") / ("crf" if crf else "softmax")
    cfg = tiny_run_config(
        tiny_model_dir, out, task={"type": "ner", "crf": crf, **(task or {})}, **{"num_train_epochs": 15, **train_cfg}
    )
    rows = rows or ner_rows()
    return train(cfg, train=rows, validation=rows)


@pytest.fixture(scope="module")
def softmax_model(tmp_path_factory, tiny_model_dir):
    return _train(tmp_path_factory, tiny_model_dir, crf=False)


@pytest.fixture(scope="module")
def crf_model(tmp_path_factory, tiny_model_dir):
    return _train(tmp_path_factory, tiny_model_dir, crf=True, learning_rate=5e-3)


@pytest.mark.parametrize("name", ["softmax_model", "crf_model"])
def test_learns_saves_and_reloads(name, request):
    result = request.getfixturevalue(name)
    assert result.metrics["validation"]["f1"] > 0.9
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["task"] == "token-classification" and info["labels"][0] == "O"
    predictor = Predictor.load(result.output_dir)
    sentences = [row["tokens"] for row in ner_rows()]
    tags, scores = predictor.predict_tags(sentences)
    again, _ = Predictor.load(result.output_dir).predict_tags(sentences)
    assert tags == again
    one_by_one = [Predictor.load(result.output_dir).predict_tags([s], batch_size=1)[1][0] for s in sentences[:6]]
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(one_by_one, scores[:6])), "batched == unbatched"
    assert not any(p.suffix in (".bin", ".pt", ".pkl") for p in result.output_dir.iterdir())


def test_crf_decodes_only_valid_sequences(crf_model):
    predictor = Predictor.load(crf_model.output_dir)
    import torch

    rng = np.random.default_rng(0)
    vocab = ["he", "she", "xyzzy", "company", "new", "market", "said", "the", "was", "great", "loved"]
    sentences = [list(rng.choice(vocab, size=rng.integers(1, 12))) for _ in range(50)]
    from headstart.data.token_encoding import encode_words

    enc = encode_words(predictor.tokenizer, sentences, 32)
    for i in range(len(sentences)):
        feats = {k: torch.tensor([v[i]]) for k, v in enc.features.items()}
        with torch.no_grad():
            decoded = predictor.model(**feats).decoded[0]
        path = [predictor.labels[int(k)] for k in decoded if k >= 0]
        assert is_valid_iob2(path), path


def test_softmax_head_decodes_valid_sequences_by_default(softmax_model):
    info = json.loads((softmax_model.output_dir / "headstart.json").read_text())
    assert info["decode"] == "viterbi"
    card = (softmax_model.output_dir / "README.md").read_text()
    assert "constrained Viterbi" in card and "--decode argmax" in card
    predictor = Predictor.load(softmax_model.output_dir)
    rng = np.random.default_rng(0)
    vocab = ["he", "she", "xyzzy", "company", "new", "market", "said", "the", "was", "great", "loved"]
    sentences = [list(rng.choice(vocab, size=rng.integers(1, 12))) for _ in range(80)]
    viterbi, v_scores = predictor.predict_tags(sentences, repair_tags=False)
    argmax, a_scores = predictor.predict_tags(sentences, repair_tags=False, decode="argmax")
    assert all(is_valid_iob2(t) for t in viterbi)
    for v, a, vs, as_ in zip(viterbi, argmax, v_scores, a_scores):
        if is_valid_iob2(a):  # Viterbi only ever changes an invalid argmax sequence
            assert v == a and np.allclose(vs, as_)
        assert all(0 < s <= 1 for s in vs)


def test_softmax_directory_works_in_plain_pipeline(softmax_model):
    texts = ["he said the company was great", "the market loved xyzzy"]
    # argmax is what the pipeline does; the default (viterbi) differs only where argmax is invalid
    ours = Predictor.load(softmax_model.output_dir).predict(texts, decode="argmax")
    simple = pipeline("token-classification", model=str(softmax_model.output_dir), aggregation_strategy="simple")
    assert all(e["entity_group"] in ("PER", "ORG") for e in simple(texts[0]))
    first = pipeline("token-classification", model=str(softmax_model.output_dir), aggregation_strategy="first")

    def spans(entities):
        return [(e["entity_group"], int(e["start"]), int(e["end"])) for e in entities]

    assert [spans(e) for e in ours] == [spans(e) for e in first(texts)]
    assert spans(ours[0]) == [("PER", 0, 2), ("ORG", 12, 19)]


def test_character_offsets_with_repeated_words_and_unicode(softmax_model):
    text = "she — «she» said the company was great, café she"
    entities = Predictor.load(softmax_model.output_dir).predict(text)[0]
    people = [e for e in entities if e["entity_group"] == "PER"]
    assert [e["start"] for e in people] == [0, text.index("she", 1), text.rindex("she")]
    for e in entities:
        assert text[e["start"] : e["end"]] == e["word"] and 0 < e["score"] <= 1


def test_pre_split_words_give_a_tag_per_word(softmax_model):
    out = Predictor.load(softmax_model.output_dir).predict([["she", "loved", "the", "market"]])[0]
    assert [w["word"] for w in out] == ["she", "loved", "the", "market"]
    assert [w["tag"] for w in out] == ["B-PER", "O", "O", "B-ORG"]


def test_windows_when_sentences_exceed_max_length(tmp_path, tiny_model_dir):
    long_rows = [
        {
            "tokens": sum((r["tokens"] for r in ner_rows()[i : i + 4]), []),
            "tags": sum((r["tags"] for r in ner_rows()[i : i + 4]), []),
        }
        for i in range(0, 36, 4)
    ]
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 16},
        "task": {"type": "ner", "stride": 4},
        "train": {"output_dir": str(tmp_path / "w"), "num_train_epochs": 1, "disable_tqdm": True},
    }
    result = train(cfg, train=long_rows, validation=long_rows)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["data"]["train"]["windowed"] == len(long_rows)
    assert any("split into overlapping windows" in n for n in result.notes)
    tags, _ = Predictor.load(result.output_dir).predict_tags([r["tokens"] for r in long_rows])
    assert [len(t) for t in tags] == [len(r["tokens"]) for r in long_rows], "no word dropped"


def test_cli_train_predict_evaluate_on_conll_files(tmp_path, tiny_model_dir, capsys):
    lines = []
    for row in ner_rows():
        lines += [f"{w} {t}" for w, t in zip(row["tokens"], row["tags"])] + [""]
    (tmp_path / "train.conll").write_text("\n".join(lines))
    out = tmp_path / "m"
    assert (
        main(
            [
                "train",
                "--task",
                "ner",
                "--model",
                str(tiny_model_dir),
                "--train",
                str(tmp_path / "train.conll"),
                "--validation",
                str(tmp_path / "train.conll"),
                "-o",
                str(out),
                "--epochs",
                "15",
                "--lr",
                "3e-3",
                "--batch-size",
                "4",
                "--set",
                "train.eval_strategy=no",
                "--disable_tqdm",
                "--max_length",
                "32",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["predict", str(out), "she loved the market"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "she loved the market"
    assert [(e["entity_group"], e["word"]) for e in row["entities"]] == [("PER", "she"), ("ORG", "market")]
    assert main(["evaluate", str(out), "--data", str(tmp_path / "train.conll")]) == 0
    assert json.loads(capsys.readouterr().out)["f1"] > 0.9
    (tmp_path / "dev.conll").write_text("she B-PER\nloved B-VERB\n")
    assert main(["evaluate", str(out), "--data", str(tmp_path / "dev.conll")]) == 2
    assert "dev.conll:1: expected a tag seen in training" in capsys.readouterr().err
    assert evaluate(out, tmp_path / "train.conll")["strict"]["f1"] > 0.9


def test_cli_predict_files_of_texts_and_of_tokens(softmax_model, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "he said the company was great"}\n')
    assert (
        main(
            [
                "predict",
                str(softmax_model.output_dir),
                "--input",
                str(tmp_path / "in.jsonl"),
                "--output",
                str(tmp_path / "out.jsonl"),
            ]
        )
        == 0
    )
    row = json.loads((tmp_path / "out.jsonl").read_text())
    assert [e["word"] for e in row["entities"]] == ["he", "company"]
    (tmp_path / "in.conll").write_text("she\nloved\nthe\nmarket\n")
    assert (
        main(
            [
                "predict",
                str(softmax_model.output_dir),
                "--input",
                str(tmp_path / "in.conll"),
                "--output",
                str(tmp_path / "out2.jsonl"),
            ]
        )
        == 0
    )
    row = json.loads((tmp_path / "out2.jsonl").read_text())
    assert row["tokens"] == ["she", "loved", "the", "market"] and row["tags"] == ["B-PER", "O", "O", "B-ORG"]
    assert main(["predict", str(softmax_model.output_dir), "he said the company was great", "--decode", "argmax"]) == 0


def _context_rows() -> list[dict]:
    """Two-sentence documents where "xyzzy" in the second sentence is whatever the first one names:
    unlearnable from the sentence alone, learnable with document context."""
    rows = []
    for d in range(24):
        cue, tag = (("company", "ORG"), ("she", "PER"))[d % 2]
        rows.append({"tokens": [cue, "said", "so", "much"], "tags": [f"B-{tag}", "O", "O", "O"], "document": d})
        rows.append({"tokens": ["xyzzy", "was", "great"], "tags": [f"B-{tag}", "O", "O"], "document": d})
    return rows


def test_document_context_reaches_the_model_in_training_and_prediction(tmp_path_factory, tmp_path, tiny_model_dir):
    result = _train(
        tmp_path_factory, tiny_model_dir, crf=False, rows=_context_rows(), task={"context": 8}, num_train_epochs=20
    )
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["context"] == 8 and info["data"]["train"]["with_context"] == 48
    predictor = Predictor.load(result.output_dir)
    rows = _context_rows()[:8]
    words = [r["tokens"] for r in rows]
    with_context, _ = predictor.predict_tags(words, documents=[r["document"] for r in rows])
    assert [t[0] for t in with_context] == [r["tags"][0] for r in rows]
    alone, _ = predictor.predict_tags(words)
    assert len({tags[0] for tags in alone[1::2]}) == 1, "without context both kinds of 'xyzzy' look the same"
    assert result.metrics["validation"]["f1"] == 1.0, "evaluation feeds the documents too"
    # a token-only CoNLL file through the CLI: -DOCSTART- sections are the documents
    conll = "".join(
        ("-DOCSTART-\n\n" if i % 2 == 0 else "") + "\n".join(r["tokens"]) + "\n\n" for i, r in enumerate(rows)
    )
    (tmp_path / "docs.conll").write_text(conll)
    out = tmp_path / "docs.jsonl"
    assert main(["predict", str(result.output_dir), "--input", str(tmp_path / "docs.conll"), "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["tags"][0] for r in records] == [r["tags"][0] for r in rows]
    # streamed one sentence per chunk: each chunk still sees its neighbours of the same document
    one = tmp_path / "one.jsonl"
    predict_file(result.output_dir, tmp_path / "docs.conll", one, chunk_size=1)
    assert [json.loads(line) for line in one.read_text().splitlines()] == records


def test_streamed_files_skip_bad_sentences_and_rows(softmax_model, tmp_path):
    predictor = Predictor.load(softmax_model.output_dir)
    conll = b"she B-PER\nloved O\n\nbin\x00ary O\n\nthe O\nmarket B-ORG\n"
    (tmp_path / "in.conll").write_bytes(conll)
    out = tmp_path / "out.jsonl"
    summary = predict_file(predictor, tmp_path / "in.conll", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["tokens"] for r in rows] == [["she", "loved"], ["the", "market"]]
    assert [r["tags"] for r in rows] == predictor.predict_tags([["she", "loved"], ["the", "market"]])[0]
    assert summary.first_errors == [
        f"{tmp_path / 'in.conll'}:4: binary data (a NUL byte); export the data as UTF-8 text"
    ]
    (tmp_path / "in.jsonl").write_text(
        '{"text": "he said the company was great", "id": "a"}\n{"tokens": "not a list"}\n'
        '{"tokens": ["she", "loved", "the", "market"], "tags": ["B-PER", "O", "O", "B-ORG"]}\n'
    )
    predict_file(predictor, tmp_path / "in.jsonl", tmp_path / "out2.jsonl")
    first, second = [json.loads(line) for line in (tmp_path / "out2.jsonl").read_text().splitlines()]
    assert first["id"] == "a" and [e["word"] for e in first["entities"]] == ["he", "company"]
    assert second["input_tags"] == ["B-PER", "O", "O", "B-ORG"] and len(second["tags"]) == 4
    errors = [json.loads(line) for line in (tmp_path / "out2.jsonl.errors.jsonl").read_text().splitlines()]
    assert errors[0]["line"] == 2 and "should be a list of words" in errors[0]["error"]
