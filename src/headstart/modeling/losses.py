"""The losses of transformers' classification heads, with optional class weights.

Each task picks its loss (``Task.loss``); headstart's own heads read theirs from ``LOSSES`` by the
``problem_type`` saved in their config, as transformers' heads do, so all agree.

>>> import torch
>>> logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
>>> round(single_label_loss(logits, labels).item(), 4)
0.1269
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Loss = Callable[..., torch.Tensor]


def single_label_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy: logits [B, K] or [B, T, K], labels [B] or [B, T] class ids (-100 ignored);
    ``weights`` [K] per class (the mean is then weighted, as in torch)."""
    flat = logits.float().view(-1, logits.size(-1))
    return nn.functional.cross_entropy(flat, labels.view(-1), weight=_on(weights, logits), reduction=reduction)


def multi_label_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    """A sigmoid per label: logits and labels [B, K] (0/1); ``weights`` [K] weigh each label's positives."""
    return nn.functional.binary_cross_entropy_with_logits(
        logits.float(), labels.float(), pos_weight=_on(weights, logits), reduction=reduction
    )


def regression_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    """Mean squared error: logits [B, 1], labels [B] numbers (no classes to weigh)."""
    return nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1), reduction=reduction)


# transformers' config.problem_type -> the loss its heads compute
LOSSES: dict[str, Loss] = {
    "single_label_classification": single_label_loss,
    "multi_label_classification": multi_label_loss,
    "regression": regression_loss,
}


def _on(weights: torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor | None:
    return None if weights is None else weights.to(logits.device, torch.float32)


def weighted_loss(weights: list[float], loss: Loss) -> Loss:
    """A Trainer ``compute_loss_func`` with class weights.

    With gradient accumulation the Trainer passes ``num_items_in_batch`` (the labeled items of all
    accumulated batches) and expects the loss already divided by it, so the sum is divided here;
    without it (evaluation), the weighted mean."""
    tensor = torch.tensor(weights, dtype=torch.float32)

    def compute(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        logits = outputs["logits"]
        if num_items_in_batch is None:
            return loss(logits, labels, tensor)
        total = loss(logits, labels, tensor, reduction="sum")
        return total / torch.as_tensor(num_items_in_batch, device=total.device, dtype=total.dtype)

    return compute


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """Hinton et al.'s (2015) distillation loss for a softmax: ``alpha`` x cross-entropy with the
    gold labels + (1 - ``alpha``) x T^2 x KL(teacher || student) at temperature T (T^2 keeps the
    soft term's gradients on the scale of the hard one's). Logits [B, K] or [B, T, K]; labels
    [B] or [B, T], -100 where a position is not scored (NER's padding and later sub-words).

    >>> s, t = torch.tensor([[2.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    >>> round(float(distillation_loss(s, t, torch.tensor([0]), 2.0, 0.0)), 6)  # the same scores: no KL
    0.0
    """
    k = student.size(-1)
    flat_s, flat_t, flat_y = student.float().reshape(-1, k), teacher.float().reshape(-1, k), labels.reshape(-1)
    scored = flat_y != -100
    flat_s, flat_t, flat_y = flat_s[scored], flat_t[scored], flat_y[scored]
    soft = nn.functional.kl_div(
        nn.functional.log_softmax(flat_s / temperature, -1),
        nn.functional.log_softmax(flat_t / temperature, -1),
        log_target=True,
        reduction="batchmean",
    ) * (temperature**2)
    if alpha == 0:
        return soft
    return alpha * nn.functional.cross_entropy(flat_s, flat_y) + (1 - alpha) * soft
