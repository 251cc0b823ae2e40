"""The HF Trainer, with its data loading, training step and evaluation hooks extended.

Three of the hooks are private HF methods (``_get_train_sampler``, ``_get_eval_sampler``,
``_clip_grad_norm``): each override says why, and ``tests/unit/training/test_hf_hooks.py`` pins the
transformers behaviour it relies on, so an upgrade that changes them fails there first.

- Training batches come from length-grouped shuffled buckets using lengths we already computed
  while tokenizing (HF would otherwise decode the whole dataset again to measure them), in an
  order fixed by (seed, epoch) so that a resumed run replays it exactly (``sampler.py``).
- With ``max_tokens_per_batch``, training batches are cut by a token budget instead of a count
  (``TokenBudgetBatchSampler``).
- Each training step counts its real and padded tokens (``Throughput``), so a run reports its
  tokens/s, padding share and model FLOPs instead of leaving them to guesswork.
- Evaluation of the validation set runs longest first (batches pad to their own rows' length,
  not to the longest row in a random 64) and
  its rows are put back in input order before ``compute_metrics`` sees them and before
  ``evaluate`` / ``predict`` return them; other datasets run in input order. (With
  ``train_sampling_strategy="group_by_length"`` transformers 5.x length-groups the evaluation
  sampler without restoring the order, so ``Trainer.predict`` would return rows out of order.)
- Gradient clipping leaves its multiplication to the fused optimizer's step (``clipping.py``):
  one pass over every gradient less per step.
- Evaluation uses the prediction attention (``hardware.ATTENTION``: SDPA, whose fused kernels
  need no tokens x tokens tensor without dropout) and switches back to the training one after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, SequentialSampler
from transformers import EvalPrediction, Trainer

from headstart.acceleration import evaluation_attention
from headstart.acceleration.clipping import PLAIN, clip_in_step, fused_optimizer, gradients, plain_gradients
from headstart.acceleration.flops import flops_from_counts
from headstart.training.sampler import EpochSeededLengthSampler, LongestFirstSampler, TokenBudgetBatchSampler


@dataclass
class Throughput:
    """Tokens the training steps of this process saw: real (attention mask 1), padded (all), and
    the sum of squared real lengths per row (attention's FLOPs grow with it)."""

    real_tokens: int = 0
    padded_tokens: int = 0
    sum_squared_lengths: int = 0
    sequences: int = 0
    batches: int = 0
    # running sums kept on the batch's device: reading them every step would stall a GPU
    _pending: list[torch.Tensor] = field(default_factory=list, repr=False)

    def add(self, mask: torch.Tensor) -> None:
        rows = mask.sum(dim=-1).long()
        sums = torch.stack([rows.sum(), (rows**2).sum()])
        self._pending = [self._pending[0] + sums] if self._pending else [sums]
        self.padded_tokens += mask.numel()
        self.sequences += mask.shape[0]
        self.batches += 1
        if self.batches % 256 == 0:
            self._settle()

    def add_packed(self, position_ids: torch.Tensor) -> None:
        """A padding-free batch (examples packed end to end, TRL's packing): every token is real, and
        each example starts where its positions restart at 0."""
        flat = position_ids.reshape(-1)
        starts = torch.nonzero(flat == 0).flatten()
        ends = torch.cat([starts[1:], starts.new_tensor([flat.numel()])])
        lengths = ends - starts
        sums = torch.stack([lengths.sum(), (lengths**2).sum()])
        self._pending = [self._pending[0] + sums] if self._pending else [sums]
        self.padded_tokens += flat.numel()
        self.sequences += len(lengths)
        self.batches += 1

    def _settle(self) -> None:
        if self._pending:
            real, squared = (int(v) for v in self._pending.pop().tolist())
            self.real_tokens += real
            self.sum_squared_lengths += squared

    def report(self, model: Any, seconds: float) -> dict[str, float]:
        """Tokens/s, padding share and model FLOPs of training (``flops.py``) over ``seconds``."""
        self._settle()
        flops = flops_from_counts(
            model, self.real_tokens, self.sum_squared_lengths, train=True, sequences=self.sequences
        )
        return {
            "real_tokens": self.real_tokens,
            "padded_tokens": self.padded_tokens,
            "padding_fraction": round(1 - self.real_tokens / max(self.padded_tokens, 1), 4),
            "tokens_per_second": round(self.real_tokens / max(seconds, 1e-9), 1),
            "model_tflops": round(flops / 1e12, 3),
            "model_gflops_per_second": round(flops / max(seconds, 1e-9) / 1e9, 1),
        }


class HeadstartTrainer(Trainer):
    def __init__(
        self,
        *args: Any,
        train_lengths: list[int] | None = None,
        eval_lengths: list[int] | None = None,
        max_tokens_per_batch: int | None = None,
        pad_to_multiple_of: int | None = None,
        eval_attention: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._loading_validation = False  # set while a dataloader of the validation set is built
        super().__init__(*args, **kwargs)
        self.train_lengths = train_lengths
        self.eval_lengths = eval_lengths
        self.max_tokens_per_batch = max_tokens_per_batch
        self.pad_to_multiple_of = pad_to_multiple_of
        self.eval_attention = eval_attention
        self.throughput = Throughput()
        # Our heads (HeadstartClassifier, CrfTagger, HF's *ForTokenClassification, T5's seq2seq
        # loss) take **kwargs but average their loss over their own batch and drop
        # num_items_in_batch. HF reads **kwargs as "the loss is already divided by the items of
        # all accumulated batches and devices" (transformers#47688): it then skips the division by
        # gradient_accumulation_steps and multiplies by the number of processes, so the gradients
        # came out gradient_accumulation_steps (or world size) times too large (2 DDP processes
        # logged a mean training loss of 1.285 where 1 process logged 0.601; 0.643 since). A
        # compute_loss_func (class weights) does divide by num_items_in_batch and keeps HF's path.
        self.model_accepts_loss_kwargs = False

    def get_train_dataloader(self) -> DataLoader:
        """Token-budget batches when ``max_tokens_per_batch`` is set; HF's own loader otherwise."""
        if not self.max_tokens_per_batch or self.train_lengths is None:
            return super().get_train_dataloader()
        dataset = self._remove_unused_columns(self.train_dataset, description="Training")
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        loader = DataLoader(
            dataset,
            batch_sampler=TokenBudgetBatchSampler(self._padded_lengths(), self.max_tokens_per_batch, seed),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)

    def _padded_lengths(self) -> list[int]:
        """The lengths the collator pads to (rounded up to pad_to_multiple_of): the budget holds."""
        m = self.pad_to_multiple_of or 1
        return [-(-int(n) // m) * m for n in self.train_lengths]

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        mask = inputs.get("attention_mask")
        if mask is not None:
            self.throughput.add(mask)
        elif inputs.get("position_ids") is not None:  # packed rows without padding have no mask
            self.throughput.add_packed(inputs["position_ids"])
        return super().training_step(model, inputs, num_items_in_batch)

    # Private HF hook: the one place the training loop clips, and what it logs as grad_norm.
    def _clip_grad_norm(self, model: Any) -> torch.Tensor:
        """The pre-clip gradient norm, as HF's; the fused optimizer's step applies the clipping."""
        optimizer = fused_optimizer(self.optimizer)
        plain = self.accelerator.distributed_type.value in PLAIN and self.accelerator.scaler is None
        grads = gradients(model.parameters()) if optimizer is not None and plain else []
        if not grads or not plain_gradients(grads):
            return super()._clip_grad_norm(model)
        return clip_in_step(grads, self.args.max_grad_norm, optimizer)

    # Private HF hook: get_train_dataloader's sampler (HF's length grouping re-measures every row).
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

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        with self._loading(eval_dataset is None or eval_dataset is self.eval_dataset):
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        with self._loading(test_dataset is self.eval_dataset):
            return super().get_test_dataloader(test_dataset)

    @contextlib.contextmanager
    def _loading(self, validation: bool) -> Iterator[None]:
        # The sampler hook only sees the dataset after HF's _remove_unused_columns, a new Dataset
        # whenever the encoded one has columns the model does not take (offsets, word ids, ...):
        # whether it is the validation set has to be decided here, before that copy.
        self._loading_validation = validation
        try:
            yield
        finally:
            self._loading_validation = False

    # Private HF hook: the evaluation/test dataloaders' sampler (HF's would reorder rows for good).
    def _get_eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler | None:
        if self.args.world_size <= 1:
            lengths = self.eval_lengths
            if self._loading_validation and lengths is not None and len(lengths) == len(eval_dataset):
                return LongestFirstSampler(lengths)
            return SequentialSampler(eval_dataset)
        return super()._get_eval_sampler(eval_dataset)

    def evaluation_loop(self, dataloader: DataLoader, *args: Any, **kwargs: Any) -> Any:
        """HF's loop, in the prediction attention, with rows back in input order."""
        sampler = _longest_first(dataloader)
        score = self.compute_metrics
        # batch_eval_metrics scores batch by batch: nothing to reorder there
        if sampler is not None and score is not None and not self.args.batch_eval_metrics:

            def score_in_order(p: EvalPrediction) -> dict[str, float]:
                return score(
                    EvalPrediction(
                        predictions=sampler.restore(p.predictions),
                        label_ids=sampler.restore(p.label_ids),
                        inputs=sampler.restore(p.inputs),
                        losses=sampler.restore(p.losses),
                    )
                )

            self.compute_metrics = score_in_order
        try:
            with evaluation_attention(self.model, self.eval_attention):
                output = super().evaluation_loop(dataloader, *args, **kwargs)
        finally:
            self.compute_metrics = score
        if sampler is not None:
            output = output._replace(
                predictions=sampler.restore(output.predictions), label_ids=sampler.restore(output.label_ids)
            )
        return output


def with_own_trainer(base: type[HeadstartTrainer], own: type[Trainer]) -> type[HeadstartTrainer]:
    """``base`` (headstart's Trainer) in front of a task's own Trainer class, e.g. TRL's SFTTrainer:
    headstart's hooks run first and hand over to the task's, then to transformers' own."""
    if issubclass(base, own):
        return base
    return type(f"{base.__name__}With{own.__name__}", (base, own), {})


def _longest_first(dataloader: Any) -> LongestFirstSampler | None:
    """The ``LongestFirstSampler`` behind a (possibly accelerate-prepared) DataLoader, if any."""
    for candidate in (
        getattr(dataloader, "sampler", None),
        getattr(getattr(dataloader, "batch_sampler", None), "sampler", None),
        getattr(getattr(getattr(dataloader, "batch_sampler", None), "batch_sampler", None), "sampler", None),
        getattr(getattr(dataloader, "base_dataloader", None), "sampler", None),
    ):
        if isinstance(candidate, LongestFirstSampler):
            return candidate
    return None
