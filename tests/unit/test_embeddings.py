import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from headstart import Embedder, embed
from headstart.errors import ConfigError


def test_mean_pooling_matches_a_manual_computation(tiny_model_dir):
    texts = ["great movie", "a much longer text about the boring plot of a film"]
    got = Embedder(str(tiny_model_dir)).encode(texts, pooling="mean")
    tok, model = AutoTokenizer.from_pretrained(tiny_model_dir), AutoModel.from_pretrained(tiny_model_dir).eval()
    for text, vec in zip(texts, got):
        with torch.no_grad():
            hidden = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
        assert np.allclose(vec, hidden.mean(0).numpy(), atol=1e-5)


def test_cls_pooling_hidden_states_and_batching(tiny_model_dir):
    emb = Embedder(str(tiny_model_dir))
    texts = ["great movie", "boring", "the plot of the film was dull"]
    states = emb.hidden_states(texts, batch_size=2)
    assert states[0].tokens == ["[CLS]", "great", "movie", "[SEP]"] and states[0].vectors.shape == (4, 32)
    cls = emb.encode(texts, pooling="cls", batch_size=2)
    assert np.allclose(cls, np.stack([s.vectors[0] for s in states]), atol=1e-5)
    one_by_one = np.concatenate([emb.encode([t], pooling="cls") for t in texts])
    assert np.allclose(cls, one_by_one, atol=1e-5)


def test_normalize_and_bad_pooling(tiny_model_dir):
    vec = embed(["great"], model=str(tiny_model_dir), normalize=True)
    assert np.allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="pooling among cls, mean, max, last"):
        Embedder(str(tiny_model_dir)).encode(["x"], pooling="median")
