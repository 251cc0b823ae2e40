"""One fine-tuning run: data -> HF Trainer -> evaluation -> a saved model directory.

Example::

    from headstart import RunConfig, train
    cfg = RunConfig()
    cfg.model.name, cfg.data.train, cfg.train.output_dir = "bert-tiny", "train.csv", "out"
    result = train(cfg)
    result.metrics["validation"]["accuracy"]
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, DataCollatorWithPadding, EarlyStoppingCallback, set_seed

from headstart.artifacts import INFO_FILE, METRICS_FILE, check_output_dir, publish, staging_dir, versions, write_json
from headstart.config import RunConfig, load_config
from headstart.data.examples import DataBundle, Examples, Source, load_splits
from headstart.data.labels import LabelSet
from headstart.errors import ConfigError, HeadstartError, LabelError
from headstart.evaluation.metrics import scalar_metrics
from headstart.evaluation.model_card import render_model_card
from headstart.models import load_error, resolve_model
from headstart.tasks import Task, get_task
from headstart.training.arguments import training_arguments
from headstart.training.trainer import HeadstartTrainer

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict[str, Any]  # {"validation": {...}, "test": {...}} with per-class reports
    notes: list[str] = field(default_factory=list)
    train_seconds: float = 0.0


def train(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    *,
    train: Source | None = None,
    validation: Source | None = None,
    test: Source | None = None,
) -> TrainResult:
    """Fine-tune, evaluate and save; ``train``/``validation``/``test`` override the config's files
    with in-memory data (DataFrames, lists of dicts, dicts of columns)."""
    cfg = _as_config(config)
    task = get_task(cfg.task.type)
    out = check_output_dir(cfg.train.output_dir, cfg.train.overwrite_output_dir)
    set_seed(cfg.train.seed)
    bundle = load_splits(cfg.data, train=train, validation=validation, test=test, seed=cfg.train.seed)
    positive = _positive_index(bundle.labels, cfg.task.positive_label)
    model_path = resolve_model(cfg.model.name)
    tokenizer, model = _load_backbone(task, cfg.model.name, model_path, bundle.labels)
    notes = list(bundle.notes)
    datasets_, summary = _encode_splits(task, bundle, tokenizer, cfg.model.max_length, notes)

    stage = staging_dir(out)
    try:
        trainer = _make_trainer(cfg, task, model, tokenizer, datasets_, bundle.labels, positive, stage, summary)
        logger.info("training on %d examples, validating on %d", len(bundle.train), len(bundle.validation))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        metrics = {
            split: _evaluate_split(trainer, task, datasets_[split], bundle.labels, positive)
            for split in ("validation", "test")
            if split in datasets_
        }
        _save(stage, trainer, tokenizer, cfg, task, bundle, metrics, summary, notes, seconds)
        publish(stage, out, cfg.train.overwrite_output_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    logger.info("saved the model to %s", out)
    return TrainResult(out, metrics, notes, seconds)


def _as_config(config: RunConfig | dict[str, Any] | str | Path | None) -> RunConfig:
    if config is None:
        return RunConfig().validate()
    if isinstance(config, RunConfig):
        return config.validate()
    if isinstance(config, dict):
        return RunConfig.from_dict(config, source="config dict")
    return load_config(config)


def _positive_index(labels: LabelSet, positive_label: str | None) -> int:
    if positive_label is None:
        return 1 if len(labels) == 2 else 0
    key = labels.key(positive_label)
    if key not in labels.label2id:
        raise LabelError(
            f"task.positive_label among {labels.names}",
            found=repr(positive_label),
            fix="set task.positive_label to one of the training labels",
        )
    return labels.label2id[key]


def _load_backbone(task: Task, name: str, path: str, labels: LabelSet) -> tuple[Any, Any]:
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = task.build_model(path, labels)
    except HeadstartError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # hub unreachable, missing files, unknown architecture
        raise load_error(name, exc) from None
    return tokenizer, model


def _encode_splits(
    task: Task, bundle: DataBundle, tokenizer: Any, max_length: int, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    splits: dict[str, Examples] = {"train": bundle.train, "validation": bundle.validation}
    if bundle.test is not None:
        splits["test"] = bundle.test
    out, summary = {}, {}
    for name, examples in splits.items():
        ds, enc = task.encode(examples, tokenizer, bundle.labels, max_length)
        out[name] = ds
        summary[name] = {
            "examples": len(examples),
            "source": examples.source,
            "label_distribution": bundle.labels.distribution(examples.labels or []),
            "truncated": enc.n_truncated,
            "tokens": int(sum(enc.lengths)),
            "longest_before_truncation": enc.max_untruncated,
        }
        if name == "train":
            summary[name]["lengths"] = enc.lengths
        if enc.n_truncated:
            note = (
                f"{name}: {enc.n_truncated} of {len(examples)} examples were truncated to max_length="
                f"{max_length} tokens (longest: {enc.max_untruncated})"
            )
            notes.append(note)
            logger.warning(note)
    return out, summary


def _make_trainer(
    cfg: RunConfig,
    task: Task,
    model: Any,
    tokenizer: Any,
    data: dict[str, Any],
    labels: LabelSet,
    positive: int,
    stage: Path,
    summary: dict[str, Any],
) -> HeadstartTrainer:
    main = task.main_metric(labels)
    args = training_arguments(cfg.train, stage / "checkpoints", main)
    known = set(task.metric_names(labels)) | {"loss"}
    if args.metric_for_best_model and args.metric_for_best_model.removeprefix("eval_") not in known:
        raise ConfigError(
            f"train.metric_for_best_model among {', '.join(sorted(known))}",
            found=repr(cfg.train.metric_for_best_model),
            fix="pick one of these",
        )
    callbacks = []
    if cfg.train.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.train.early_stopping_patience))

    def compute_metrics(prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return scalar_metrics(task.metrics(prediction.label_ids, logits, labels, positive))

    return HeadstartTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        train_lengths=summary["train"].pop("lengths"),
    )


def _evaluate_split(trainer: HeadstartTrainer, task: Task, dataset: Any, labels: LabelSet, positive: int) -> dict:
    output = trainer.predict(dataset)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    return task.metrics(output.label_ids, logits, labels, positive)


def _save(
    stage: Path,
    trainer: HeadstartTrainer,
    tokenizer: Any,
    cfg: RunConfig,
    task: Task,
    bundle: DataBundle,
    metrics: dict[str, Any],
    summary: dict[str, Any],
    notes: list[str],
    seconds: float,
) -> None:
    # The pipeline truncates to model_max_length when called with truncation=True: make it ours.
    tokenizer.model_max_length = cfg.model.max_length
    # save_pretrained rather than Trainer.save_model, which also pickles training_args.bin.
    trainer.model.save_pretrained(str(stage))
    tokenizer.save_pretrained(str(stage))
    shutil.rmtree(stage / "checkpoints", ignore_errors=True)
    columns = bundle.train.columns
    info = {
        "format_version": 1,
        "task": task.name,
        "pipeline_task": task.pipeline_task,
        "labels": bundle.labels.names,
        "positive_label": bundle.labels.names[_positive_index(bundle.labels, cfg.task.positive_label)],
        "columns": {
            "text": columns.text if columns else None,
            "text_pair": columns.text_pair if columns else None,
            "label": columns.label if columns else None,
        },
        "is_pair": bundle.train.is_pair,
        "max_length": cfg.model.max_length,
        "base_model": cfg.model.name,
        "main_metric": task.main_metric(bundle.labels),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
        "data": summary,
        "notes": notes,
        "train_seconds": round(seconds, 1),
        "config": cfg.to_dict(),
    }
    write_json(stage / INFO_FILE, info)
    history = [entry for entry in trainer.state.log_history]
    write_json(stage / METRICS_FILE, {**metrics, "history": history, "train_seconds": round(seconds, 1)})
    (stage / "README.md").write_text(render_model_card(info, metrics), encoding="utf-8")
