"""How fast a backbone runs on this machine: one training step and prediction, timed here.

What ``headstart models --measure`` prints, so that the choice between a fast and a strong
backbone is made with this machine's numbers rather than another's.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from headstart.acceleration.hardware import autocast, choose_bf16

BATCH, TOKENS = 16, 128  # the batch the docs' speed figures use


def measure_backbone(path: str, *, batch: int = BATCH, tokens: int = TOKENS, repeats: int = 2) -> dict[str, Any]:
    """Seconds of one training step (forward and backward) and texts per second predicted, for a
    ``batch`` of ``tokens``-token inputs, in the precision training would pick here (bf16 where native)."""
    from transformers import AutoConfig

    from headstart.modeling.backbones import encoder_class

    config = AutoConfig.from_pretrained(path)
    model = encoder_class(config).from_pretrained(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    bf16 = choose_bf16(None, device)
    vocab = int(getattr(config, "vocab_size", 1000))
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(min(1000, vocab // 2), vocab - 1, (batch, tokens), generator=generator).to(device)
    mask = torch.ones_like(ids)

    def step() -> None:
        with autocast(device, bf16):
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        out.float().mean().backward()
        model.zero_grad(set_to_none=True)

    def predict() -> None:
        with torch.inference_mode(), autocast(device, bf16):
            model(input_ids=ids, attention_mask=mask)

    model.train()
    train_seconds = _timed(step, repeats)
    model.eval()
    predict_seconds = _timed(predict, repeats)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "precision": "bf16" if bf16 else "fp32",
        "train_step_seconds": round(train_seconds, 3),
        "predict_texts_per_second": round(batch / predict_seconds, 1),
        "batch": batch,
        "tokens": tokens,
        "model_class": type(model).__name__,
    }


def _timed(fn: Any, repeats: int) -> float:
    fn()  # the first call builds kernels and caches: not timed
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats
