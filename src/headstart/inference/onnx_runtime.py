"""OnnxModel: an exported ONNX graph standing where the PyTorch model stands inside a Predictor.

``Predictor.load(DIR)`` picks it when ``headstart.json`` says ``"runtime": "onnx"``, so the ONNX
model gets the same batching, the same input-order guarantees, the same NER windowing and tag
decoding as the PyTorch one — nothing about predicting is written twice. It is called with the
tokenizer's tensors and answers with ``.logits`` (``.start_logits`` and ``.end_logits`` for a span
head, whose graph puts them side by side; for a CRF tagger, ``.decoded``: the graph
holds only the emissions; Viterbi with the learned transitions runs here, in the same
``decode_words`` the PyTorch tagger uses). Its ``base_model`` gives the encoder's last hidden
states, so embeddings work from an export too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from headstart.artifacts import ModelInfo
from headstart.errors import MissingDependencyError, ModelLoadError

RUNTIME = "onnx"
logger = logging.getLogger(__name__)


def onnxruntime() -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(
            "onnxruntime to run an ONNX export", found="it is not installed", fix="pip install 'headstart[onnx]'"
        ) from None
    return ort


class OnnxModel:
    def __init__(self, path: str | Path, info: ModelInfo) -> None:
        ort = onnxruntime()
        meta = info.onnx or {}
        file = Path(path) / str(meta.get("file", "model.onnx"))
        if not file.is_file():
            raise ModelLoadError(
                "the ONNX graph named in headstart.json", found=f"no {file.name}", fix="export again", file=file
            )
        _warn_if_saturating(meta, file)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = os.environ.get("HEADSTART_ONNX_THREADS")
        if threads:
            options.intra_op_num_threads = int(threads)
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(file), options, providers=providers)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.config = SimpleNamespace(hidden_size=int(meta.get("hidden_size", 0)))
        self.crf = _load_crf(Path(path), info) if meta.get("crf") else None
        self.span_logits = bool(meta.get("span_logits"))  # start and end logits as one [B, T, 2] output

    # the parts of the torch.nn.Module surface a Predictor uses
    def eval(self) -> OnnxModel:
        return self

    def to(self, device: Any) -> OnnxModel:
        return self

    def run(self, output: str, **batch: Any) -> np.ndarray:
        """One output of the graph; asking only for it saves copying the other ([B, T, H] hidden
        states when only logits are wanted)."""
        feed = {name: _numpy(batch[name]) for name in self.inputs if batch.get(name) is not None}
        return self.session.run([output], feed)[0]

    def forward(
        self,
        input_ids: Any = None,
        attention_mask: Any = None,
        token_type_ids: Any = None,
        word_mask: Any = None,
    ) -> SimpleNamespace:
        out = self.run("logits", input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = torch.from_numpy(out)
        decoded = None
        if self.crf is not None and word_mask is not None:
            from headstart.modeling.crf_tagger import decode_words

            decoded = decode_words(self.crf, logits, torch.as_tensor(word_mask).bool())
        if self.span_logits:
            return SimpleNamespace(logits=logits, start_logits=logits[..., 0], end_logits=logits[..., 1], decoded=None)
        return SimpleNamespace(logits=logits, decoded=decoded)

    __call__ = forward

    @property
    def base_model(self) -> _OnnxEncoder:
        return _OnnxEncoder(self)


class _OnnxEncoder:
    """The encoder's last hidden states from the same graph (for embeddings)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.config = model.config
        self.device = "cpu"

    def __call__(self, **batch: Any) -> SimpleNamespace:
        return SimpleNamespace(last_hidden_state=torch.from_numpy(self.model.run("last_hidden_state", **batch)))


def _warn_if_saturating(meta: dict[str, Any], file: Path) -> None:
    """An int8 graph made for VNNI (every matmul in int8; exports before ``int8_target`` were
    all such) loses accuracy on a CPU without it (``onnx_export``'s docstring: 82.2 against 84.3)."""
    if meta.get("quantize") != "int8" or (meta.get("int8") or {}).get("target", "vnni") != "vnni":
        return
    from headstart.acceleration.hardware import int8_saturates

    if int8_saturates():
        logger.warning(
            "%s quantizes every matmul to int8, which this CPU (no VNNI) computes with 16-bit "
            "saturation: expect a lower accuracy; export again with --int8-target avx2 (or auto, on "
            "this machine) for a graph that keeps the feed-forward matmuls after GELU in fp32",
            file,
        )


def _numpy(value: Any) -> np.ndarray:
    array = value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return array.astype(np.int64)


def _load_crf(path: Path, info: ModelInfo) -> Any:
    from safetensors.torch import load_file

    from headstart.modeling.crf import CRF
    from headstart.modeling.crf_tagger import transition_constraints

    names = list(info.labels)
    allowed, start = transition_constraints(dict(enumerate(names)))
    crf = CRF(len(names), allowed, start)
    crf.load_state_dict(load_file(str(path / "crf.safetensors")))
    return crf.eval()
