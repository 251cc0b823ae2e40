"""Model FLOPs of a Transformer pass, and the machine's matmul peak, for utilisation figures.

Model FLOPs count the useful work of real tokens only (padding is waste, not work), in the
usual way (Kaplan et al. 2020, PaLM's MFU): a forward pass costs 2 FLOPs per weight of every
linear layer per token, plus the attention scores and their weighted sum, 4 * layers * width *
t per token of a sequence of t tokens; a training step is 3x the forward (the backward pass
computes gradients for both activations and weights). Embedding lookups cost no matmul.

Example::

    flops = model_flops(model, [12, 40], train=True)   # two sequences of 12 and 40 tokens
    utilisation = flops / seconds / matmul_peak("bf16")
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch


def linear_weights(model: torch.nn.Module) -> int:
    """Weights of the linear layers (the matmul work per token), embeddings and norms left out."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def layers_and_width(config: Any) -> tuple[int, int]:
    """Transformer layers and model width from a config (headstart's own heads keep the
    backbone's config as a dict under ``encoder``)."""
    encoder = getattr(config, "encoder", None)
    if isinstance(encoder, dict):
        config = type("Encoder", (), encoder)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = getattr(text, "num_hidden_layers", None) or getattr(text, "num_layers", 0)
    width = getattr(text, "hidden_size", None) or getattr(text, "d_model", 0)
    return int(layers), int(width)


def model_flops(model: torch.nn.Module, lengths: Iterable[int], *, train: bool) -> float:
    """FLOPs of one pass over sequences of these real lengths (training: forward + backward)."""
    lengths = list(lengths)
    return flops_from_counts(model, sum(lengths), sum(t * t for t in lengths), train=train, sequences=len(lengths))


def flops_from_counts(
    model: torch.nn.Module, tokens: int, sum_squared_lengths: int, *, train: bool, sequences: int | None = None
) -> float:
    """``model_flops`` from the total of real tokens and of squared lengths per sequence. With the
    number of ``sequences``, the work a last layer that computes only the first token skips
    (``acceleration/first_token.py``) is left out: what is counted is what runs."""
    layers, width = layers_and_width(model.config)
    forward = 2 * linear_weights(model) * tokens + 4 * layers * width * sum_squared_lengths
    if sequences is not None:
        forward -= skipped_by_first_token(model, tokens, sum_squared_lengths, sequences)
    return float(3 * forward if train else forward)


def skipped_by_first_token(model: torch.nn.Module, tokens: int, sum_squared_lengths: int, sequences: int) -> float:
    """Forward FLOPs the first-token last layer does not compute: its query, output and
    feed-forward weights for every token but the first of each sequence, and its attention for
    every query but the first (keys and values still take every token)."""
    from headstart.acceleration.first_token import first_token_active, last_layer

    layer = last_layer(model)
    if layer is None or not first_token_active(model):
        return 0.0
    attention = layer.attention.self
    weights = sum(m.weight.numel() for m in layer.modules() if isinstance(m, torch.nn.Linear))
    skipped_weights = weights - attention.key.weight.numel() - attention.value.weight.numel()
    width = attention.query.weight.shape[0]
    return float(2 * skipped_weights * (tokens - sequences) + 4 * width * (sum_squared_lengths - tokens))


def training_flops_per_token(config: Any, length: int, weights: int | None = None) -> float:
    """Training FLOPs per token of a sequence of ``length`` tokens, from the config alone (BERT-like
    layout: 4 d^2 attention projections + 2 d ff feed-forward weights per layer) unless ``weights``."""
    layers, width = layers_and_width(config)
    if weights is None:
        ff = getattr(config, "intermediate_size", 4 * width)
        weights = layers * (4 * width * width + 2 * width * ff)
    return float(3 * (2 * weights + 4 * layers * width * length))


def matmul_peak(dtype: str = "fp32", size: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of a matmul in ``fp32`` or ``bf16`` on the CPU, with torch's threads: the best
    of a ``size``^3 product and the two feed-forward shapes of its scale (for 2048: 4096 tokens
    through 384 -> 1536 and 1536 -> 384, MiniLM's), since the peak is what utilisation divides by
    and a square product alone can fall below what the model's own shapes reach. Measured on a
    2-core Zen 4 EPYC, GFLOP/s: fp32 187.8 square, 193.5 and 197.6 feed-forward; bf16 425.5,
    428.9 and 439.5. On a Zen 3 EPYC the square product alone (81.1) read below the model's
    measured 96.2, a utilisation of 119 %.

    A dtype the CPU only emulates gets smaller products: bf16 without avx512_bf16 / AMX ran at
    0.18 GFLOP/s on a Zen 1 EPYC (fp32: 66), so one 2048^3 product would take ~95 s. A 256^3 probe
    sets the size so that one product takes about a second at most.
    """
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    probe = min(size, 256)
    rate = _matmul_rate(torch_dtype, (probe, probe, probe), 1 if size > probe else repeats)
    while size > probe and 2 * size**3 / rate > 1.0:
        size //= 2
    shapes = [(size, size, size), (2 * size, 3 * size // 16, 3 * size // 4), (2 * size, 3 * size // 4, 3 * size // 16)]
    rates = [_matmul_rate(torch_dtype, shape, repeats) for shape in shapes if min(shape) > 0]
    return max(rate, *rates)


def _matmul_rate(dtype: torch.dtype, shape: tuple[int, int, int], repeats: int) -> float:
    m, k, n = shape
    a = torch.randn(m, k, dtype=dtype)
    b = torch.randn(k, n, dtype=dtype)
    torch.matmul(a, b)  # warm-up: oneDNN picks and caches its kernel
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * m * k * n / best
