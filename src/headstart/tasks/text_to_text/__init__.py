"""Text-to-text classification with an encoder-decoder that writes the label."""

from headstart.tasks.text_to_text.task import TextToText

__all__ = ["TextToText"]
