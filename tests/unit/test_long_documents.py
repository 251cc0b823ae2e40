"""Texts longer than max_length: truncation, head + tail, overlapping windows (train and predict)."""

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from headstart import Predictor, train
from headstart.data.encoding import encode_texts
from headstart.tasks.common.windows import IDENTITY, SIGMOID, SOFTMAX, aggregate
from tests_support import NEGATIVE, POSITIVE, tiny_run_config

WORDS = "great movie loved it wonderful film excellent acting brilliant story best fun amazing plot".split()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _long(n: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(n)) + " waste"


def test_truncate_keeps_the_start_and_head_tail_keeps_both_ends(tokenizer):
    text = _long(40)
    cut = encode_texts(tokenizer, [text, "dull"], None, 16)
    assert cut.n_truncated == 1 and cut.lengths == [16, 3] and cut.owner == [0, 1]
    assert tokenizer.decode(cut.features["input_ids"][0], skip_special_tokens=True).startswith("great movie")
    both = encode_texts(tokenizer, [text], None, 16, long_documents="head-tail")
    decoded = tokenizer.decode(both.features["input_ids"][0], skip_special_tokens=True).split()
    assert len(both.features["input_ids"][0]) <= 16
    assert decoded[:3] == ["great", "movie", "loved"] and decoded[-1] == "waste"  # 1/4 head, 3/4 tail


def test_windows_cover_the_whole_text_with_overlap(tokenizer):
    text = _long(40)
    enc = encode_texts(tokenizer, ["dull", text], None, 16, long_documents="windows", stride=4)
    assert enc.owner[0] == 0 and set(enc.owner[1:]) == {1} and enc.n_windows >= 3
    ids = [tokenizer.convert_ids_to_tokens(enc.features["input_ids"][r])[1:-1] for r in range(1, enc.n_windows)]
    assert all(len(w) <= 14 for w in ids)
    assert all(a[-4:] == b[:4] for a, b in zip(ids, ids[1:])), "consecutive windows share stride tokens"
    assert ids[0][0] == "great" and ids[-1][-1] == "waste"
    pair = encode_texts(tokenizer, [text], [text], 16, long_documents="windows")
    assert pair.owner == [0] and pair.lengths == [16]  # pairs are truncated


def test_window_scores_aggregate_to_documents():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    mean = np.exp(aggregate(np.log(probs), [0, 0, 1], 2, "mean", SOFTMAX))
    assert np.allclose(mean, [[0.75, 0.25], [0.2, 0.8]], atol=1e-6)
    top = np.exp(aggregate(np.log(probs), [0, 0, 1], 2, "max", SOFTMAX))
    assert np.allclose(top[0], np.array([0.9, 0.4]) / 1.3, atol=1e-6)
    values = aggregate(np.array([[1.0], [3.0], [5.0]]), [0, 0, 1], 2, "mean", IDENTITY)
    assert values.ravel().tolist() == [2.0, 5.0]
    logits = np.log(np.array([[0.9], [0.5]]) / (1 - np.array([[0.9], [0.5]])))
    assert np.allclose(1 / (1 + np.exp(-aggregate(logits, [0, 0], 1, "max", SIGMOID))), 0.9)


@pytest.mark.parametrize("mode", ["head-tail", "windows"])
def test_long_reviews_train_and_predict_per_document(mode, tiny_model_dir, tmp_path):
    # the sentiment comes at the end, after filler: only a mode that reads the end can learn it
    filler = " ".join(["the"] * 30)
    rows = [{"text": f"{filler} {t}", "label": "pos"} for t in POSITIVE] + [
        {"text": f"{filler} {t}", "label": "neg"} for t in NEGATIVE
    ]
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"long_documents": mode, "stride": 4})
    cfg["model"]["max_length"] = 16
    result = train(cfg, train=rows, validation=rows)
    assert result.metrics["validation"]["accuracy"] == 1.0 and result.metrics["validation"]["n"] == 12
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["long_documents"] == mode and info["data"]["train"][
        "windowed" if mode == "windows" else "truncated"
    ] == len(rows)
    predictor = Predictor.load(result.output_dir)
    texts = [r["text"] for r in rows]
    batched = predictor.probabilities(texts)
    alone = np.concatenate([predictor.probabilities([t], batch_size=1) for t in texts])
    assert batched.shape == (12, 2) and np.allclose(batched, alone, atol=1e-5)
