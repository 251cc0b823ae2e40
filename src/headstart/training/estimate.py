"""How long a run will take, from a short measured warm-up on its own batches, before it starts.

A few real training batches (taken evenly from the epoch's length-grouped order, so their padding
is what training will see) go forward and backward once each; the measured rate in real tokens
per second, times the tokens the run will process, gives the estimate. No optimizer step is taken
and the RNG state is restored, so the run itself is exactly what it would have been without it.
Evaluation is counted at a third of the training cost per token (a forward pass only).
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any

import torch

WARMUP_BATCHES = 4  # the first is not timed (allocations, kernels' first use)


def estimate_run_seconds(
    trainer: Any,
    train_tokens: int,
    eval_tokens: int,
    evaluations: int,
    epochs: float,
    extra_eval_tokens: int = 0,
) -> dict[str, float] | None:
    """{"tokens_per_second", "train_seconds", "eval_seconds", "total_seconds"}, or None for no data.

    ``eval_tokens`` are scored ``evaluations`` times during training; ``extra_eval_tokens`` once
    at the end (the final validation and test scores)."""
    dataset = trainer.train_dataset
    if dataset is None or len(dataset) == 0 or train_tokens == 0:
        return None
    model = trainer.model
    was_training = model.training
    timed_tokens, seconds = 0, 0.0
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):  # the sampler and dropout draw from the global RNGs
        sampler = trainer._get_train_sampler(dataset)
        order = list(sampler) if sampler is not None else list(range(len(dataset)))
        size = trainer.args.train_batch_size
        n_batches = max(1, math.ceil(len(order) / size))
        picks = sorted({int(i * n_batches / WARMUP_BATCHES) for i in range(WARMUP_BATCHES)})
        batches = [_batch(trainer, order[p * size : (p + 1) * size]) for p in picks]
        _checkpoint_as_training_will(trainer)
        model.train()
        for i, (batch, tokens) in enumerate(batches):
            start = time.perf_counter()
            # the run's precision: transformers 5.x leaves autocast to accelerate, which applies it
            # when training wraps the model; ``autocast_smart_context_manager`` is a no-op, and a
            # bf16 run was estimated in fp32, at about half its real speed
            with trainer.accelerator.autocast():
                loss = trainer.compute_loss(model, batch)
            loss.backward()
            if i > 0 or len(batches) == 1:
                seconds += time.perf_counter() - start
                timed_tokens += tokens
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    if seconds <= 0:
        return None
    rate = timed_tokens / seconds
    train_seconds = train_tokens * epochs / rate
    eval_seconds = (evaluations * eval_tokens + extra_eval_tokens) / (3 * rate)
    return {
        "tokens_per_second": rate,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "total_seconds": train_seconds + eval_seconds,
    }


def _checkpoint_as_training_will(trainer: Any) -> None:
    """Turn on the activation checkpointing ``train()`` turns on (as it does it, from the same
    arguments), so the measured batches keep only what training keeps: measured without it, the
    longest of them held every layer's activations and set the run's peak memory."""
    args, model = trainer.args, trainer.model
    if not getattr(args, "activation_checkpointing", False) or not hasattr(model, "activation_checkpointing_enable"):
        return
    if getattr(model, "is_activation_checkpointing", False):
        return
    kwargs = dict(args.activation_checkpointing_kwargs or {})
    every, offload = kwargs.pop("every_n_layers", 1), kwargs.pop("offload", False)
    model.activation_checkpointing_enable(
        activation_checkpointing_kwargs=kwargs or None, every_n_layers=every, offload=offload
    )


def _batch(trainer: Any, indices: list[int]) -> tuple[dict[str, torch.Tensor], int]:
    dataset = trainer.train_dataset
    model = trainer.model
    model = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft's takes **kwargs
    accepted = set(inspect.signature(model.forward).parameters)
    features = [{k: v for k, v in dataset[int(i)].items() if k in accepted} for i in indices]
    batch = trainer.data_collator(features)
    tokens = int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())
    inputs = {k: v.to(trainer.args.device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
    return inputs, tokens


def describe(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
