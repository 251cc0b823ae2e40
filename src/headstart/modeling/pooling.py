"""Sentence vectors from token states: the first token, the mean, the max, or the last real token.

Padding never counts: the mean and max use the attention mask, and "last" finds each row's last
real token from the mask (not from the pad id, which a decoder may share with end-of-sequence).

>>> import torch
>>> hidden = torch.tensor([[[1.0], [3.0], [9.0]]])  # [batch 1, 3 tokens, hidden 1]
>>> mask = torch.tensor([[1, 1, 0]])               # the third token is padding
>>> [pool(hidden, mask, how).item() for how in POOLINGS]
[1.0, 2.0, 3.0, 3.0]
"""

from __future__ import annotations

import torch

POOLINGS = ("cls", "mean", "max", "last")


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """[batch, tokens, hidden] states and a [batch, tokens] mask -> [batch, hidden]."""
    if how == "cls":
        return hidden[:, 0]
    real = mask.unsqueeze(-1).to(torch.bool)  # [B, T, 1]
    if how == "mean":
        m = real.to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1)
    if how == "max":
        return hidden.masked_fill(~real, torch.finfo(hidden.dtype).min).max(1).values
    if how == "last":
        # index of the last 1 in each row: right padding or none; any left padding works too
        positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)
        last = (positions * mask.to(positions.dtype)).argmax(1)  # [B]
        return hidden[torch.arange(hidden.size(0), device=hidden.device), last]
    raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, found {how!r}")
