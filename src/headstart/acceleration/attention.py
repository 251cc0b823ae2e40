"""A lean attention for training on CPU, registered with transformers as ``"headstart"``.

transformers' eager attention keeps three full ``batch x heads x tokens x tokens`` tensors per layer
for the backward pass (the fp32 softmax output, the dropout mask and the bf16 copy the second matmul
reads: ~175 MB per layer for 8 x 512 tokens) and draws its dropout mask with ``torch.dropout``,
whose per-element cost makes it a large share of a training step at 512 tokens. SDPA's fused CPU
kernels do not take dropout, so in training SDPA falls back to the same math.

Each layer call takes one of three paths, by its key length and dropout rate:

- under ``LEAN_MIN_TOKENS`` (256) key tokens: eager attention's own operations (bit for bit);
- dropout 0 (``model.attention_dropout``, headstart's default): torch's fused
  ``scaled_dot_product_attention`` (flash attention on CPU: tiled, keeping only a log-sum-exp per
  row for backward), which takes no dropout on CPU;
- dropout > 0: the lean function below.

The lean function is one autograd function that keeps only query, key, value and the mask,
and recomputes the attention probabilities in the backward pass (as flash attention does, but
untiled: a layer's scores exist only while that layer runs). Its dropout mask is 16 random bits
per element from numpy's SFC64 generator (``acceleration/dropout.py``), seeded by a draw from torch's
generator, so ``torch.manual_seed`` (and the Trainer's saved RNG state) still decides it and the
backward pass regenerates exactly the forward's mask. The drop probability is rounded to a
multiple of 1/65536 (0.1 becomes 0.100006). The mask is applied by multiplying with a 0/1 tensor
in the probabilities' dtype (``dropout.keep_mask``), not with ``masked_fill``, whose boolean
kernel is not vectorized on CPU (the same values, faster).

Numerics: q is scaled before the first matmul (as SDPA does, tokens x dim instead of tokens x
tokens); scores, mask, softmax and the softmax gradient stay in the inputs' dtype, which under
bf16 autocast means bf16 storage with fp32 accumulation inside torch's CPU softmax kernels (eager
upcasts the scores to fp32 first, then casts the probabilities back to bf16 for the second matmul).
``tests/unit/modeling/test_attention.py`` checks values and gradients against eager attention:
equal in fp32/fp64, within bf16 rounding under autocast.

The model's other dropouts (on hidden states) take the same cheap mask on CPU through a module
swap (``acceleration/dropout.py``).
"""

from __future__ import annotations

from typing import Any

import torch

from headstart.acceleration.dropout import draw_seed, keep_mask

NAME = "headstart"
# Below this many key tokens the layer runs eager attention's own operations instead (same values
# and gradients as eager, bit for bit): there the tokens x tokens tensors are small, and on real
# short batches the lean function measured slower than eager (docs: Benchmarks).
LEAN_MIN_TOKENS = 256


def _probabilities(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """softmax(q k^T + bias) in q's dtype (``q`` comes pre-scaled; the CPU softmax kernel
    accumulates bf16 in fp32)."""
    scores = torch.matmul(q, k.transpose(-1, -2))
    if bias is not None:
        scores.add_(bias)
    return torch.softmax(scores, dim=-1)


class _LeanAttention(torch.autograd.Function):
    """out = dropout(softmax(q k^T + bias)) v, with ``q`` already scaled; saves no tokens x tokens tensor."""

    @staticmethod
    def forward(
        ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, p: float, seed: int
    ) -> torch.Tensor:
        with torch.autocast(q.device.type, enabled=False):
            probs = _probabilities(q, k, bias)
            if p > 0:
                # dropout's 1 / (1 - p) goes on v (tokens x dim) instead of the probabilities (tokens x tokens)
                probs.mul_(keep_mask(probs.shape, p, seed, probs.dtype, probs.device))
                out = torch.matmul(probs, v * (1 / (1 - p)))
            else:
                out = torch.matmul(probs, v)
        ctx.save_for_backward(q, k, v, bias)
        ctx.p, ctx.seed = p, seed
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, bias = ctx.saved_tensors
        p = ctx.p
        with torch.autocast(q.device.type, enabled=False):
            grad_out = grad_out.to(v.dtype)
            probs = _probabilities(q, k, bias)  # recomputed
            if p > 0:
                keep = keep_mask(probs.shape, p, ctx.seed, probs.dtype, probs.device)
                grad_v = torch.matmul((probs * keep).transpose(-1, -2), grad_out).mul_(1 / (1 - p))
                grad_probs = torch.matmul(grad_out, v.transpose(-1, -2) * (1 / (1 - p))).mul_(keep)
                del keep
            else:
                grad_v = torch.matmul(probs.transpose(-1, -2), grad_out)
                grad_probs = torch.matmul(grad_out, v.transpose(-1, -2))
            grad_scores = torch._softmax_backward_data(grad_probs, probs, -1, probs.dtype)
            del probs, grad_probs
            grad_q = torch.matmul(grad_scores, k)
            grad_k = torch.matmul(grad_scores.transpose(-1, -2), q)
        return grad_q, grad_k, grad_v, None, None, None


def _as_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """An additive bias in ``dtype`` from transformers' boolean (True = attend) or additive mask
    (its most negative finite value, not -inf: a row with nothing to attend to stays finite)."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, torch.finfo(dtype).min)
    return mask.clamp(min=torch.finfo(dtype).min).to(dtype)


def lean_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: [batch, heads, tokens, dim] in,
    [batch, tokens, heads, dim] out (attention weights are not returned)."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention (decoders): each key/value head serves `groups` query heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    if key.shape[-2] < LEAN_MIN_TOKENS:
        return _eager(module, query, key, value, attention_mask, scaling, dropout), None
    if dropout == 0:
        return _fused(query, key, value, attention_mask, scaling), None
    dtype = value.dtype
    # scaling q (tokens x dim) is cheaper than scaling the scores (tokens x tokens)
    query, key = (query * scaling).to(dtype), key.to(dtype)
    seed = draw_seed() if dropout > 0 else 0
    bias = _as_bias(attention_mask, dtype)
    if bias is not None:
        bias = bias[..., : key.shape[-2]]
    out = _LeanAttention.apply(query, key, value, bias, float(dropout), seed)
    return out.transpose(1, 2).contiguous(), None


def _fused(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None, scaling: float
) -> torch.Tensor:
    """torch's fused attention (flash attention on CPU: tiled, keeping only the row log-sum-exp for
    backward), which takes no dropout: what training runs with ``model.attention_dropout`` 0, faster
    and in less memory than the lean function from ``LEAN_MIN_TOKENS`` on."""
    dtype = value.dtype
    if mask is not None:
        mask = mask[..., : key.shape[-2]]
        if mask.dtype != torch.bool:
            mask = _as_bias(mask, dtype)
    out = torch.nn.functional.scaled_dot_product_attention(
        query.to(dtype), key.to(dtype), value, attn_mask=mask, dropout_p=0.0, scale=scaling
    )
    return out.transpose(1, 2).contiguous()


def _eager(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    scaling: float,
    dropout: float,
) -> torch.Tensor:
    """transformers' ``eager_attention_forward``, operation for operation (the mask made additive
    in fp32 as ``eager_mask`` makes it)."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    bias = _as_bias(mask, torch.float32)
    if bias is not None:
        weights = weights + bias[..., : key.shape[-2]]
    weights = torch.nn.functional.softmax(weights, dim=-1)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous()


def _mask(*args: Any, **kwargs: Any) -> Any:
    # SDPA's boolean mask, but never skipped for causal models: this function has no is_causal path
    from transformers.masking_utils import sdpa_mask

    kwargs["allow_is_causal_skip"] = False
    return sdpa_mask(*args, **kwargs)


def register() -> None:
    """Make ``"headstart"`` a valid ``attn_implementation`` in this process (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, lean_attention_forward)
    AttentionMaskInterface.register(NAME, _mask)
