"""The task contract: what the training run, the Predictor and evaluate() need from a task.

A task is a Protocol, not a base class: each task module implements these methods and the shared
machinery (training, saving, predicting, evaluating) never branches on the task's name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle
from headstart.data.labels import LabelSet


class Task(Protocol):
    name: ClassVar[str]
    pipeline_task: ClassVar[str]  # the transformers.pipeline task that loads a saved model
    long_inputs: ClassVar[str]  # what happens past max_length: "truncated" or "windowed"
    pre_split: ClassVar[bool]  # inputs are words already split (the tokenizer needs to know)
    problem_type: ClassVar[str]  # the loss: single_label_classification, multi_label_classification, regression

    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        """Train / validation / test examples and the label set (from config files or in-memory data)."""
        ...

    def read_examples(self, source: Any, info: Any, options: dict[str, Any], need_label: bool) -> Any:
        """Examples from a file for evaluate/predict, with the columns or layout used in training."""
        ...

    def check_labels(self, examples: Any, labels: LabelSet) -> None:
        """Raise LabelError for a label that the model does not know."""
        ...

    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        """A pretrained backbone with a fresh head for ``labels``."""
        ...

    def load_model(self, path: str) -> Any:
        """A fine-tuned model from a saved directory."""
        ...

    def encode(self, examples: Any, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict[str, Any]]:
        """A ``datasets.Dataset`` of unpadded model inputs with ``labels``, and a summary for the report
        (``examples``, ``tokens``, ``lengths`` and what was truncated or windowed)."""
        ...

    def check_split(self, examples: Any, summary: dict[str, Any]) -> CheckSplit:
        """The split as the data checks see it: texts, one label per item, locations, token lengths."""
        ...

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        """Pads a batch dynamically (to its longest sequence, rounded up to ``pad_to_multiple_of``)."""
        ...

    def main_metric(self, labels: LabelSet) -> str:
        """The metric that picks the best checkpoint."""
        ...

    def metric_names(self, labels: LabelSet) -> list[str]:
        """The scalar metrics reported during training (valid values of metric_for_best_model)."""
        ...

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        """Trainer's compute_metrics: scalar scores from an EvalPrediction."""
        ...

    def tune(self, predictor: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Settings fitted on validation after training (a decision threshold), for headstart.json."""
        ...

    def evaluate(self, predictor: Any, examples: Any, batch_size: int = 64) -> dict[str, Any]:
        """All scores of a Predictor on labeled examples (the numbers in metrics.json)."""
        ...

    def saved_info(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        """Task fields of headstart.json (columns, pairs, tag scheme, ...)."""
        ...

    def predictor_class(self) -> type:
        """The Predictor subclass that runs this task's saved models."""
        ...
