"""The HF Trainer, with only its sampler hooks overridden.

- Training batches come from length-grouped shuffled buckets using lengths we already computed
  while tokenizing (HF would otherwise decode the whole dataset again to measure them), in an
  order fixed by (seed, epoch) so that a resumed run replays it exactly (``sampler.py``).
- Evaluation and prediction always run in dataset order: with
  ``train_sampling_strategy="group_by_length"`` transformers 5.x also length-groups the
  evaluation sampler, so ``Trainer.predict`` would return rows out of order.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import SequentialSampler
from transformers import Trainer

from headstart.training.sampler import EpochSeededLengthSampler


class HeadstartTrainer(Trainer):
    def __init__(self, *args: Any, train_lengths: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.train_lengths = train_lengths

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if (
            self.args.train_sampling_strategy == "group_by_length"
            and self.train_lengths is not None
            and self.args.world_size <= 1
            and dataset is not None
            and len(dataset) == len(self.train_lengths)
        ):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededLengthSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps, self.train_lengths, seed
            )
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler | None:
        if self.args.world_size <= 1:
            return SequentialSampler(eval_dataset)
        return super()._get_eval_sampler(eval_dataset)
