"""A cheaper dropout for training on CPU, swapped in for ``torch.nn.Dropout`` modules.

``torch.nn.Dropout`` on CPU draws its mask with ``bernoulli_``: one Mersenne-Twister draw per
element, and a BERT-family layer has two such dropouts (attention output, feed-forward output) plus
one on the embeddings. Here the mask is 16 random bits per element from numpy's SFC64 generator,
about 3x cheaper to draw (docs: Benchmarks), seeded by a draw from torch's generator, so
``torch.manual_seed`` and the Trainer's saved RNG state still decide it. The drop probability is
rounded to a multiple of 1/65536 (0.1 becomes 0.100006).

The mask is applied as torch's own dropout applies its mask, ``x * keep * (1 / (1 - p))``, with
``keep`` a 0/1 tensor in ``x``'s dtype built by numpy from the draws: torch's boolean kernels
(``masked_fill`` with a boolean mask, bool-to-bf16 casts) are not vectorized on CPU, a multiply is;
the backward pass keeps ``keep`` (2 bytes an element under bf16, 4 in fp32). As in torch, a NaN or
inf where the mask drops stays NaN.

In evaluation (``model.eval()``) and at ``p`` 0 the module returns its input, as ``nn.Dropout``
does. It has no parameters or buffers: a model's ``state_dict`` and its saved directory are the
same with either module. On a GPU torch's own dropout is fast and stays (``hardware.DROPOUT``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

NAME = "headstart"
_BITS = 1 << 16


def _draws(n: int, seed: int) -> np.ndarray:
    """``n`` int16 draws, uniform over [-32768, 32767], the same for the same seed."""
    words = np.random.Generator(np.random.SFC64(seed)).bit_generator.random_raw((n + 3) // 4)
    return words.view(np.int16)[:n]


def _threshold(p: float) -> int:
    """The int16 draws below this are dropped: a share ``round(p * 2**16) / 2**16`` of them."""
    return round(p * _BITS) - _BITS // 2


def drop_mask(shape: torch.Size | tuple[int, ...], p: float, seed: int, device: torch.device) -> torch.Tensor:
    """Boolean drop-mask of ``shape`` on ``device``: each element True with probability
    ``round(p * 2**16) / 2**16``, the same mask for the same seed. Drawn on the CPU. The training
    paths apply its complement, ``keep_mask``; this form is the reference the tests check it by."""
    n = int(np.prod(shape))
    return (torch.from_numpy(_draws(n, seed)) < _threshold(p)).view(shape).to(device)


# The bit patterns of 1.0 in the 16-bit float types: numpy has no bf16, so the 0/1 mask for those
# is built as integers and reinterpreted.
_ONE_BITS = {torch.bfloat16: np.uint16(0x3F80), torch.float16: np.uint16(0x3C00)}


def keep_mask(
    shape: torch.Size | tuple[int, ...], p: float, seed: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """0/1 tensor of ``shape`` in ``dtype`` on ``device``: 0 exactly where ``drop_mask`` with the
    same arguments is True. Built in numpy (vectorized compares and casts)."""
    n = int(np.prod(shape))
    keep = _draws(n, seed) >= _threshold(p)
    if dtype in _ONE_BITS:
        bits = np.multiply(keep, _ONE_BITS[dtype], dtype=np.uint16)
        mask = torch.from_numpy(bits.view(np.int16)).view(dtype)
    else:
        mask = torch.from_numpy(keep.astype(np.float32)).to(dtype)
    return mask.view(shape).to(device)


def draw_seed() -> int:
    """A mask seed from torch's CPU generator (what ``torch.manual_seed`` sets)."""
    return int(torch.randint(0, 2**62, (1,), device="cpu"))


class _Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
        keep = keep_mask(x.shape, p, seed, x.dtype, x.device)
        ctx.save_for_backward(keep)
        ctx.scale = 1 / (1 - p)
        return torch.mul(x, keep).mul_(ctx.scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (keep,) = ctx.saved_tensors
        return torch.mul(grad, keep).mul_(ctx.scale), None, None


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` with the cheaper mask (not in place)."""
    if not training or p == 0 or x.numel() == 0:
        return x
    if p == 1:
        return x * 0
    return _Dropout.apply(x, p, draw_seed())


class LeanDropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` with the cheaper mask (a subclass: ``isinstance`` checks still hold)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def use_lean_dropout(model: torch.nn.Module) -> int:
    """Swap every plain ``torch.nn.Dropout`` inside ``model`` for ``LeanDropout`` (same ``p``);
    returns how many. Each keeps the training or evaluation mode it had; other dropout classes
    (``Dropout1d``, ``AlphaDropout``, ...) stay."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Dropout:
                setattr(parent, name, LeanDropout(child.p).train(child.training))
                swapped += 1
    return swapped


def dropout_of(model: torch.nn.Module) -> str:
    """``"headstart"`` when ``model`` holds a ``LeanDropout``, else ``"torch"``."""
    return NAME if any(isinstance(m, LeanDropout) for m in model.modules()) else "torch"


def use_torch_dropout(model: torch.nn.Module) -> int:
    """Undo ``use_lean_dropout``: every ``LeanDropout`` back to ``torch.nn.Dropout``; returns how many."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is LeanDropout:
                setattr(parent, name, torch.nn.Dropout(child.p).train(child.training))
                swapped += 1
    return swapped
