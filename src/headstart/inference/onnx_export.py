"""export_onnx: a saved model directory -> a directory with an ONNX graph, checked against PyTorch.

The model is switched to eager attention and traced with the TorchScript exporter
(``torch.onnx.export(dynamo=False)``, batch and sequence length dynamic), then ONNX Runtime's
transformer optimizer fuses each layer's attention, layer norms and GELU; the dynamo exporter's
graph, which no fusion recognises, ran slower, and with SDPA attention the TorchScript graph was
wrong, hence eager (docs: Benchmarks, Export); the dynamo exporter remains the fallback. ``--quantize int8``
applies ONNX Runtime's dynamic quantization: int8 weights per output channel for the MatMuls and
the fused attention, activations quantized per batch (u8 x s8, what VNNI instructions multiply).
Without VNNI (AVX2) those multiplies add pairs of products into 16 bits with saturation, and the
GELU outputs that feed each feed-forward block's second matmul are large enough to clip, which
costs accuracy there (the measured choices are on the docs' benchmarks page). Hence
``int8_target``: "vnni" quantizes every matmul, "avx2" keeps the matmuls fed by a GELU in fp32,
"auto" (the default) picks for the CPU that exports (``hardware.int8_saturates``), and
``Predictor.load`` warns when a "vnni" graph runs on a CPU without VNNI.

The parity check runs fixed probe texts through PyTorch and the exported graph: fp32 logits must
agree within 1e-4 or nothing is written; for int8 the largest difference and the agreement of the
predicted labels are reported. The output is written into a hidden sibling and renamed at the
end, and an existing output is replaced only with ``overwrite``.

Example::

    report = export_onnx("runs/sst2", "runs/sst2-onnx", quantize="int8")
    report.parity["fp32_max_abs_diff"], report.size_mb
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from headstart.acceleration.first_token import use_full_layer
from headstart.artifacts import check_output_dir, publish
from headstart.errors import ConfigError, ExportError
from headstart.inference.onnx_runtime import RUNTIME, OnnxModel, onnxruntime
from headstart.inference.predictor import Predictor

FORMATS = ("onnx",)
QUANTIZATIONS = ("int8",)
INT8_TARGETS = ("auto", "vnni", "avx2")
# the ops whose output is a GELU's; a MatMul fed by one is the second of a feed-forward block
GELU_OPS = {"Gelu", "BiasGelu", "FastGelu", "QuickGelu", "Erf", "Tanh"}
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
# ONNX Runtime's transformer optimizer per transformers model_type (encoders of the BERT family
# share its "bert" fusions); a type missing here is exported unfused, which is only slower.
ORT_MODEL_TYPES = {
    "bert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "distilbert": "bert",
    "electra": "bert",
    "gpt2": "gpt2",
    "t5": "t5",
}
COPIED = ("README.md", "metrics.json", "report.html")


@dataclass
class ExportReport:
    output: Path
    format: str
    quantize: str | None
    size_mb: float
    seconds: float
    parity: dict[str, Any] = field(default_factory=dict)
    int8: dict[str, Any] | None = None  # the target CPU and the matmuls kept in fp32


class _Graph(torch.nn.Module):
    """What the graph computes: logits (a CRF's emissions) and the encoder's last hidden states."""

    def __init__(self, model: torch.nn.Module, inputs: list[str]) -> None:
        super().__init__()
        self.model = model
        self.inputs = inputs
        # The CRF tagger's forward also runs Viterbi — a Python loop a graph cannot hold: the graph
        # stops at the emissions and decoding stays in post-processing.
        self.emissions_only = hasattr(model, "crf")

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        batch = {k: given[k] for k in self.inputs}
        if self.emissions_only:
            hidden = self.model.encoder(**batch).last_hidden_state  # [B, T, H]
            return self.model.classifier(hidden), hidden  # eval: dropout is the identity
        out = self.model(**batch, output_hidden_states=True)
        return graph_logits(out), out.hidden_states[-1]


def graph_logits(out: Any) -> torch.Tensor:
    """A model's logits as the graph's one ``logits`` output; a span head's start and end logits
    (question answering) side by side as ``[batch, tokens, 2]``."""
    if getattr(out, "start_logits", None) is not None:
        return torch.stack([out.start_logits, out.end_logits], dim=-1)
    return out.logits


def export_onnx(
    model_dir: str | Path,
    output: str | Path,
    *,
    format: str = "onnx",
    quantize: str | None = None,
    int8_target: str = "auto",
    overwrite: bool = False,
) -> ExportReport:
    """Export a saved model to ONNX (optionally int8) and check it against PyTorch on probe texts.

    Args:
        model_dir: A directory written by ``headstart train``.
        output: The directory to write; it loads with ``Predictor.load``.
        format: The export format.
        quantize: int8 weights (dynamic quantization): smaller, faster on CPU.
        int8_target: The CPU the int8 graph is for: vnni (VNNI/AMX: every matmul int8), avx2 (no
            VNNI: the matmuls after GELU stay fp32, which int8 would saturate there), auto (this machine's).
        overwrite: Replace an existing output directory.
    """
    if format not in FORMATS:
        raise ConfigError(f"--format among {', '.join(FORMATS)}", found=repr(format), fix="use --format onnx")
    if quantize not in (None, *QUANTIZATIONS):
        raise ConfigError(f"--quantize among {', '.join(QUANTIZATIONS)}", found=repr(quantize), fix="use int8 or omit")
    if int8_target not in INT8_TARGETS:
        raise ConfigError(
            f"--int8-target among {', '.join(INT8_TARGETS)}",
            found=repr(int8_target),
            fix="auto (for this CPU), vnni (CPUs with VNNI or AMX) or avx2 (CPUs without)",
        )
    started = time.perf_counter()
    source, out = Path(model_dir), Path(output)
    predictor = Predictor.load(source, device="cpu", bf16=False)  # the graph is traced in fp32
    if predictor.info.runtime == RUNTIME:
        raise ConfigError(
            "a PyTorch model directory to export",
            found=f"{source} is already an ONNX export",
            fix="export the original",
        )
    refusal = predictor.task.export_refusal(predictor.info)
    if refusal is not None:
        raise ExportError(
            "a model that runs as one forward pass per input",
            found=refusal,
            fix="serve the PyTorch directory (headstart serve / Predictor.load work on it unchanged)",
            file=source,
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
        report = _export(predictor, source, stage, quantize, int8_target)
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


def _export(predictor: Predictor, source: Path, stage: Path, quantize: str | None, int8_target: str) -> ExportReport:
    model = _eager(predictor.model.float().eval())
    tokenizer = predictor.tokenizer
    probe = _probe_batch(predictor)
    # the order of _Graph.forward's parameters; models without token types have two inputs
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]
    graph = _Graph(model, names).eval()
    example = tuple(probe[k] for k in names)
    feed = {k: probe[k].numpy().astype(np.int64) for k in names}
    with torch.no_grad():
        expected, hidden = (t.numpy() for t in graph(*example))
        spans = getattr(model(**{k: probe[k] for k in names}), "start_logits", None) is not None
    raw = stage / "model.onnx"
    exporter = _trace(graph, example, names, raw, predictor.info.max_length)
    diff = float(np.abs(_session_logits(raw, feed) - expected).max())
    if not diff <= FP32_TOLERANCE and exporter == "torchscript":  # the other exporter may do better
        exporter = _trace(graph, example, names, raw, predictor.info.max_length, dynamo=True)
        diff = float(np.abs(_session_logits(raw, feed) - expected).max())
    parity: dict[str, Any] = {"probes": int(expected.shape[0]), "fp32_max_abs_diff": diff, "tolerance": FP32_TOLERANCE}
    if not diff <= FP32_TOLERANCE:
        raise ExportError(
            f"ONNX fp32 logits within {FP32_TOLERANCE} of PyTorch's",
            found=f"a difference of {diff:.3g} on the probe texts",
            fix="report it with the model's config; nothing was written",
        )
    fused = _fuse(raw, _encoder_config(model), feed, expected)
    parity["fused_operators"] = fused
    file = "model.onnx"
    quantized: dict[str, Any] | None = None
    if quantize == "int8":
        file = "model_int8.onnx"
        quantized = _quantize_int8(raw, stage / file, int8_target)
        raw.unlink()
        int8 = _session_logits(stage / file, feed)
        mask = probe["attention_mask"].numpy().astype(bool)
        if spans:  # the same start and end token, not the same class
            masked = np.where(mask[..., None], int8, -np.inf), np.where(mask[..., None], expected, -np.inf)
            same = masked[0].argmax(1) == masked[1].argmax(1)  # [B, 2]
        else:
            same = (int8.argmax(-1) == expected.argmax(-1))[mask if int8.ndim == 3 else slice(None)]
        parity.update(
            {"int8_max_abs_diff": float(np.abs(int8 - expected).max()), "int8_same_label": float(same.mean())}
        )
    parity["exporter"] = exporter
    tokenizer.save_pretrained(str(stage))
    model.config.save_pretrained(str(stage))
    if getattr(model, "crf", None) is not None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.crf.state_dict().items()}, str(stage / "crf.safetensors"))
    for name in COPIED:
        if (source / name).is_file():
            shutil.copy2(source / name, stage / name)
    record = {
        "file": file,
        "quantize": quantize,
        "int8": quantized,
        "inputs": names,
        "crf": getattr(model, "crf", None) is not None,
        "span_logits": spans,  # logits [B, T, 2]: start and end
        "hidden_size": int(hidden.shape[-1]),
        "exported_from": str(source),
        "parity": parity,
        "exporter": f"torch.onnx ({parity['exporter']}) {torch.__version__}",
    }
    replace(predictor.info, runtime=RUNTIME, onnx=record, adapters=None).write(stage)
    size = sum(p.stat().st_size for p in stage.iterdir() if p.suffix == ".onnx") / 1e6
    return ExportReport(stage, "onnx", quantize, round(size, 1), 0.0, parity, quantized)


def _eager(model: torch.nn.Module) -> torch.nn.Module:
    """Eager attention everywhere: the TorchScript exporter turns SDPA with a padding mask into a
    wrong graph (logits off by up to 0.47 on minilm), and ONNX Runtime's fusions recognise the
    eager pattern (one fused Attention op per layer), which is where int8 gets its speed. The
    last layer computes every token again (``Predictor`` makes it compute only [CLS], see
    ``acceleration/first_token.py``): the graph returns the whole last hidden state, and ONNX
    Runtime fuses only the stock attention pattern."""
    use_full_layer(model)
    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            try:
                module.set_attn_implementation("eager")
            except (ValueError, AttributeError, NotImplementedError):
                pass
    return model


def _trace(graph: _Graph, example: tuple, names: list[str], path: Path, max_length: int, dynamo: bool = False) -> str:
    """Write the graph with batch and sequence length dynamic; returns the exporter's name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation and axis-naming notices, not problems of the model
        try:
            if dynamo:
                batch_dim = torch.export.Dim("batch", min=1, max=4096)
                seq_dim = torch.export.Dim("sequence", min=2, max=max(max_length, 8))
                torch.onnx.export(
                    graph,
                    example,
                    str(path),
                    input_names=names,
                    output_names=["logits", "last_hidden_state"],
                    dynamic_shapes=tuple({0: batch_dim, 1: seq_dim} for _ in names),
                    dynamo=True,
                    external_data=False,
                    verbose=False,
                )
            else:
                axes = {k: {0: "batch", 1: "sequence"} for k in names}
                torch.onnx.export(
                    graph,
                    example,
                    str(path),
                    input_names=names,
                    output_names=["logits", "last_hidden_state"],
                    dynamic_axes={**axes, "logits": {0: "batch"}, "last_hidden_state": {0: "batch", 1: "sequence"}},
                    opset_version=17,
                    dynamo=False,
                )
        except Exception as exc:  # the exporters raise many kinds; the user needs the gist
            if not dynamo:
                return _trace(graph, example, names, path, max_length, dynamo=True)
            raise ExportError(
                "a model torch.onnx can trace",
                found=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                fix="report it with the model's config; the PyTorch directory keeps working",
            ) from None
    path.with_name(path.name + ".data").unlink(missing_ok=True)
    return "dynamo" if dynamo else "torchscript"


def _encoder_config(model: Any) -> Any:
    base = model.base_model
    return (base if base is not model else model.encoder).config


def _fuse(path: Path, config: Any, feed: dict[str, np.ndarray], expected: np.ndarray) -> dict[str, int]:
    """ONNX Runtime's transformer fusions (attention, layer norms, GELU) in place, kept only when
    the fused graph still matches PyTorch; returns the fused operators counted (empty: not fused)."""
    kind = ORT_MODEL_TYPES.get(str(getattr(config, "model_type", "")))
    if kind is None:
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        optimized = optimize_model(
            str(path),
            model_type=kind,
            num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0),
        )
        fused = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
        candidate = path.with_name("fused.onnx")
        optimized.save_model_to_file(str(candidate))
    except Exception as exc:  # a pattern the optimizer does not know: the plain graph is fine
        logging.getLogger(__name__).info("ONNX Runtime fusion skipped: %s", exc)
        return {}
    finally:
        root.setLevel(level)
    if float(np.abs(_session_logits(candidate, feed) - expected).max()) > FP32_TOLERANCE:
        candidate.unlink()
        return {}
    candidate.replace(path)
    return fused


def _probe_batch(predictor: Predictor) -> dict[str, torch.Tensor]:
    """The probe texts tokenized as the model reads them (pairs for a pair model), padded."""
    return predictor.task.probe_batch(predictor.tokenizer, predictor.info, list(PROBES))


def _session_logits(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    ort = onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    return session.run(["logits"], {k: v for k, v in feed.items() if k in wanted})[0]


def _quantize_int8(src: Path, dst: Path, target: str) -> dict[str, Any]:
    """Per-channel dynamic int8 for ``target`` (module docstring); returns what was done."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from headstart.acceleration.hardware import int8_saturates

    resolved = target if target != "auto" else ("avx2" if int8_saturates() else "vnni")
    keep = _gelu_fed_matmuls(onnx.load(str(src))) if resolved == "avx2" else []
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # a line per tensor, and a pre-processing hint, on the root logger
    try:
        # fused ops (Attention, SkipLayerNormalization) have no ONNX shape inference: say "float"
        quantize_dynamic(
            str(src),
            str(dst),
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    return {"target": resolved, "requested": target, "per_channel": True, "fp32_matmuls": keep}


def _gelu_fed_matmuls(model: Any, hops: int = 4) -> list[str]:
    """The MatMul nodes whose data input comes from a GELU (fused, or its Erf / Tanh pattern
    within ``hops`` producers): each feed-forward block's second matmul."""
    producer = {out: node for node in model.graph.node for out in node.output}

    def from_gelu(name: str, depth: int) -> bool:
        node = producer.get(name)
        if node is None or depth == 0:
            return False
        if node.op_type in GELU_OPS:
            return True
        return node.op_type in ("Mul", "Add", "Div", "Cast") and any(from_gelu(i, depth - 1) for i in node.input)

    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input and from_gelu(n.input[0], hops)]


__all__ = ["ExportReport", "OnnxModel", "export_onnx"]
