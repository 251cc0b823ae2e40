"""Embeddings: last hidden states and pooled sentence vectors of any backbone.

Works on a bundled name, a hub id, a local folder, or a directory saved by ``headstart train``
(its encoder, without the classification head).

Example::

    emb = Embedder("minilm")
    emb.encode(["a sentence"], pooling="mean").shape   # -> (1, 384)
    states = emb.hidden_states(["a sentence"])
    states[0].tokens, states[0].vectors.shape   # -> (['[CLS]', 'a', 'sentence', '[SEP]'], (4, 384))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from headstart.config import DEFAULT_MAX_LENGTH, ModelConfig
from headstart.data.encoding import encode_texts
from headstart.errors import ConfigError, HeadstartError
from headstart.modeling.backbones import encoder_from_pretrained, load_tokenizer
from headstart.modeling.pooling import POOLINGS, pool
from headstart.models import load_error, resolve_model

DEFAULTS = ModelConfig()  # the backbone every other command defaults to


@dataclass
class TokenStates:
    tokens: list[str]
    vectors: np.ndarray  # [n_tokens, hidden]


class Embedder:
    def __init__(
        self, model: str = DEFAULTS.name, *, max_length: int = DEFAULT_MAX_LENGTH, device: str | None = None
    ) -> None:
        """A backbone's encoder, for sentence vectors.

        Args:
            model: A bundled name, a local model folder or a hub id.
            max_length: Longest input in tokens; longer texts are cut.
            device: Where to run it; a GPU when there is one.
        """
        path = resolve_model(model)
        try:
            self.tokenizer = load_tokenizer(path)
            self.model = encoder_from_pretrained(path)
        except HeadstartError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise load_error(model, exc) from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.eval().to(self.device)
        self.max_length = max_length

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, *, max_length: int = DEFAULT_MAX_LENGTH) -> Embedder:
        """The encoder inside a loaded task model (a Predictor's), sharing its weights: no second copy.

        ``base_model`` is the backbone of every transformers head; a head model that is its own
        base model (the CRF tagger) keeps its backbone in ``.encoder``.
        """
        encoder = model.base_model
        if encoder is model:
            encoder = model.encoder
        self = cls.__new__(cls)
        self.tokenizer, self.model, self.max_length = tokenizer, encoder, max_length
        self.device = str(getattr(encoder, "device", "cpu"))
        return self

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(
        self, texts: Sequence[str], *, pooling: str = "mean", normalize: bool = False, batch_size: int = 32
    ) -> np.ndarray:
        """Sentence vectors [n_texts, hidden].

        Args:
            texts: The texts.
            pooling: How token states become one vector: the mean or max over real tokens, the
                first ([CLS]) token, or the last real token (what a decoder has read the whole text by).
            normalize: L2-normalise the vectors.
            batch_size: Texts per forward pass.
        """
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling among {', '.join(POOLINGS)}", found=repr(pooling), fix="fix --pooling")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, _, hidden, mask in self._batches(texts, batch_size):
            pooled = pool(hidden, mask, pooling)  # [batch, hidden]
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.float().cpu().numpy()
        return out

    def hidden_states(self, texts: Sequence[str], *, batch_size: int = 32) -> list[TokenStates]:
        """The last hidden state of every token of every text (padding removed), with the tokens."""
        result: list[TokenStates | None] = [None] * len(texts)
        for idx, ids, hidden, mask in self._batches(texts, batch_size):
            for row, i in enumerate(idx):
                n = int(mask[row].sum())
                result[i] = TokenStates(
                    self.tokenizer.convert_ids_to_tokens(ids[row]), hidden[row, :n].float().cpu().numpy()
                )
        return [r for r in result if r is not None]

    @torch.inference_mode()
    def _batches(self, texts: Sequence[str], batch_size: int) -> Any:
        enc = encode_texts(self.tokenizer, list(texts), None, self.max_length)
        order = np.argsort([-n for n in enc.lengths], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            features = [{k: v[i] for k, v in enc.features.items()} for i in idx]
            batch = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state  # [batch, tokens, hidden]
            yield idx, [enc.features["input_ids"][i] for i in idx], hidden, batch["attention_mask"]


def embed(
    texts: Sequence[str],
    model: str = "minilm",
    *,
    pooling: str = "mean",
    normalize: bool = False,
    max_length: int = DEFAULT_MAX_LENGTH,
    batch_size: int = 32,
) -> np.ndarray:
    """Sentence vectors for ``texts`` in one call: ``embed(["hi"], model="bert-tiny").shape == (1, 128)``."""
    return Embedder(model, max_length=max_length).encode(
        texts, pooling=pooling, normalize=normalize, batch_size=batch_size
    )
