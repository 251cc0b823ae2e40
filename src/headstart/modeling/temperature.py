"""Temperature scaling folded into a classifier: its logits divided by one fitted number T.

Dividing the classification layer's weight and bias by T gives exactly ``logits / T`` from the
saved model itself, so ``pipeline()``, ONNX exports and headstart's own predictions all return the
calibrated scores without knowing that T exists.

>>> import torch
>>> from torch import nn
>>> head = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
>>> x = torch.randn(2, 4)
>>> before = head(x)
>>> layer = fold_temperature(head, 2.0, num_labels=3)
>>> torch.allclose(head(x), before / 2.0, atol=1e-6), layer is head[2]
(True, True)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from headstart.errors import ModelLoadError


def output_layer(model: nn.Module, num_labels: int) -> nn.Linear:
    """The layer that writes the logits: the last ``nn.Linear`` with one output per label
    (BERT's ``classifier``, RoBERTa's and MPNet's ``classifier.out_proj``, GPT-2's and Llama's
    ``score``, headstart's own head)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_labels]
    if not layers:
        raise ModelLoadError(
            f"a classification layer with {num_labels} outputs to fold the temperature into",
            found=f"none in {type(model).__name__}",
            fix="set task.calibrate false for this model",
        )
    return layers[-1]


@torch.no_grad()
def fold_temperature(model: nn.Module, temperature: float, *, num_labels: int) -> Any:
    """Divide the output layer's weight and bias by ``temperature`` in place; returns the layer."""
    layer = output_layer(model, num_labels)
    layer.weight.div_(temperature)
    if layer.bias is not None:
        layer.bias.div_(temperature)
    return layer
