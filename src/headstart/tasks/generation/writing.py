"""Writing outputs with a model: batched ``generate()`` in input order, the prompt cut off.

Batches are padded on the side the quirks table gives (``generation_padding``): the left for
decoders (``generate`` numbers positions from the attention mask, so a text writes the same alone
and in a batch), the right for encoder-decoders. Outputs are cut at the first stop string.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from headstart.acceleration import autocast
from headstart.modeling.backbones import quirks_for
from headstart.tasks.common.batching import sorted_by_length

Prompt = str
WRITER_THREAD = "headstart-writer"  # the thread generate() streams from


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
    with _padding_side(tokenizer, quirks_for(model.config).generation_padding), torch.inference_mode():
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


def stream(
    run: Any, prompt: Prompt, *, max_new_tokens: int | None = None, stop_strings: Sequence[str] = ()
) -> Iterator[str]:
    """The output for one prompt, piece by piece as the model writes it (transformers'
    ``TextIteratorStreamer``, ``generate`` in a thread). Closing the iterator (a client gone)
    stops the generation at its next token; the text ends before a stop string."""
    import threading

    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    model, tokenizer = run.model, run.tokenizer
    config = copy.deepcopy(model.generation_config)
    config.pad_token_id = config.pad_token_id if config.pad_token_id is not None else tokenizer.pad_token_id
    if max_new_tokens is not None:
        config.max_new_tokens = max_new_tokens
    cancelled = threading.Event()

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return cancelled.is_set()

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    batch = tokenizer([prompt], return_tensors="pt").to(run.device)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            with torch.inference_mode(), autocast(run.device, getattr(run, "bf16", False)):
                model.generate(
                    **batch,
                    generation_config=config,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([Cancelled()]),
                    tokenizer=tokenizer if config.stop_strings else None,
                )
        except BaseException as exc:  # noqa: BLE001 - handed to the reading side
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=generate, name=WRITER_THREAD, daemon=True)
    worker.start()
    # a stop string can arrive split over pieces: the last characters that could start one wait
    hold = max((len(s) for s in stop_strings), default=1) - 1
    text, sent = "", 0
    try:
        for piece in streamer:
            text += piece
            cut = cut_at_stop(text, stop_strings)
            if len(cut) < len(text):  # a stop string: the text ends before it
                text = cut
                break
            if len(text) - hold > sent:
                yield text[sent : len(text) - hold]
                sent = len(text) - hold
        if len(text) > sent:
            yield text[sent:]
    finally:
        cancelled.set()
        worker.join(timeout=60)
    if failure:
        raise failure[0]
