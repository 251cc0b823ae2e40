"""How an input becomes what the model reads: a prompt template, or the tokenizer's chat template.

>>> as_prompt("name[Aromi]", "Describe: {input}\\n")
'Describe: name[Aromi]\\n'
"""

from __future__ import annotations

from typing import Any

from headstart.errors import ConfigError
from headstart.tasks.generation.config import INPUT

DECODER_TEMPLATE = INPUT + "\n"  # the input, then a new line where the target starts
SEQ2SEQ_TEMPLATE = INPUT


def as_prompt(value: str, template: str) -> str:
    """The template with the input in place (other braces are kept as they are)."""
    return template.replace(INPUT, value)


def as_messages(value: Any, template: str) -> list[dict[str, str]]:
    """Chat messages before the reply: a text input becomes the user's message (through the template)."""
    if isinstance(value, list):
        return value
    return [{"role": "user", "content": as_prompt(value, template)}]


def check_chat_template(tokenizer: Any, model: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "a tokenizer with a chat template (an instruct model) for chat-style data or task.chat_template",
            found=f"none in {model}'s tokenizer",
            fix="use an instruct model, set task.chat_template false, or give input/target columns instead of messages",
        )


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The chat template's text of ``messages``, ending where the assistant's reply starts."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
