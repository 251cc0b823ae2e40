"""The classification losses of transformers' heads, with optional class weights.

transformers picks the loss from ``config.problem_type``; headstart's own heads and the
class-weighted loss (``--class-weights``) use this one function so that all agree.

>>> import torch
>>> logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
>>> round(classification_loss(logits, labels, "single_label_classification").item(), 4)
0.1269
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    problem_type: str | None,
    weights: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """logits [B, K] or [B, T, K] (K = 1 for regression); labels [B] or [B, T] class ids (-100 is
    ignored), [B, K] 0/1 (multi-label) or [B] numbers (regression).

    ``weights`` [K]: per class for single-label (the mean is then weighted, as in torch), the
    weight of each label's positives for multi-label (``pos_weight``)."""
    if weights is not None:
        weights = weights.to(logits.device, torch.float32)
    if problem_type == "regression":
        return nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1), reduction=reduction)
    if problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float(), pos_weight=weights, reduction=reduction
        )
    flat = logits.float().view(-1, logits.size(-1))
    return nn.functional.cross_entropy(flat, labels.view(-1), weight=weights, reduction=reduction)


def weighted_loss(weights: list[float], problem_type: str) -> Callable[..., torch.Tensor]:
    """A Trainer ``compute_loss_func`` with class weights.

    With gradient accumulation the Trainer passes ``num_items_in_batch`` (the labeled items of all
    accumulated batches) and expects the loss already divided by it, so the sum is divided here;
    without it (evaluation), the weighted mean."""
    tensor = torch.tensor(weights, dtype=torch.float32)

    def loss(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        logits = outputs["logits"]
        if num_items_in_batch is None:
            return classification_loss(logits, labels, problem_type, tensor)
        total = classification_loss(logits, labels, problem_type, tensor, reduction="sum")
        return total / torch.as_tensor(num_items_in_batch, device=total.device, dtype=total.dtype)

    return loss
