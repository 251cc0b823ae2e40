"""Score a saved model on any labeled file (or in-memory data) with the training metrics.

Example::

    metrics = evaluate("headstart-model", "dev.tsv")
    metrics["accuracy"], metrics["per_class"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headstart.artifacts import METRICS_FILE
from headstart.data.checks import check_data
from headstart.data.examples import Source
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.evaluation.report import write_report
from headstart.inference.predictor import Predictor


def evaluate(
    model_dir: str | Path | Predictor,
    data: Source,
    options: ReadOptions | None = None,
    *,
    batch_size: int = 64,
    report: str | Path | None = None,
    **read: Any,
) -> dict[str, Any]:
    """Metrics of the saved model on labeled ``data`` (columns as in training unless named).

    Args:
        model_dir: A directory written by ``headstart train`` (or a loaded Predictor).
        data: A labeled file (csv, tsv, jsonl, json, parquet; CoNLL for NER) or in-memory data.
        options: How the file is read (``ReadOptions``); its keys may also be given as keywords (``read``).
        batch_size: Inputs per forward pass.
        report: A directory to write report.html and its plots into (created if needed; a report
            already there is replaced, nothing else is touched).
    """
    predictor = model_dir if isinstance(model_dir, Predictor) else Predictor.load(model_dir)
    examples = predictor.task.read_examples(data, predictor.info, ReadOptions.of(options, read), need_label=True)
    predictor.task.check_labels(examples, LabelSet(predictor.labels))
    metrics = predictor.task.evaluate(predictor, examples, batch_size=batch_size)
    if report is not None:
        _report(Path(report), predictor, examples, metrics, data)
    return metrics


def _report(out: Path, predictor: Predictor, examples: Any, metrics: dict[str, Any], data: Source) -> None:
    name = Path(data).name if isinstance(data, (str, Path)) else "data"
    checks = check_data({name: predictor.task.check_split(examples, {})}).to_dict()
    history = None
    saved = predictor.info.path / METRICS_FILE
    if saved.is_file():  # the model's own training curves, for context
        history = json.loads(saved.read_text(encoding="utf-8")).get("history")
    title = f"{predictor.info.path.name} on {name}"
    write_report(out, predictor.info.to_dict(), {name: metrics}, history, checks, title=title)
