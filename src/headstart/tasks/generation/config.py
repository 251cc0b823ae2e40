"""The task section's keys of generation: the prompt, how training packs and validates, and the
generation settings saved as the model's ``generation_config.json`` (HF ``GenerationConfig`` names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headstart.config import setting

INPUT = "{input}"


@dataclass
class Config:
    target_column: str | None = setting(
        None,
        "Generation: the column with the text to write (the input is data.text_column); detected from common "
        "names (target, output, completion, ref, summary, ...) when null.",
        flags=("--target-column",),
    )
    prompt_template: str | None = setting(
        None,
        "Generation: how an input becomes the prompt, with {input} where the input goes (e.g. 'Describe: "
        "{input}\\n'). Null: the input and a new line for decoders, the input alone for T5.",
        flags=("--prompt-template",),
    )
    chat_template: bool | None = setting(
        None,
        "Generation with a decoder: wrap each input as a user message and each target as the assistant's reply "
        "with the tokenizer's chat template (instruct models). Null: yes for chat-style 'messages' data.",
        flags=("--chat-template",),
    )
    packing: bool = setting(
        False,
        "Generation with a decoder: pack short examples into full rows (attention stays within each example).",
        flags=("--packing",),
    )
    eval_samples: int = setting(
        64,
        "Generation: validation inputs written out at the end of each epoch to score BLEU/ROUGE while training "
        "(the validation loss is computed on all of them); the final evaluation writes every one.",
        flags=("--eval-samples",),
    )
    max_new_tokens: int = setting(64, "Generation: the most tokens written per input.", flags=("--max-new-tokens",))
    num_beams: int = setting(1, "Generation: beams of beam search (1: greedy or sampling).", flags=("--num-beams",))
    do_sample: bool = setting(False, "Generation: sample tokens instead of taking the most probable.")
    temperature: float = setting(
        1.0,
        "Generation with do_sample: the softmax temperature.",
        flags=("--sampling-temperature",),
        bare_flag=False,  # --temperature is distillation's
    )
    top_p: float = setting(1.0, "Generation with do_sample: nucleus sampling's probability mass.")
    repetition_penalty: float = setting(1.0, "Generation: above 1 discourages repeating tokens.")
    stop_strings: str | list | None = setting(
        None, "Generation: a string (or a list of them) that ends the output when written; it is cut off."
    )


GENERATION_KEYS = ("max_new_tokens", "num_beams", "do_sample", "temperature", "top_p", "repetition_penalty")


def check_generation(task: Any) -> list[str]:
    out = []
    template = task.prompt_template
    if template is not None and INPUT not in template:
        out.append(f"task.prompt_template must hold {INPUT} where the input goes, found {template!r}")
    if task.eval_samples < 0:
        out.append(f"task.eval_samples must be >= 0, found {task.eval_samples}")
    if task.max_new_tokens < 1:
        out.append(f"task.max_new_tokens must be >= 1, found {task.max_new_tokens}")
    if task.num_beams < 1:
        out.append(f"task.num_beams must be >= 1, found {task.num_beams}")
    if task.temperature <= 0:
        out.append(f"task.temperature must be > 0, found {task.temperature}")
    if not 0 < task.top_p <= 1:
        out.append(f"task.top_p must be in (0, 1], found {task.top_p}")
    if task.repetition_penalty <= 0:
        out.append(f"task.repetition_penalty must be > 0, found {task.repetition_penalty}")
    stops = task.stop_strings
    if stops is not None and not (
        (isinstance(stops, str) and stops) or (isinstance(stops, list) and all(isinstance(s, str) and s for s in stops))
    ):
        out.append(f"task.stop_strings must be a non-empty string or a list of them, found {stops!r}")
    return out


CHECKS = (check_generation,)
