"""Predictor: a saved model directory -> labels and scores, in input order.

Inputs are processed in chunks (bounded memory); inside a chunk they are sorted by length so a
batch pads little, then the outputs are put back in input order.

Example::

    predictor = Predictor.load("headstart-model")
    predictor.predict(["what a film", "a waste of time"])
    # -> [{'label': 'fresh', 'score': 0.97}, {'label': 'rotten', 'score': 0.91}]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.artifacts import ModelInfo
from headstart.data.encoding import encode_texts
from headstart.errors import DataError, HeadstartError, ModelLoadError
from headstart.hardware import attention_implementation, autocast, choose_bf16, set_attention
from headstart.inference.windows import aggregate
from headstart.modeling.backbones import load_tokenizer
from headstart.modeling.first_token import use_first_token_layer
from headstart.tasks import Task, get_task

CHUNK = 2048  # inputs tokenized at a time
# At most this many tokens (padded) per forward pass: long inputs go in small batches, short ones
# in batches up to batch_size. On 2 CPU cores with 512-token IMDB reviews, batches of 4 long
# reviews ran faster than 8 or 32 (int8 ONNX: 51.7, 49.2, 42.0 reviews/s), as padding and the
# attention's memory traffic grow with the batch.
MAX_BATCH_TOKENS = 2048


class Predictor:
    """Labels and scores from a model; ``bf16`` None (auto) uses bf16 autocast where the device
    computes bf16 natively (``hardware.py``; 1,000 IMDB reviews at 512 tokens on an avx512_bf16 CPU:
    3.22x transformers.pipeline's reviews/s, against 1.99x in fp32, accuracy 86.6 vs 86.5), and the
    attention kernel measured fastest for prediction (SDPA)."""

    def __init__(
        self, model: Any, tokenizer: Any, info: ModelInfo, task: Task, device: str, *, bf16: bool | None = None
    ) -> None:
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.info = info
        self.task = task
        self.device = device
        self.max_batch_tokens: int | None = MAX_BATCH_TOKENS
        on_torch = isinstance(model, torch.nn.Module)  # an ONNX export runs its own kernels
        self.bf16 = on_torch and choose_bf16(bf16, device)
        if on_torch:
            set_attention(self.model, attention_implementation(device, self.bf16))
            use_first_token_layer(self.model)  # same logits, less work where the head reads [CLS] alone

    def forward(self, batch: Any) -> Any:
        """The model's outputs for one padded batch, in the chosen precision."""
        with autocast(self.device, self.bf16):
            return self.model(**batch)

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, bf16: bool | None = None) -> Predictor:
        info = ModelInfo.read(path)
        task = get_task(info.task)
        try:
            tokenizer = load_tokenizer(str(path))
            if info.raw.get("runtime") == "onnx":  # an export: same Predictor, ONNX Runtime inside
                from headstart.inference.onnx_runtime import OnnxModel

                model = OnnxModel(path, info)
            else:
                model = task.load_model(str(path))
        except HeadstartError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(
                "a complete saved model directory",
                found=f"{type(exc).__name__}: {exc}",
                fix="re-train, or restore the missing files",
                file=path,
            ) from None
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return task.predictor_class()(model, tokenizer, info, task, device, bf16=bf16)

    @property
    def labels(self) -> list[str]:
        return list(self.info.labels)

    @property
    def is_pair(self) -> bool:
        return bool(self.info.raw.get("is_pair"))

    def predict(
        self, inputs: str | tuple[str, str] | Sequence[Any], *, batch_size: int = 32, all_scores: bool = False
    ) -> list[dict[str, Any]]:
        """``[{"label", "score"}]`` per input (``"scores"`` for every label with ``all_scores``)."""
        probs = self.probabilities(inputs, batch_size=batch_size)
        names = self.labels
        out = []
        for row in probs:
            best = int(row.argmax())
            item: dict[str, Any] = {"label": names[best], "score": float(row[best])}
            if all_scores:
                item["scores"] = {name: float(p) for name, p in zip(names, row)}
            out.append(item)
        return out

    def probabilities(self, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
        """Softmax scores [n_inputs, n_labels], as the text-classification pipeline computes them."""
        logits = self.logits(inputs, batch_size=batch_size)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)

    def logits(self, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
        """Raw model outputs [n_inputs, n_labels], in input order."""
        texts, pairs = self._split_inputs(inputs)
        chunks = [
            self._chunk_logits(texts[i : i + CHUNK], None if pairs is None else pairs[i : i + CHUNK], batch_size)
            for i in range(0, len(texts), CHUNK)
        ]
        if not chunks:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(chunks)

    @torch.inference_mode()
    def _chunk_logits(self, texts: list[str], pairs: list[str] | None, batch_size: int) -> np.ndarray:
        raw = self.info.raw
        long_documents, stride = raw.get("long_documents", "truncate"), raw.get("stride", 32)
        enc = encode_texts(
            self.tokenizer, texts, pairs, self.info.max_length, long_documents=long_documents, stride=stride
        )
        order = np.argsort([-n for n in enc.lengths], kind="stable")
        result = np.zeros((enc.n_windows, len(self.labels)), dtype=np.float32)
        for idx in _batches(order, enc.lengths, batch_size, self.max_batch_tokens):
            features = [{k: v[i] for k, v in enc.features.items()} for i in idx]
            batch = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
            logits = self.forward(batch).logits
            result[idx] = logits.float().cpu().numpy()
        how = raw.get("window_aggregation", "mean")
        return aggregate(result, enc.owner, len(texts), how, raw.get("problem_type", "single_label_classification"))

    def _split_inputs(self, inputs: Any) -> tuple[list[str], list[str] | None]:
        if isinstance(inputs, (str, dict)) or (
            isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs)
        ):
            inputs = [inputs]
        texts, pairs = [], []
        for i, item in enumerate(_iterate(inputs)):
            if isinstance(item, dict):
                item = (
                    (item.get("text"), item.get("text_pair")) if item.get("text_pair") is not None else item.get("text")
                )
            if isinstance(item, str):
                texts.append(item)
                pairs.append(None)
            elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
                texts.append(item[0])
                pairs.append(item[1])
            else:
                raise DataError(
                    'a text, a (text, text_pair) tuple or a {"text", "text_pair"} dict',
                    found=f"{type(item).__name__} {str(item)[:60]!r}",
                    fix="fix the input",
                    file=f"input {i + 1}",
                )
        given_pairs = [p is not None for p in pairs]
        if self.is_pair and not all(given_pairs):
            raise DataError(
                "(text, text_pair) inputs: this model was trained on sentence pairs",
                found="single texts",
                fix="pass pairs, e.g. [('first', 'second')]",
            )
        if not self.is_pair and any(given_pairs):
            raise DataError(
                "single texts: this model was trained on single texts", found="text pairs", fix="pass plain strings"
            )
        return texts, (pairs if self.is_pair else None)  # type: ignore[return-value]


def _batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int | None) -> Iterable[Any]:
    """Consecutive slices of ``order`` (longest first) of at most ``batch_size`` inputs and, when
    ``max_tokens`` is set, at most that many padded tokens (one input always fits)."""
    start = 0
    while start < len(order):
        size = batch_size
        if max_tokens is not None:
            size = max(1, min(batch_size, max_tokens // max(1, lengths[order[start]])))
        yield order[start : start + size]
        start += size


def _iterate(inputs: Any) -> Iterable[Any]:
    if hasattr(inputs, "inputs") and callable(inputs.inputs):  # Examples
        return inputs.inputs()
    return inputs
