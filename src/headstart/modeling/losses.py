"""The classification losses of transformers' heads, with optional class weights.

transformers picks the loss from ``config.problem_type``; headstart's own heads and the
class-weighted loss (``--class-weights``) use this one function so that all agree.

>>> import torch
>>> logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
>>> round(classification_loss(logits, labels, "single_label_classification").item(), 4)
0.1269
"""

from __future__ import annotations

import torch
from torch import nn


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """logits [B, K] (K = 1 for regression) and labels [B] (class ids), [B, K] (0/1) or [B] (floats)."""
    if problem_type == "regression":
        return nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1))
    if problem_type == "multi_label_classification":
        # weights here are per label: the weight of a positive (pos_weight), as rare labels need
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float(), pos_weight=weights)
    w = None if weights is None else weights.to(logits.device, torch.float32)
    return nn.functional.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.view(-1), weight=w)
