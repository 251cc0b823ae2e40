"""The contract, for every backbone family x task: train -> save -> load -> predict, and a text
scores the same alone as in a batch (padding, pad tokens and pooling done right).

Backbones are tiny models built from a config: BERT (WordPiece), GPT-2 (byte-level BPE, no pad
token), Llama (SmolLM2's layout: generic byte-level tokenizer, saved as a causal LM) and T5
(Unigram vocabulary; classification runs its encoder only).
"""

import json

import numpy as np
import pytest

from headstart import Predictor, train
from tests_support import NEGATIVE, POSITIVE, SENTIMENT, ner_rows, tiny_run_config

BACKBONES = ["tiny_model_dir", "tiny_gpt2_dir", "tiny_llama_dir", "tiny_t5_dir"]
PAIRS = [{"text": a, "text_pair": b, "label": "same"} for a, b in zip(POSITIVE, POSITIVE[1:] + POSITIVE[:1])] + [
    {"text": a, "text_pair": b, "label": "different"} for a, b in zip(POSITIVE, NEGATIVE)
]


def _inputs(task: str) -> list:
    if task == "pair":
        return [(r["text"], r["text_pair"]) for r in PAIRS]
    if task == "token":
        return [r["tokens"] for r in ner_rows()[:12]]
    return [r["text"] for r in SENTIMENT]


def _train(backbone: str, task: str, request, tmp_path, **model):
    model_dir = request.getfixturevalue(backbone)
    kind = {"token": {"type": "ner"}}.get(task, {"type": "text-classification"})
    cfg = tiny_run_config(model_dir, tmp_path / "out", task=kind)
    cfg["model"].update(model)
    rows = {"sequence": SENTIMENT, "pair": PAIRS, "token": ner_rows()}[task]
    return train(cfg, train=rows, validation=rows)


@pytest.mark.parametrize("task", ["sequence", "pair", "token"])
@pytest.mark.parametrize("backbone", BACKBONES)
def test_train_save_load_predict_batched_equals_unbatched(backbone, task, request, tmp_path):
    result = _train(backbone, task, request, tmp_path)
    main = "f1" if task == "token" else "accuracy"
    assert result.metrics["validation"][main] >= 0.75, result.metrics["validation"]
    predictor = Predictor.load(result.output_dir)
    inputs = _inputs(task)
    if task == "token":
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
