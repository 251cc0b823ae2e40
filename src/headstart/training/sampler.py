"""Length-grouped, shuffled training order that a resumed run reproduces exactly.

HF's ``LengthGroupedSampler`` draws each epoch's permutation from the global torch RNG, whose
state at the start of an epoch is not saved in a checkpoint: a run resumed in the middle of an
epoch would skip the right number of batches of a *different* order, so some examples are seen
twice and others never (the learning curve jumps after resuming). Here the order of epoch ``e``
depends only on ``(seed, e)``; the Trainer tells the sampler the epoch through ``set_epoch``
(accelerate forwards it through ``skip_first_batches`` too), so the resumed epoch replays the
same order and skips exactly the batches already trained on.
"""

from __future__ import annotations

from collections.abc import Iterator

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
