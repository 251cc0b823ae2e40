"""What the hardware runs fast: bf16 or fp32, which attention implementation, which dropout.

Both training and prediction ask here, so a model trained in bf16 is also served in bf16 where
that pays. Each choice is the one measured fastest on the device, precision and pass (the
measurements are on the docs' benchmarks page, "Training speed settings"):

- precision: bf16 autocast where the CPU or GPU computes bf16 natively (avx512_bf16 or AMX on
  CPUs); elsewhere bf16 is emulated and slower than fp32.
- attention for training on CPU: ``headstart`` (``acceleration/attention.py``), which picks per layer
  call: eager's operations below ``LEAN_MIN_TOKENS`` key tokens, where they beat the fused kernel,
  torch's fused SDPA kernel from there on when the attention dropout is 0, and otherwise a lean
  function that keeps no tokens x tokens tensor for the backward pass.
- attention for prediction, and on CUDA: ``sdpa``.
- padding multiple: 8 in bf16, where fewer batch shapes let oneDNN reuse the matmul primitives it
  caches per shape (and GPU tensor cores favour multiples of 8); none in fp32, where it is only padding.
- dropout for training: on CPU headstart's (``acceleration/dropout.py``, a cheaper mask); on CUDA torch's.

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

from headstart.acceleration import attention as lean_attention
from headstart.acceleration import dropout as lean_dropout
from headstart.errors import ConfigError

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
    """``bf16``, with a warning where it is forced on a device that only emulates it (there a
    training step runs over 10x slower than in fp32)."""
    if bf16 and not bf16_fast(device):
        logger.warning(
            "precision: bf16 forced by %s, but this %s has no native bf16 (avx512_bf16, AMX or a bf16 GPU): "
            "it is emulated, and training can run over 10x slower than fp32; unset it to let headstart choose",
            source,
            torch.device(device).type,
        )
    return bf16


# device type -> dropout for training (``acceleration/dropout.py``: its mask is drawn on the CPU;
# CUDA's own dropout kernel is fast).
DROPOUT = {"cpu": lean_dropout.NAME}


def dropout_implementation(device: str) -> str:
    """The dropout for training on this device type: ``"headstart"`` or ``"torch"``."""
    return DROPOUT.get(torch.device(device).type, "torch")


# (device type, bf16) -> the multiple training batches are padded to (``speed.pad_to_multiple_of``
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
        if not getattr(owner, "_can_set_attn_implementation", lambda: True)():
            continue  # its own attention code (MPNet, DeBERTa): transformers would only warn and keep it
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
