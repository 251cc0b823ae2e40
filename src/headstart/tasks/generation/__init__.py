"""Generative fine-tuning: input text -> output text, with decoders (SFT) and encoder-decoders (T5)."""

from headstart.tasks.generation.task import Generation

__all__ = ["Generation"]
