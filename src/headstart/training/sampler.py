"""Length-grouped, shuffled training order that a resumed run reproduces exactly.

HF's ``LengthGroupedSampler`` draws each epoch's permutation from the global torch RNG, whose
state at the start of an epoch is not saved in a checkpoint: a run resumed in the middle of an
epoch would skip the right number of batches of a *different* order, so some examples are seen
twice and others never (the learning curve jumps after resuming). Here the order of epoch ``e``
depends only on ``(seed, e)``; the Trainer tells the sampler the epoch through ``set_epoch``
(accelerate forwards it through ``skip_first_batches`` too), so the resumed epoch replays the
same order and skips exactly the batches already trained on.

Evaluation goes longest first (``LongestFirstSampler``), and its rows are put back in input order
before anyone sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


class EpochSeededLengthSampler(LengthGroupedSampler):
    """Indices in shuffled buckets of similar length; epoch ``e`` uses the generator seed ``seed + e``."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class TokenBudgetBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches holding as many inputs as fit in ``max_tokens`` padded tokens (fairseq's
    ``max_tokens``): short inputs go many to a batch, long ones few, so every step costs about
    the same and padding stays near zero.

    The batches are cut once from the inputs sorted by length (so their number, which sets the
    learning-rate schedule, is the same every epoch); each epoch visits them in an order drawn from
    ``(seed, epoch)``, as ``EpochSeededLengthSampler`` does, so a resumed run replays it exactly.
    An input longer than the budget gets a batch of its own.
    """

    def __init__(self, lengths: list[int], max_tokens: int, seed: int) -> None:
        self.seed = seed
        self.epoch = 0
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        self.batches: list[list[int]] = []
        current: list[int] = []
        for i in order:  # longest first: the first input of a batch sets its padded width
            width = lengths[current[0]] if current else lengths[i]
            if current and (len(current) + 1) * width > max_tokens:
                self.batches.append(current)
                current = []
            current.append(i)
        if current:
            self.batches.append(current)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        for b in torch.randperm(len(self.batches), generator=generator).tolist():
            yield list(self.batches[b])


class LongestFirstSampler(torch.utils.data.Sampler[int]):
    """Evaluation order: longest inputs first (ties in input order), so each batch pads to a
    length close to its own rows' and the largest batch comes first (a memory error shows at once,
    not at the end). ``order[i]`` is the input at position ``i``; ``restore`` puts rows computed in
    this order back into input order."""

    def __init__(self, lengths: list[int]) -> None:
        self.order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        self._inverse = np.empty(len(self.order), dtype=np.int64)
        self._inverse[np.asarray(self.order, dtype=np.int64)] = np.arange(len(self.order))

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)

    def restore(self, rows: Any) -> Any:
        """``rows`` (an array, or a tuple/list/dict of them, first axis in this sampler's order)
        in input order."""
        if rows is None:
            return None
        if isinstance(rows, (tuple, list)):
            return type(rows)(self.restore(r) for r in rows)
        if isinstance(rows, dict):
            return {k: self.restore(v) for k, v in rows.items()}
        return rows[self._inverse]
