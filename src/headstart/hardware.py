"""What the hardware runs fast: bf16 or fp32, which attention implementation, which dropout.

Both training and prediction ask here, so a model trained in bf16 is also served in bf16 where
that pays. The choices are measurements on 2-core machines with avx512_bf16 (a Xeon, then an
AMD EPYC), torch 2.13, minilm:

- precision: a training step in bf16 autocast runs 2.0x the fp32 one (2,922 vs 1,444 tokens/s at
  16x128, ``bench/attention_speed.py``) on a CPU with native bf16 dot products (avx512_bf16 or
  AMX) — and there only: without them bf16 is emulated and slower than fp32.
- attention for training on CPU, both precisions: ``headstart`` (``modeling/attention.py``),
  which picks per layer call: eager's operations below ``LEAN_MIN_TOKENS`` (256) key tokens,
  torch's fused SDPA kernel (flash attention) from there on when the attention dropout is 0
  (``model.attention_dropout``, the default), and otherwise a lean function that recomputes the
  probabilities in the backward pass and draws its dropout mask 10x cheaper than ``torch.dropout``.
  Minilm bf16 training steps without attention dropout, ms per step on a 2-core AMD EPYC: 16x128
  eager 583 against SDPA's 802, 16x64 295 against 359, 8x192 517 against 550, 8x256 681
  against 703 (1.57 against 1.25 GB), 8x320 1,317 against 1,042, 8x512 SDPA 1,820 (1.50 GB)
  against eager's 3,788 — short inputs favour eager, long ones the fused kernel. With attention
  dropout 0.1 the lean function ran 8x512 steps at 1,482 real tokens/s and 1.56 GB against
  eager's 606 at 2.94 GB (SDPA 701 / 3.27 GB) on the Xeon of earlier measurements; on the EPYC
  3,295 ms against the fused kernel's 1,820 without dropout.
- attention for prediction: ``sdpa`` in both precisions. With real, padded batches SDPA was
  faster (``Predictor`` on 400 IMDB test reviews: bf16 37.1 and 33.1 reviews/s against eager's
  26.4 and 24.0; fp32 23.9 against 16.8), although unpadded synthetic batches had favoured eager
  in bf16 — the measurement on real inputs decides.
- CUDA: ``sdpa`` (flash / memory-efficient kernels with their own dropout), transformers'
  default.
- oneDNN's primitive cache on CPU: oneDNN runs torch's bf16 matmuls and keeps each primitive it
  built (up to 1,024), one per matmul shape; on an AMX Xeon they hold megabytes each, and batches
  of ever-different lengths kept adding shapes (IMDB training climbed to 2.88 GB). Bounding the
  cache to 64 entries (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``) held IMDB at 2.22 GB in the same time
  but made MRPC and CoNLL steps 20-25 % slower (primitives rebuilt every step); padding batches to
  a multiple of 8 (``train.pad_to_multiple_of``) leaves 8x fewer shapes and oneDNN's own cache:
  IMDB 2.43 GB and 67.4 s, MRPC 1.45 GB and 123.3 s (121.6 before). In fp32 torch's CPU matmuls
  do not go through that cache, and the multiple is only more padding: CoNLL-2003 on a 2-core
  Zen 3 EPYC (AVX2, no native bf16), two paired runs in either order, trained in 282.1 s with it
  against 243.1 without, then 284.6 against 280.1 (17.2 % padding against 4.2 %; peak RSS 1.38
  against 1.49 GB); hence 8 in bf16 only (on GPUs bf16 tensor cores also favour multiples of 8).
- dropout for training: on CPU headstart's (``modeling/dropout.py``: the mask drawn from numpy's
  SFC64, 0.9 against ``bernoulli_``'s 2.7 ms for 16x50x384; minilm bf16 steps 12 % faster at
  16x50 and 8x512 on the EPYC with avx512_bf16); on CUDA torch's, whose kernel draws on the GPU.

Example::

    precision = choose_bf16(None, "cpu")        # True on an avx512_bf16 / AMX CPU
    attention_implementation("cpu", precision, training=True)  # -> "headstart"
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from headstart.errors import ConfigError
from headstart.modeling import attention as lean_attention
from headstart.modeling import dropout as lean_dropout

logger = logging.getLogger(__name__)

# (device type, bf16, training) -> attention implementation; the measurements above.
ATTENTION = {
    ("cpu", True, True): "headstart",
    ("cpu", False, True): "headstart",
}


def cpu_bf16_native() -> bool:
    """Whether this CPU has bf16 dot-product instructions (x86 avx512_bf16 / AMX, Arm bf16)."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if probe is not None and amx is not None:
        with contextlib.suppress(Exception):
            if probe() or amx():
                return True
            if platform.machine() in ("x86_64", "AMD64", "i386"):
                return False
    # Arm (and the fallback when torch's probes are missing): the kernel's CPU flags.
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags() -> set[str]:
    """The kernel's CPU feature flags (x86 "flags", Arm "Features"); empty where unreadable."""
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("flags", "features")):
                flags.update(line.split(":", 1)[1].split())
    return flags


def int8_saturates() -> bool:
    """Whether ONNX Runtime's u8 x s8 matmuls can saturate on this CPU: x86 without VNNI (AVX2,
    plain AVX-512) multiplies with ``vpmaddubsw``, which adds each pair of products into 16 bits
    with saturation, so large activations (the GELU outputs that feed a feed-forward block's second
    matmul) come out clipped. VNNI (``avx512_vnni``, ``avx_vnni``, AMX) adds into 32 bits; Arm's
    dot-product kernels too. Unknown flags (no /proc/cpuinfo) count as not saturating."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return False
    flags = cpu_flags()
    return bool(flags) and not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}


def bf16_fast(device: str) -> bool:
    """Whether bf16 autocast is native (fast) on ``device`` ("cpu", "cuda", "cuda:1", ...)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if kind == "cpu":
        return cpu_bf16_native()
    return False


ENV = "HEADSTART_BF16"  # 1 / 0: what "auto" means on this machine (CI runs, reproducing a run)


def choose_bf16(requested: bool | None, device: str) -> bool:
    """``requested`` when given (the user's --bf16 true/false), else $HEADSTART_BF16 when set, else
    whether bf16 is native here."""
    if requested is not None:
        return _warn_if_emulated(requested, device, "the bf16 setting (--bf16 true)")
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("1", "true", "0", "false"):
        return _warn_if_emulated(forced in ("1", "true"), device, f"${ENV}={forced}")
    if forced not in ("", "auto"):
        raise ConfigError(f"${ENV} of 1, 0 or auto", found=repr(forced), fix=f"unset {ENV} or set it to 1 or 0")
    chosen = bf16_fast(device)
    logger.info(
        "precision: %s (%s)",
        "bf16 autocast" if chosen else "fp32",
        f"native bf16 on this {torch.device(device).type}" if chosen else "no native bf16 on this device",
    )
    return chosen


def _warn_if_emulated(bf16: bool, device: str, source: str) -> bool:
    """``bf16``, with a warning where it is forced on a device that only emulates it: on a CPU
    without avx512_bf16 / AMX (a Zen 1 EPYC) a bf16 matmul ran at 0.18 GFLOP/s against fp32's 66,
    and a minilm 16x56 training step took 16.1 s against 1.26 s in fp32."""
    if bf16 and not bf16_fast(device):
        logger.warning(
            "precision: bf16 forced by %s, but this %s has no native bf16 (avx512_bf16, AMX or a bf16 GPU): "
            "it is emulated, and training can run over 10x slower than fp32; unset it to let headstart choose",
            source,
            torch.device(device).type,
        )
    return bf16


# device type -> dropout for training (``modeling/dropout.py``: its mask is drawn on the CPU;
# CUDA's own dropout kernel is fast). Minilm bf16 steps on a 2-core EPYC with avx512_bf16: 16x50
# 173 -> 152 ms, 8x512 1,380 -> 1,221 ms.
DROPOUT = {"cpu": lean_dropout.NAME}


def dropout_implementation(device: str) -> str:
    """The dropout for training on this device type: ``"headstart"`` or ``"torch"``."""
    return DROPOUT.get(torch.device(device).type, "torch")


# (device type, bf16) -> the multiple training batches are padded to (``train.pad_to_multiple_of``
# left unset); none where not listed. The measurements above.
PAD_MULTIPLE = {("cpu", True): 8, ("cuda", True): 8}


def pad_multiple(device: str, bf16: bool) -> int | None:
    """The multiple of tokens training batches pad to on this device type and precision, or None
    (each batch to its longest input)."""
    return PAD_MULTIPLE.get((torch.device(device).type, bf16))


def attention_implementation(device: str, bf16: bool, *, training: bool = False) -> str:
    """The attention implementation measured fastest for this device type, precision and pass
    (SDPA, transformers' default, wherever the table has no measured exception)."""
    return ATTENTION.get((torch.device(device).type, bf16, training), "sdpa")


def _backbones(model: Any) -> list[Any]:
    """The transformers models inside ``model`` (a stock head's base model shares its config; a
    headstart head holds its backbone as a submodule), or the model itself."""
    from transformers import PreTrainedModel

    inner = [m for m in model.modules() if isinstance(m, PreTrainedModel) and m is not model]
    return inner or [model]


def attention_of(model: Any) -> str:
    """The attention implementation ``model``'s backbone runs."""
    return getattr(getattr(_backbones(model)[0], "config", None), "_attn_implementation", None) or "default"


def set_attention(model: Any, implementation: str) -> str:
    """Switch a loaded model (and the backbone inside a headstart head) to ``implementation``;
    what its backbone now uses.

    The choice is a run-time setting: transformers does not save it in config.json, so a saved
    model loads with the library default elsewhere. A model without that implementation keeps its
    own (logged).
    """
    if attention_of(model) == implementation:
        return implementation
    if implementation == lean_attention.NAME:
        lean_attention.register()
    for owner in [model, *_backbones(model)]:  # the outer model first: a stock head switches its base with it
        config = getattr(owner, "config", None)
        if getattr(config, "_attn_implementation", None) == implementation or not hasattr(
            owner, "set_attn_implementation"
        ):
            continue
        try:
            owner.set_attn_implementation(implementation)
        except (ValueError, ImportError) as exc:
            if owner is not model:
                logger.info(
                    "attention: %s keeps %s (%s unavailable: %s)",
                    type(owner).__name__,
                    config._attn_implementation,
                    implementation,
                    exc,
                )
    # models whose attention is not transformers' functional kind only log a warning and keep theirs
    return attention_of(model)


@contextlib.contextmanager
def autocast(device: str, bf16: bool) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``bf16``, else nothing."""
    if not bf16:
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        yield
