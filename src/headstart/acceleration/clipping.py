"""Gradient clipping folded into the fused optimizer's step.

``clip_grad_norm_`` makes two passes over every gradient: one for the total norm, one that
multiplies each gradient by ``min(1, max_norm / (norm + 1e-6))``. torch's fused Adam / AdamW read
every gradient anyway, and take a ``grad_scale`` tensor to divide them by (the contract
``torch.amp.GradScaler`` uses: ``optimizer.grad_scale``, honoured by optimizers whose
``_step_supports_amp_scaling`` is set). Handing them the clipping factor as that divisor leaves
the norm as the only extra pass: the same update, with the gradient divided by ``1 / factor``
where ``clip_grad_norm_`` multiplied by ``factor`` (one step's weights differed by ~1e-8; a test
compares whole training runs). A step with no clipping divides by exactly 1.

Such per-step costs do not shrink with the batch, so they weigh most on short inputs (the
measured times are on the docs' benchmarks page).

Used where the gradients are plain local tensors that the optimizer steps as they are: no fp16
GradScaler (accelerate unscales inside its own clipping), no DeepSpeed / FSDP / XLA, and an
optimizer that is torch's fused Adam or AdamW (transformers' default ``adamw_torch_fused``).
Anything else goes through the Trainer's own clipping unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

# distributed setups whose gradients, after backward, are the ones the optimizer steps
PLAIN = {"NO", "MULTI_CPU", "MULTI_GPU"}


def fused_optimizer(optimizer: Any) -> torch.optim.Optimizer | None:
    """The torch optimizer behind ``optimizer`` (accelerate wraps it) if it is a fused Adam or AdamW
    that divides by ``grad_scale`` itself; else None."""
    inner = optimizer
    while isinstance(getattr(inner, "optimizer", None), torch.optim.Optimizer):  # AcceleratedOptimizer
        inner = inner.optimizer
    if not isinstance(inner, torch.optim.Adam | torch.optim.AdamW):
        return None
    if not inner.defaults.get("fused") or not getattr(inner, "_step_supports_amp_scaling", False):
        return None
    return inner


def gradients(parameters: Any) -> list[torch.Tensor]:
    """The gradients of ``parameters`` that exist."""
    return [p.grad for p in parameters if p.grad is not None]


def plain_gradients(grads: list[torch.Tensor]) -> bool:
    """Whether every gradient is a plain tensor on one device (not a DTensor shard, not sparse)."""
    return (
        all(type(g) is torch.Tensor and g.layout == torch.strided for g in grads)
        and len({g.device for g in grads}) <= 1
    )


def total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of ``grads`` together, as ``clip_grad_norm_`` computes it.

    Each fp32 gradient's sum of squares is a BLAS dot product with itself, which reads the
    gradients faster than ``torch._foreach_norm`` (what ``clip_grad_norm_`` uses); other dtypes
    are summed in fp32 by ``vector_norm``.
    """
    if not grads:
        return torch.tensor(0.0)
    if grads[0].device.type != "cpu":  # one fused kernel on a GPU, where a dot is a launch each
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    squares = [
        torch.dot(g.view(-1), g.view(-1))
        if g.dtype in (torch.float32, torch.float64) and g.is_contiguous()
        else torch.linalg.vector_norm(g, dtype=torch.float32) ** 2
        for g in grads
    ]
    return torch.stack([s.float() for s in squares]).sum().sqrt()


def clip_in_step(grads: list[torch.Tensor], max_norm: float, optimizer: torch.optim.Optimizer) -> torch.Tensor:
    """The total norm of ``grads`` before clipping; the clipping itself is left to ``optimizer``'s
    next step (``grad_scale``, removed again by that step's post-hook)."""
    norm = total_norm(grads)
    # clip_grad_norm_ multiplies by min(1, max_norm / (norm + 1e-6)); the step divides by its inverse
    optimizer.grad_scale = torch.clamp((norm + 1e-6) / max_norm, min=1.0).to(norm.device)
    if not getattr(optimizer, "_headstart_clears_grad_scale", False):
        optimizer.register_step_post_hook(_clear_grad_scale)
        optimizer._headstart_clears_grad_scale = True
    return norm


def _clear_grad_scale(optimizer: torch.optim.Optimizer, *_: Any) -> None:
    # the factor belongs to one step: a later step without clipping must not reuse it
    if hasattr(optimizer, "grad_scale"):
        del optimizer.grad_scale
