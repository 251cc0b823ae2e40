"""Single-label classification of texts or text pairs."""

from headstart.tasks.text_classification.task import TextClassification

__all__ = ["TextClassification"]
