"""What the hardware runs fast: bf16 or fp32, and which attention implementation.

Both training and prediction ask here, so a model trained in bf16 is also served in bf16 where
that pays. The choices are measurements (``bench/attention_speed.py``, 2-core Xeon with
avx512_bf16, torch 2.13, minilm; tokens/s):

=========  =====  ==================  =====================  ==================
pass       dtype  eager               sdpa                   chosen
=========  =====  ==================  =====================  ==================
train      fp32   1444 (16x128)       1704                   sdpa
train      bf16   2922 / 1414 (8x512) 2328 / 938             eager
predict    fp32   6757                7654                   sdpa
predict    bf16   13973 / 9874        12763 / 8839           eager
=========  =====  ==================  =====================  ==================

bf16 autocast doubles training speed on a CPU with native bf16 dot products (avx512_bf16 or
AMX) — and there only: without them bf16 is emulated and slower than fp32. On such a CPU, SDPA's
fused kernel in bf16 is slower than the plain matmul-softmax-matmul of ``eager`` (oneDNN runs
the two batched matmuls in bf16; the fused CPU kernel does not use the bf16 units as well). On
CUDA, SDPA (flash / memory-efficient kernels) is the transformers default and stays.

Example::

    precision = choose_bf16(None, "cpu")        # True on an avx512_bf16 / AMX CPU
    attention_implementation("cpu", precision)  # -> "eager" in bf16, "sdpa" in fp32
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

logger = logging.getLogger(__name__)

# (device type, bf16) -> attention implementation; the measurements above.
ATTENTION = {
    ("cpu", False): "sdpa",
    ("cpu", True): "eager",
    ("cuda", False): "sdpa",
    ("cuda", True): "sdpa",
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
    with contextlib.suppress(OSError):
        flags = set()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("flags", "features")):
                flags.update(line.split(":", 1)[1].split())
        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


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
        return requested
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("1", "true", "0", "false"):
        return forced in ("1", "true")
    if forced not in ("", "auto"):
        raise ConfigError(f"${ENV} of 1, 0 or auto", found=repr(forced), fix=f"unset {ENV} or set it to 1 or 0")
    chosen = bf16_fast(device)
    logger.info(
        "precision: %s (%s)",
        "bf16 autocast" if chosen else "fp32",
        f"native bf16 on this {torch.device(device).type}" if chosen else "no native bf16 on this device",
    )
    return chosen


def attention_implementation(device: str, bf16: bool) -> str:
    """The attention implementation measured fastest for this device type and precision."""
    return ATTENTION.get((torch.device(device).type, bf16), "sdpa")


def set_attention(model: Any, implementation: str) -> str:
    """Switch a loaded model (and its nested encoder) to ``implementation``; what it now uses.

    The choice is a run-time setting: transformers does not save it in config.json, so a saved
    model loads with the library default elsewhere. A model without that implementation keeps its
    own (logged).
    """
    current = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if current == implementation or not hasattr(model, "set_attn_implementation"):
        return current or "default"
    try:
        model.set_attn_implementation(implementation)
    except (ValueError, ImportError) as exc:
        logger.info("attention: keeping %s (%s unavailable: %s)", current, implementation, exc)
        return current or "default"
    return implementation


@contextlib.contextmanager
def autocast(device: str, bf16: bool) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``bf16``, else nothing."""
    if not bf16:
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        yield
