"""Score a saved model on any labeled file (or in-memory data) with the training metrics.

Example::

    metrics = evaluate("headstart-model", "dev.tsv")
    metrics["accuracy"], metrics["per_class"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from headstart.data.columns import ColumnSpec
from headstart.data.examples import Source, check_known_labels, load_examples
from headstart.data.labels import LabelSet
from headstart.errors import DataError
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
    saved = predictor.info.columns
    explicit = any(c is not None for c in (text_column, text_pair_column, label_column))
    preferred = (
        None
        if explicit or not saved.get("text")
        else ColumnSpec(saved["text"], saved.get("text_pair"), saved.get("label"))
    )
    examples = load_examples(
        data,
        format=format,
        encoding=encoding,
        header=header,
        text_column=text_column,
        text_pair_column=text_pair_column,
        label_column=label_column,
        columns=preferred,
    )
    labels = LabelSet(predictor.labels)
    check_known_labels(examples, labels)
    if examples.is_pair != predictor.is_pair:
        kind = "text pairs" if predictor.is_pair else "single texts"
        raise DataError(
            f"{kind}, as the model was trained on",
            found=f"columns {examples.columns}",
            fix="name the text columns with --text-column/--text-pair-column",
            file=examples.source,
        )
    logits = predictor.logits(examples, batch_size=batch_size)
    ids = np.array([labels.label2id[label] for label in examples.labels or []])
    positive = labels.label2id.get(str(predictor.info.raw.get("positive_label")), 1 if len(labels) == 2 else 0)
    return predictor.task.metrics(ids, logits, labels, positive)
