"""The real decoder backbone, SmolLM2-135M (bundled name ``smollm2``), on its real tokenizer:
a few training steps, then the quirks that matter checked on the saved directory. The full
quality run (SST-2, 88.4 dev accuracy) is bench/decoder_quality.py."""

import json

import numpy as np
import pytest
from transformers import pipeline

from headstart import Predictor, train
from headstart.models import resolve_model
from tests_support import SENTIMENT, requires_bundled, tiny_run_config

pytestmark = [pytest.mark.realmodel, requires_bundled("smollm2")]


def test_smollm2_pairs_batches_and_plain_pipeline(tmp_path):
    path = resolve_model("smollm2")  # converted once from GGUF, then cached
    rows = [{"text": r["text"], "text_pair": r["text"], "label": r["label"]} for r in SENTIMENT[::2]]
    cfg = tiny_run_config(path, tmp_path / "out", max_steps=2, per_device_train_batch_size=6, learning_rate=1e-5)
    result = train(cfg, train=rows, validation=rows)
    config = json.loads((result.output_dir / "config.json").read_text())
    predictor = Predictor.load(result.output_dir)
    tokenizer = predictor.tokenizer
    assert config["pad_token_id"] == tokenizer.pad_token_id == tokenizer.eos_token_id
    ids = tokenizer("Great movie", "Loved it").input_ids
    assert tokenizer.eos_token_id in ids[1:-1], "the two texts of a pair are separated"
    pairs = [(r["text"], r["text_pair"]) for r in rows]
    batched = predictor.probabilities(pairs)
    alone = np.concatenate([predictor.probabilities([p], batch_size=1) for p in pairs])
    assert np.allclose(batched, alone, atol=1e-4)
    pipe = pipeline("text-classification", model=str(result.output_dir), top_k=None)
    theirs = pipe([{"text": a, "text_pair": b} for a, b in pairs[:2]])
    for got, want in zip(theirs, predictor.predict(pairs[:2], all_scores=True)):
        assert all(abs(s["score"] - want["scores"][s["label"]]) < 1e-4 for s in got)
