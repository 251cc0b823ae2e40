"""How a model is prepared for a device, precision and pass: the speed code in one place.

``prepare`` is the one entry point the Trainer (training), evaluation and the ``Predictor``
(inference) call; it picks the attention kernel, the dropout and the last layer's work from what
measured fastest (``hardware.py``) unless a setting names them. The parts:

- ``hardware.py``: what the device computes fast (bf16 or fp32, attention, dropout, padding multiple);
- ``attention.py``, ``dropout.py``, ``first_token.py``: the kernels and module swaps themselves;
- ``clipping.py``: gradient clipping inside the fused optimizer step;
- ``flops.py``: model FLOPs and the matmul peak, for the throughput a run reports.

Example::

    prepare(model, device="cpu", bf16=False, training=False)  # what Predictor does
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from headstart.acceleration import attention as lean_attention
from headstart.acceleration import dropout as lean_dropout
from headstart.acceleration.first_token import use_first_token_layer, use_full_layer
from headstart.acceleration.hardware import (
    attention_implementation,
    attention_of,
    autocast,
    choose_bf16,
    dropout_implementation,
    pad_multiple,
    set_attention,
)
from headstart.errors import ConfigError
from headstart.modeling.backbones import backbone_configs, supports_lean_attention

logger = logging.getLogger(__name__)


@dataclass
class Preparation:
    """What ``prepare`` chose, for the log and ``headstart.json``."""

    attention: str
    dropout: str | None  # training only
    first_token: bool  # the last layer computes the first token alone


def prepare(
    model: Any,
    *,
    device: str,
    bf16: bool,
    training: bool,
    attn_implementation: str | None = None,
    dropout_implementation_name: str | None = None,
    last_layer_first_token: bool = True,
) -> Preparation:
    """Set ``model`` up for ``device`` and precision, for training or inference.

    A setting given by name (``attn_implementation``, ``dropout_implementation_name``) is used or
    refused with a ConfigError, never silently replaced; unset, the measured default is used.
    """
    attention = _attention(model, device, bf16, training, attn_implementation)
    dropout = None
    if training:
        dropout = dropout_implementation_name or dropout_implementation(device)
        if dropout == lean_dropout.NAME:
            logger.info("dropout: headstart's cheaper mask in %d dropout modules", lean_dropout.use_lean_dropout(model))
        else:
            lean_dropout.use_torch_dropout(model)
    # Inference always reads the first token alone where it can: the same logits, less work.
    first_token = (last_layer_first_token or not training) and use_first_token_layer(model)
    if not first_token:
        use_full_layer(model)
    elif training:
        logger.info("last layer: the first token only (the head reads nothing else)")
    return Preparation(attention, dropout, first_token)


def _attention(model: Any, device: str, bf16: bool, training: bool, asked: str | None) -> str:
    attention = asked or attention_implementation(device, bf16, training=training)
    if attention == lean_attention.NAME and not supports_lean_attention(model):
        if asked:
            raise ConfigError(
                "speed.attn_implementation: headstart only for a model type marked lean_attention in "
                "headstart/modeling/backbones.py (BERT family, GPT-2, Llama, Mistral, Qwen, Phi, Gemma, ...)",
                found="model type " + (", ".join(sorted({c.model_type for c in backbone_configs(model)})) or "unknown"),
                fix="leave --attn_implementation unset, or pick eager or sdpa",
            )
        attention = "sdpa"  # its attention takes more than the lean one computes (T5's position bias, ...)
    used = set_attention(model, attention)
    if asked and used != attention:  # asked for by name: never a silent fallback
        raise ConfigError(
            "a speed.attn_implementation this model and machine can run",
            found=f"{attention!r} is unavailable here (the model keeps {used!r})",
            fix="leave --attn_implementation unset to use the measured default, or pick eager or sdpa",
        )
    if training:
        logger.info("attention: %s (%s)", used, "bf16" if bf16 else "fp32")
    return used


@contextmanager
def evaluation_attention(model: Any, implementation: str | None) -> Iterator[None]:
    """Evaluation inside training runs in ``implementation`` (the prediction kernel), then the
    training one comes back; None leaves the model as it is (a kernel asked for by name)."""
    training_attention = attention_of(model)
    if implementation:
        set_attention(model, implementation)
    try:
        yield
    finally:
        if implementation and training_attention:
            set_attention(model, training_attention)


__all__ = [
    "Preparation",
    "attention_implementation",
    "attention_of",
    "autocast",
    "choose_bf16",
    "evaluation_attention",
    "pad_multiple",
    "prepare",
]
