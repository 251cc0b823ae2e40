"""Score a saved model on any labeled file (or in-memory data) with the training metrics.

Example::

    metrics = evaluate("headstart-model", "dev.tsv")
    metrics["accuracy"], metrics["per_class"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.data.examples import Source
from headstart.data.labels import LabelSet
from headstart.inference.predictor import Predictor


def evaluate(
    model_dir: str | Path | Predictor,
    data: Source,
    *,
    format: str | None = None,
    encoding: str | None = None,
    header: bool = True,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Metrics of the saved model on labeled ``data`` (columns as in training unless named)."""
    predictor = model_dir if isinstance(model_dir, Predictor) else Predictor.load(model_dir)
    options = dict(
        format=format,
        encoding=encoding,
        header=header,
        text_column=text_column,
        text_pair_column=text_pair_column,
        label_column=label_column,
    )
    examples = predictor.task.read_examples(data, predictor.info, options, need_label=True)
    predictor.task.check_labels(examples, LabelSet(predictor.labels))
    return predictor.task.evaluate(predictor, examples, batch_size=batch_size)
