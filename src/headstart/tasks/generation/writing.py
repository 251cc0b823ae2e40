"""Writing outputs with a model: batched ``generate()`` in input order, the prompt cut off.

Decoders read left-padded batches (the quirks table: ``generate`` numbers positions from the
attention mask, so a text writes the same alone and in a batch); encoder-decoders pad on the
right. Outputs are cut at the first stop string.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from headstart.acceleration import autocast
from headstart.tasks.common.batching import sorted_by_length

Prompt = str


def write(
    run: Any,
    prompts: Sequence[Prompt],
    *,
    batch_size: int = 16,
    generation_config: Any = None,
    stop_strings: Sequence[str] = (),
) -> list[str]:
    """One output text per prompt, in order; ``generation_config`` defaults to the model's own."""
    if not prompts:
        return []
    model, tokenizer = run.model, run.tokenizer
    config = generation_config or model.generation_config
    if config.pad_token_id is None:  # a decoder's own config has none: batches pad with the tokenizer's
        config = copy.deepcopy(config)
        config.pad_token_id = tokenizer.pad_token_id
    decoder_only = not model.config.is_encoder_decoder
    lengths = [len(ids) for ids in tokenizer(list(prompts))["input_ids"]]
    order = sorted_by_length(lengths)
    out: list[str] = [""] * len(prompts)
    with _padding_side(tokenizer, "left" if decoder_only else "right"), torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(run.device)
            with autocast(run.device, getattr(run, "bf16", False)):
                written = model.generate(
                    **batch,
                    generation_config=config,
                    tokenizer=tokenizer if config.stop_strings else None,
                )
            if decoder_only:
                written = written[:, batch["input_ids"].shape[1] :]
            for i, text in zip(rows, tokenizer.batch_decode(written, skip_special_tokens=True)):
                out[i] = cut_at_stop(text, stop_strings)
    return out


def cut_at_stop(text: str, stop_strings: Sequence[str]) -> str:
    """The text up to the first stop string (generate() keeps the stop string it ended on).

    >>> cut_at_stop("Aromi is a pub.\\nNext", ["\\n"])
    'Aromi is a pub.'
    """
    cut = min((i for i in (text.find(s) for s in stop_strings) if i >= 0), default=len(text))
    return text[:cut]


@contextlib.contextmanager
def _padding_side(tokenizer: Any, side: str) -> Iterator[None]:
    before = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield
    finally:
        tokenizer.padding_side = before
