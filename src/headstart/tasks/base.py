"""The task contract: what the training run and the Predictor need from a task.

A task is a Protocol, not a base class: each task module implements these few methods and the
shared machinery (training, saving, predicting) never branches on the task's name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from headstart.data.encoding import Encoded
from headstart.data.examples import Examples
from headstart.data.labels import LabelSet


class Task(Protocol):
    name: ClassVar[str]
    pipeline_task: ClassVar[str]  # the transformers.pipeline task that loads a saved model

    def main_metric(self, labels: LabelSet) -> str:
        """The metric that picks the best checkpoint (a key of ``metrics``)."""
        ...

    def metric_names(self, labels: LabelSet) -> list[str]:
        """The scalar metrics this task reports (valid values of metric_for_best_model)."""
        ...

    def build_model(self, path: str, labels: LabelSet) -> Any:
        """A pretrained backbone with a fresh head for ``labels``."""
        ...

    def load_model(self, path: str) -> Any:
        """A fine-tuned model from a saved directory."""
        ...

    def encode(
        self, examples: Examples, tokenizer: Any, labels: LabelSet | None, max_length: int
    ) -> tuple[Any, Encoded]:
        """A ``datasets.Dataset`` of model inputs (and ``labels`` ids when given), unpadded."""
        ...

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Scores in [0, 1] from logits, as the matching pipeline computes them."""
        ...

    def metrics(self, label_ids: np.ndarray, logits: np.ndarray, labels: LabelSet, positive: int) -> dict[str, Any]:
        """All scores for the report; scalar ones are also logged during training."""
        ...
