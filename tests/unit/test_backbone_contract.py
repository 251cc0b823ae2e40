"""The contract, for every backbone family x task: train -> save -> load -> predict, and a text
scores the same alone as in a batch (padding, pad tokens and pooling done right).

Backbones are tiny models built from a config: BERT (WordPiece), MPNet (relative position bias,
RoBERTa-style positions and pair separator), GPT-2 (byte-level BPE, no pad
token), Llama (SmolLM2's layout: generic byte-level tokenizer, saved as a causal LM) and T5
(Unigram vocabulary; classification runs its encoder only).
"""

import json

import numpy as np
import pytest

from headstart import Predictor, train
from tests_support import NEGATIVE, POSITIVE, SENTIMENT, ner_rows, qa_rows, tiny_run_config

BACKBONES = ["tiny_model_dir", "tiny_mpnet_dir", "tiny_gpt2_dir", "tiny_llama_dir", "tiny_t5_dir"]
PAIRS = [{"text": a, "text_pair": b, "label": "same"} for a, b in zip(POSITIVE, POSITIVE[1:] + POSITIVE[:1])] + [
    {"text": a, "text_pair": b, "label": "different"} for a, b in zip(POSITIVE, NEGATIVE)
]


# multi-label: the sentiment, plus "cinema" for texts about a film or movie (lists and strings mixed)
MULTI = [
    {"text": r["text"], "labels": [r["label"], "cinema"] if {"film", "movie"} & set(r["text"].split()) else r["label"]}
    for r in SENTIMENT
]
# regression: a rating, high for positive texts, with a spread inside each class
RATINGS = [
    {"text": r["text"], "rating": (4.0 if r["label"] == "pos" else 1.0) + 0.1 * (i % 6)}
    for i, r in enumerate(SENTIMENT)
]
TASKS = {
    "sequence": ({"type": "text-classification"}, SENTIMENT, "accuracy"),
    "pair": ({"type": "text-classification"}, PAIRS, "accuracy"),
    "token": ({"type": "ner"}, None, "f1"),
    "multi-label": ({"type": "multi-label"}, MULTI, "f1_micro"),
    "regression": ({"type": "regression"}, RATINGS, "pearson"),
    "qa": ({"type": "question-answering", "doc_stride": 8}, qa_rows(), "f1"),
}
# labels as words: the text-to-text model writes them
WORDED = [{"text": r["text"], "label": {"pos": "good", "neg": "bad"}[r["label"]]} for r in SENTIMENT]
TEXT_TO_TEXT = ({"type": "text-to-text"}, WORDED, "accuracy")


def _inputs(task: str) -> list:
    if task == "pair":
        return [(r["text"], r["text_pair"]) for r in PAIRS]
    if task == "token":
        return [r["tokens"] for r in ner_rows()[:12]]
    if task == "qa":
        return [{"question": r["question"], "context": r["context"]} for r in qa_rows()[:12]]
    return [r["text"] for r in SENTIMENT]


def _train(backbone: str, task: str, request, tmp_path, model=None, **task_cfg):
    model_dir = request.getfixturevalue(backbone)
    kind, rows, _ = TEXT_TO_TEXT if task == "text-to-text" else TASKS[task]
    cfg = tiny_run_config(model_dir, tmp_path / "out", task={**kind, **task_cfg})
    cfg["model"].update(model or {})
    rows = rows or ner_rows()
    return train(cfg, train=rows, validation=rows)


@pytest.mark.parametrize(
    ("backbone", "task"), [(b, t) for b in BACKBONES for t in TASKS] + [("tiny_t5_dir", "text-to-text")]
)
def test_train_save_load_predict_batched_equals_unbatched(backbone, task, request, tmp_path):
    result = _train(backbone, task, request, tmp_path)
    main = "accuracy" if task == "text-to-text" else TASKS[task][2]
    floor = 75 if task == "qa" else 0.75  # SQuAD scores are percentages
    assert result.metrics["validation"][main] >= floor, result.metrics["validation"]
    predictor = Predictor.load(result.output_dir)
    inputs = _inputs(task)
    if task == "qa":
        batched = predictor.predict(inputs, batch_size=32)
        alone = [predictor.predict(x, batch_size=1)[0] for x in inputs]
        assert [a["answer"] for a in batched] == [a["answer"] for a in alone]
        assert np.allclose([a["score"] for a in batched], [a["score"] for a in alone], atol=1e-5)
    elif task == "token":
        _, batched = predictor.predict_tags(inputs, batch_size=32)
        _, alone = predictor.predict_tags(inputs, batch_size=1)
        assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(batched, alone))
    else:
        batched = predictor.probabilities(inputs, batch_size=32)
        alone = np.concatenate([predictor.probabilities([x], batch_size=1) for x in inputs])
        assert np.allclose(batched, alone, atol=1e-5)


@pytest.mark.parametrize("backbone", ["tiny_gpt2_dir", "tiny_llama_dir"])
def test_decoders_pad_on_the_right_with_eos_and_load_in_plain_pipeline(backbone, request, tmp_path):
    from transformers import pipeline

    result = _train(backbone, "pair", request, tmp_path)
    config = json.loads((result.output_dir / "config.json").read_text())
    tokenizer = Predictor.load(result.output_dir).tokenizer
    assert config["pad_token_id"] == tokenizer.eos_token_id and tokenizer.padding_side == "right"
    # the two texts of a pair are separated (decoder tokenizers would glue them together)
    ids = tokenizer("great movie", "loved it").input_ids
    assert tokenizer.eos_token_id in ids[1:-1]
    pipe = pipeline("text-classification", model=str(result.output_dir), top_k=None)
    got = pipe([{"text": a, "text_pair": b} for a, b in _inputs("pair")], batch_size=4)
    ours = Predictor.load(result.output_dir).predict(_inputs("pair"), all_scores=True)
    for theirs, mine in zip(got, ours):
        assert all(abs(s["score"] - mine["scores"][s["label"]]) < 1e-5 for s in theirs)


def test_text_to_text_writes_labels_as_words_in_plain_transformers(request, tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    result = _train("tiny_t5_dir", "text-to-text", request, tmp_path)
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["architectures"] == ["T5ForConditionalGeneration"]
    texts = [r["text"] for r in WORDED]
    ours = [p["label"] for p in Predictor.load(result.output_dir).predict(texts)]
    assert ours == [r["label"] for r in WORDED]
    scores = Predictor.load(result.output_dir).probabilities(texts)
    assert np.allclose(scores.sum(1), 1.0, atol=1e-5)  # a distribution over the label set
    # plain transformers (5.x has no text2text pipeline): the stock class generates the words
    model = AutoModelForSeq2SeqLM.from_pretrained(result.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    out = model.generate(**tokenizer(texts, return_tensors="pt", padding=True), max_new_tokens=4)
    written = tokenizer.batch_decode(out, skip_special_tokens=True)
    assert sum(w == o for w, o in zip(written, ours)) >= 10  # free generation mostly agrees


@pytest.mark.parametrize("backbone", ["tiny_model_dir", "tiny_gpt2_dir"])
def test_text_to_text_needs_an_encoder_decoder(backbone, request, tmp_path):
    from headstart.errors import ConfigError

    with pytest.raises(ConfigError, match="an encoder-decoder backbone"):
        _train(backbone, "text-to-text", request, tmp_path)


def test_text_to_text_is_not_exported_to_onnx(request, tmp_path):
    from headstart.errors import ExportError
    from headstart.inference.onnx_export import export_onnx

    result = _train("tiny_t5_dir", "text-to-text", request, tmp_path)
    with pytest.raises(ExportError, match="a text-to-text model: scoring runs its decoder once per label"):
        export_onnx(result.output_dir, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()
