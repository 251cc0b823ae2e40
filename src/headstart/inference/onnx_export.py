"""export_onnx: a saved model directory -> a directory with an ONNX graph, checked against PyTorch.

The graph is traced with ``torch.onnx.export(..., dynamo=True)`` (batch and sequence length
dynamic). The older TorchScript exporter was tried and rejected: on this stack (torch 2.13,
transformers 5) its BERT graph differed from PyTorch by up to 0.47 in the logits; the dynamo
graph differs by ~1e-6. ``--quantize int8`` then applies ONNX Runtime's dynamic quantization
(int8 weights for every MatMul, activations quantized per batch), which is what lets a CPU
without fast fp32 run several times faster.

The parity check runs fixed probe texts through PyTorch and the exported graph: fp32 logits must
agree within 1e-4 or nothing is written; for int8 the largest difference and the agreement of the
predicted labels are reported. The output is written into a hidden sibling and renamed at the
end, and an existing output is replaced only with ``overwrite``.

Example::

    report = export_onnx("runs/sst2", "runs/sst2-onnx", quantize="int8")
    report.parity["fp32_max_abs_diff"], report.size_mb
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.artifacts import INFO_FILE, check_output_dir, publish
from headstart.errors import ConfigError, ExportError
from headstart.inference.onnx_runtime import RUNTIME, OnnxModel, onnxruntime
from headstart.inference.predictor import Predictor

FORMATS = ("onnx",)
QUANTIZATIONS = ("int8",)
FP32_TOLERANCE = 1e-4
PROBES = [
    "a gorgeous, witty, seductive movie.",
    "The acting is wooden and the plot never takes off",
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn",
    "ok",
    "I would not watch this again, not even for free; two hours of my life I will never get back!",
    "Shares of Acme Corp. rose 3.5% on Tuesday after the company said its profits doubled in New York.",
    "quiet , understated and deeply moving",
]
COPIED = ("README.md", "metrics.json", "report.html")


@dataclass
class ExportReport:
    output: Path
    format: str
    quantize: str | None
    size_mb: float
    seconds: float
    parity: dict[str, Any] = field(default_factory=dict)


class _Graph(torch.nn.Module):
    """What the graph computes: logits (a CRF's emissions) and the encoder's last hidden states."""

    def __init__(self, model: torch.nn.Module, inputs: list[str]) -> None:
        super().__init__()
        self.model = model
        self.inputs = inputs
        # A head that is its own base model keeps its encoder in .encoder (the CRF tagger, whose
        # forward also runs Viterbi — a Python loop a graph cannot hold; it stays in post-processing).
        self.emissions_only = model.base_model is model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        batch = {k: given[k] for k in self.inputs}
        if self.emissions_only:
            hidden = self.model.encoder(**batch).last_hidden_state  # [B, T, H]
            return self.model.classifier(hidden), hidden  # eval: dropout is the identity
        out = self.model(**batch, output_hidden_states=True)
        return out.logits, out.hidden_states[-1]


def export_onnx(
    model_dir: str | Path,
    output: str | Path,
    *,
    format: str = "onnx",
    quantize: str | None = None,
    overwrite: bool = False,
) -> ExportReport:
    if format not in FORMATS:
        raise ConfigError(f"--format among {', '.join(FORMATS)}", found=repr(format), fix="use --format onnx")
    if quantize not in (None, *QUANTIZATIONS):
        raise ConfigError(f"--quantize among {', '.join(QUANTIZATIONS)}", found=repr(quantize), fix="use int8 or omit")
    started = time.perf_counter()
    source, out = Path(model_dir), Path(output)
    predictor = Predictor.load(source, device="cpu")
    if predictor.info.raw.get("runtime") == RUNTIME:
        raise ConfigError(
            "a PyTorch model directory to export",
            found=f"{source} is already an ONNX export",
            fix="export the original",
        )
    onnxruntime()  # a missing package is reported before minutes of tracing
    check_output_dir(out, overwrite)
    stage = out.parent / f".{out.name}.export-partial"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    quiet = [logging.getLogger(n) for n in ("onnxscript", "onnx_ir", "torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:  # their INFO lines (one per folded initializer) drown the report
        lg.setLevel(logging.WARNING)
    try:
        report = _export(predictor, source, stage, quantize)
        publish(stage, out, overwrite)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    report.output = out
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def _export(predictor: Predictor, source: Path, stage: Path, quantize: str | None) -> ExportReport:
    model = predictor.model.float().eval()
    tokenizer = predictor.tokenizer
    probe = _probe_batch(predictor)
    # the order of _Graph.forward's parameters; models without token types have two inputs
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]
    graph = _Graph(model, names)
    batch_dim = torch.export.Dim("batch", min=1, max=4096)
    seq_dim = torch.export.Dim("sequence", min=2, max=max(predictor.info.max_length, 8))
    example = tuple(probe[k] for k in names)
    with torch.no_grad(), warnings.catch_warnings():
        # "axis name batch will not be used": the axes are named once per input, which is fine
        warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape")
        expected, hidden = (t.numpy() for t in graph(*example))
        try:
            torch.onnx.export(
                graph,
                example,
                str(stage / "model.onnx"),
                input_names=names,
                output_names=["logits", "last_hidden_state"],
                dynamic_shapes=tuple({0: batch_dim, 1: seq_dim} for _ in names),
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        except Exception as exc:  # the exporter raises many kinds; the user needs the gist
            raise ExportError(
                "a model torch.onnx can trace",
                found=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                fix="report it with the model's config; the PyTorch directory keeps working",
            ) from None
    (stage / "model.onnx.data").unlink(missing_ok=True)
    feed = {k: probe[k].numpy().astype(np.int64) for k in names}
    fp32 = _session_logits(stage / "model.onnx", feed)
    diff = float(np.abs(fp32 - expected).max())
    parity: dict[str, Any] = {"probes": int(expected.shape[0]), "fp32_max_abs_diff": diff, "tolerance": FP32_TOLERANCE}
    if not diff <= FP32_TOLERANCE:
        raise ExportError(
            f"ONNX fp32 logits within {FP32_TOLERANCE} of PyTorch's",
            found=f"a difference of {diff:.3g} on the probe texts",
            fix="report it with the model's config; nothing was written",
        )
    file = "model.onnx"
    if quantize == "int8":
        file = "model_int8.onnx"
        _quantize_int8(stage / "model.onnx", stage / file)
        (stage / "model.onnx").unlink()
        int8 = _session_logits(stage / file, feed)
        mask = probe["attention_mask"].numpy().astype(bool)
        same = (int8.argmax(-1) == expected.argmax(-1))[mask if int8.ndim == 3 else slice(None)]
        parity.update(
            {"int8_max_abs_diff": float(np.abs(int8 - expected).max()), "int8_same_label": float(same.mean())}
        )
    tokenizer.save_pretrained(str(stage))
    model.config.save_pretrained(str(stage))
    if getattr(model, "crf", None) is not None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.crf.state_dict().items()}, str(stage / "crf.safetensors"))
    for name in COPIED:
        if (source / name).is_file():
            shutil.copy2(source / name, stage / name)
    info = dict(predictor.info.raw)
    info["runtime"] = RUNTIME
    info["onnx"] = {
        "file": file,
        "quantize": quantize,
        "inputs": names,
        "crf": getattr(model, "crf", None) is not None,
        "hidden_size": int(hidden.shape[-1]),
        "exported_from": str(source),
        "parity": parity,
        "exporter": f"torch.onnx (dynamo) {torch.__version__}",
    }
    (stage / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in stage.iterdir() if p.suffix == ".onnx") / 1e6
    return ExportReport(stage, "onnx", quantize, round(size, 1), 0.0, parity)


def _probe_batch(predictor: Predictor) -> dict[str, torch.Tensor]:
    """The probe texts tokenized as the predictor would (pairs for a pair model), padded."""
    texts = PROBES
    pairs = list(reversed(PROBES)) if predictor.is_pair else None
    return predictor.tokenizer(
        texts, pairs, padding=True, truncation=True, max_length=predictor.info.max_length, return_tensors="pt"
    )


def _session_logits(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    ort = onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    return session.run(["logits"], {k: v for k, v in feed.items() if k in wanted})[0]


def _quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # the quantizer logs a line per tensor on the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


__all__ = ["ExportReport", "OnnxModel", "export_onnx"]
