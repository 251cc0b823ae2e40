"""Named-entity recognition: a tag per word, softmax or CRF head."""

from headstart.tasks.token_classification.task import TokenClassification

__all__ = ["TokenClassification"]
