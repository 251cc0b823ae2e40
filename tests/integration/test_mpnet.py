"""The bundled 109M backbone, all-mpnet-base-v2 (bundled name ``mpnet``), joined and extracted once
from its five packages: its weights are the real sentence encoder, a few training steps run through
the stock MPNet head, and the saved directory gives plain ``pipeline()`` the same scores. Its
quality runs (MRPC, SST-2, CoNLL-2003) are bench/quality.py's."""

import numpy as np
import pytest
from transformers import pipeline

from headstart import Predictor, embed, train
from headstart.models import resolve_model
from tests_support import SENTIMENT, requires_bundled, tiny_run_config

pytestmark = [pytest.mark.realmodel, requires_bundled("mpnet")]


def test_mpnet_is_the_real_sentence_encoder():
    vectors = embed(
        ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply."],
        model="mpnet",
        normalize=True,
    )
    assert vectors.shape == (3, 768)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.6 > 0.2 > unrelated, (similar, unrelated)


def test_mpnet_trains_and_its_directory_loads_in_plain_pipeline(tmp_path):
    rows = SENTIMENT[::2]
    cfg = tiny_run_config(resolve_model("mpnet"), tmp_path / "out", max_steps=2, per_device_train_batch_size=6)
    result = train(cfg, train=rows, validation=rows)
    predictor = Predictor.load(result.output_dir)
    texts = [r["text"] for r in rows[:4]]
    batched = predictor.probabilities(texts)
    alone = np.concatenate([predictor.probabilities([t], batch_size=1) for t in texts])
    assert np.allclose(batched, alone, atol=1e-4)
    pipe = pipeline("text-classification", model=str(result.output_dir), top_k=None)
    for got, want in zip(pipe(texts), predictor.predict(texts, all_scores=True)):
        assert all(abs(s["score"] - want["scores"][s["label"]]) < 1e-4 for s in got)
