"""One fine-tuning run: data -> HF Trainer -> evaluation -> a saved model directory.

Example::

    from headstart import RunConfig, train
    cfg = RunConfig()
    cfg.model.name, cfg.data.train, cfg.train.output_dir = "bert-tiny", "train.csv", "out"
    result = train(cfg)
    result.metrics["validation"]["accuracy"]
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

from headstart.acceleration import attention_implementation, attention_of, pad_multiple, prepare
from headstart.acceleration.dropout import dropout_of
from headstart.artifacts import METRICS_FILE, ModelInfo, check_output_dir, publish, versions, write_json
from headstart.config import RunConfig, load_config
from headstart.data.checks import DataChecks, check_data
from headstart.data.examples import DataBundle, Source
from headstart.data.labels import LabelSet
from headstart.errors import ConfigError, HeadstartError
from headstart.evaluation.model_card import render_model_card
from headstart.evaluation.report import write_report
from headstart.inference.predictor import Predictor
from headstart.modeling.backbones import align_model, load_tokenizer, max_tokens
from headstart.modeling.lora import ADAPTER_DIR, adapter_record, is_adapted, merged, refresh_saved_head, with_lora
from headstart.models import load_error, resolve_model
from headstart.tasks import Task, get_task
from headstart.tasks.base import TEACHER_COLUMN
from headstart.training.arguments import scored_after_training_only, training_arguments
from headstart.training.callbacks import CheckpointSchedule, ReleaseFreeMemory, keep_freed_memory, release_free_memory
from headstart.training.distributed import collective_failure, is_main, join, leave, save_minutes
from headstart.training.estimate import describe, estimate_run_seconds
from headstart.training.resume import open_work_dir, resume_point, run_identity
from headstart.training.trackers import check_trackers, tensorboard_logs, tracker_names
from headstart.training.trainer import HeadstartTrainer, with_own_trainer

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
    return run_training(as_config(config), train, validation, test)


def run_training(
    cfg: RunConfig,
    train: Source | None,
    validation: Source | None,
    test: Source | None,
    search: Any = None,
    distillation: Any = None,
) -> TrainResult:
    """``train``'s run. ``search`` is the record of a hyper-parameter search that chose the settings
    (``headstart tune``), saved in headstart.json and shown in the report and the card;
    ``distillation`` a teacher the model learns from (``training/distill.py``). A search whose
    record names a ``kept_trial`` has put that trial's finished checkpoints in the run's work
    directory: they are resumed at their end, so the trial's model is scored and saved untrained."""
    task = get_task(cfg.task.type)
    model_path = resolve_model(cfg.model.name)
    cfg = with_task_defaults(cfg, task, model_path)
    check_trackers(cfg.train.report_to)  # a missing tracker package fails now, not after data loading
    out = check_output_dir(cfg.train.output_dir, cfg.train.overwrite_output_dir)
    set_seed(cfg.train.seed)
    bundle = task.load_data(cfg, train, validation, test)
    if distillation is not None:
        bundle = distillation.extend(task, bundle)
    # seeded again right before the head's random init, as the Trainer seeds before a model_init: the
    # same settings then give the same model as a search trial did, whatever reading the data drew
    set_seed(cfg.train.seed)
    tokenizer, model = _load_backbone(task, cfg, model_path, bundle.labels)
    notes = list(bundle.notes)
    data, summary = encode_splits(task, bundle, tokenizer, cfg, notes)
    owners = {name: split.pop("owner", None) for name, split in summary.items()}
    if distillation is not None:
        teacher = distillation.targets(task, bundle.train, owners["train"], bundle.labels)
        data["train"] = data["train"].add_column(TEACHER_COLUMN, teacher)
    checks = _check_data(task, bundle, summary, cfg)

    join(cfg.train.ddp_timeout)  # under a launcher: the process group, with its collective timeout
    main = is_main()  # under torchrun / accelerate only rank 0 writes (distributed.py)
    work = open_work_dir(out, lock=main)
    stage = work.path
    started = False
    try:
        identity = run_identity(cfg.to_dict(), data["train"], bundle.labels.names)
        kept = (search or {}).get("kept_trial")
        resume_from = resume_point(
            work, identity, required=cfg.train.resume, write=main, defaults=RunConfig().to_dict(), announce=not kept
        )
        if kept:
            logger.info(
                "keeping the search's trial %d: its model is scored and saved, not trained again", kept["number"]
            )
        started = True
        weights = _class_weights(cfg, task, bundle.labels, data["train"])
        trainer_class = HeadstartTrainer if distillation is None else distillation.trainer_class
        trainer = trainer_for(
            cfg, task, model, tokenizer, data, bundle.labels, work.checkpoints, summary, weights, trainer_class
        )
        if distillation is not None:
            trainer.distill_loss = task.distillation_loss(distillation.temperature, distillation.alpha)
        checks.estimate = None if kept else _estimate(trainer, summary, cfg)
        logger.info("training on %d examples, validating on %d", len(bundle.train), len(bundle.validation))
        after_training = bundle.validation is not None and scored_after_training_only(cfg.train)
        if after_training:
            logger.info("validation: scored once, after training (one epoch: a pass inside scores the same weights)")
        if cfg.speed.keep_freed_memory and not keep_freed_memory():
            logger.debug("keep_freed_memory: no glibc mallopt here, the C library's defaults stay")
        start = time.perf_counter()
        try:
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
            seconds = time.perf_counter() - start
            leave(trainer.args.ddp_timeout)  # every rank, together: no collective left pending when one exits
        except RuntimeError as exc:
            raise collective_failure(exc, trainer.args.ddp_timeout) from exc
        if not main:  # the main process evaluates and saves; this one's part is done
            return TrainResult(out, {}, notes, seconds)
        adapters = None
        if is_adapted(trainer.model):  # the adapters alone, then merged: the model is a plain one again
            trainer.model.save_pretrained(str(stage / ADAPTER_DIR))
            adapters = adapter_record(trainer.model, cfg.model.merge)
            trainer.model = merged(trainer.model)
        throughput = trainer.throughput.report(trainer.model, seconds)  # training steps of this process
        if kept:  # trained by the search: its trial's time and throughput
            seconds, throughput = kept["train_seconds"], kept["throughput"]
        logger.info(
            "training: %.0f real tokens/s, %.1f%% of batch tokens were padding, %.1f model GFLOP/s",
            throughput["tokens_per_second"],
            100 * throughput["padding_fraction"],
            throughput["model_gflops_per_second"],
        )
        info = _info(cfg, task, bundle, summary, notes, seconds, None if kept else resume_from, stage)
        info.search = search
        info.distilled_from = None if distillation is None else distillation.record()
        info.adapters = adapters
        info.data_checks = checks.to_dict()
        info.architecture = type(trainer.model).__name__
        info.precision = "bf16" if trainer.args.bf16 else "fp32"
        info.throughput = throughput
        info.attn_implementation = attention_of(trainer.model)  # the training one
        info.dropout_implementation = dropout_of(trainer.model)
        if weights is not None:
            info.class_weights = dict(zip(bundle.labels.names, weights))
        predictor = Predictor(
            trainer.model,
            tokenizer,
            info,
            task,
            str(trainer.args.device),
            bf16=trainer.args.bf16,  # scored as it was trained, and as Predictor.load runs it here
        )
        if cfg.speed.release_memory_steps or cfg.speed.release_memory_growth_mb:
            release_free_memory()  # training's fragments, before scoring allocates its own
        info = predictor.info = info.with_settings(**task.tune(predictor, bundle.validation, cfg))
        splits = {"validation": bundle.validation, "test": bundle.test}
        metrics = {name: task.evaluate(predictor, ex) for name, ex in splits.items() if ex is not None}
        if after_training and "validation" in metrics:  # the learning curve's one validation point
            trainer.state.log_history.append(_validation_point(trainer.state, metrics["validation"]))
        _save(stage, trainer, tokenizer, cfg, task, info, metrics, seconds)
        work.strip()  # the checkpoints go only once everything else is saved
        publish(stage, out, cfg.train.overwrite_output_dir)
    except BaseException:
        kept = work.last_checkpoint()
        if kept is None and main:
            shutil.rmtree(stage, ignore_errors=True)
        elif started:  # an interruption, not a refused resume
            logger.error("interrupted: run the same command again to continue from %s", kept)
        raise
    finally:
        work.release()
    logger.info("saved the model to %s", out)
    return TrainResult(out, metrics, notes, seconds)


def check(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    *,
    train: Source | None = None,
    validation: Source | None = None,
    test: Source | None = None,
) -> DataChecks:
    """The data checks ``train`` runs before training, without training (only the tokenizer loads)."""
    cfg = as_config(config)
    task = get_task(cfg.task.type)
    model_path = resolve_model(cfg.model.name)
    cfg = with_task_defaults(cfg, task, model_path)
    bundle = task.load_data(cfg, train, validation, test)
    try:
        tokenizer = load_tokenizer(model_path, words=task.pre_split)
    except (OSError, ValueError, KeyError) as exc:
        raise load_error(cfg.model.name, exc) from None
    _, summary = encode_splits(task, bundle, tokenizer, cfg, list(bundle.notes))
    return _check_data(task, bundle, summary, cfg)


def with_task_defaults(cfg: RunConfig, task: Task, model_path: str | None = None) -> RunConfig:
    """The config with what it leaves to the task filled in (``model.max_length``: the task's
    default, or fewer tokens where the backbone's position embeddings hold fewer); the caller's is
    unchanged. A ``max_length`` the backbone cannot hold is a ConfigError."""
    limit = _position_limit(model_path) if model_path else None
    length = cfg.model.max_length
    if length is not None and limit is not None and length > limit:
        raise ConfigError(
            f"model.max_length of at most {limit} tokens for {cfg.model.name} (its position embeddings hold {limit})",
            found=f"max_length {length}",
            fix=f"set --max-length {limit} or less; longer texts are truncated"
            + (" or windowed" if task.long_inputs == "windowed" else "")
            + ", or use a backbone with relative or rotary positions",
        )
    if length is not None:
        return cfg
    length = task.max_length if limit is None else min(task.max_length, limit)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, max_length=length))


def _position_limit(model_path: str) -> int | None:
    """How many tokens the backbone at ``model_path`` can take (None: unbounded, or its config cannot
    be read here: loading the model reports that properly)."""
    from transformers import AutoConfig

    try:
        return max_tokens(AutoConfig.from_pretrained(model_path))
    except (OSError, ValueError, KeyError):
        return None


def as_config(config: RunConfig | dict[str, Any] | str | Path | None) -> RunConfig:
    if config is None:
        return RunConfig().validate()
    if isinstance(config, RunConfig):
        return config.validate()
    if isinstance(config, dict):
        return RunConfig.from_dict(config, source="config dict")
    return load_config(config)


def _load_backbone(task: Task, cfg: RunConfig, path: str, labels: LabelSet) -> tuple[Any, Any]:
    try:
        tokenizer = load_tokenizer(path, words=task.pre_split)
        model = align_model(task.build_model(path, labels, cfg), tokenizer)
        if cfg.model.lora:
            model = with_lora(model, cfg.model)
    except HeadstartError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # hub unreachable, missing files, unknown architecture
        raise load_error(cfg.model.name, exc) from None
    return tokenizer, model


def encode_splits(
    task: Task, bundle: DataBundle, tokenizer: Any, cfg: RunConfig, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    splits = {"train": bundle.train, "validation": bundle.validation, "test": bundle.test}
    out, summary = {}, {}
    for name, examples in splits.items():
        if examples is None:
            continue
        out[name], summary[name] = task.encode(examples, tokenizer, bundle.labels, cfg)
        for note in summary[name].pop("notes", []):
            if note not in notes:
                notes.append(note)
                logger.warning(note)
        cut = "cut to their start and end within" if summary[name].get("head_tail") else "truncated to"
        for key, what in (("truncated", cut), ("windowed", "split into overlapping windows of")):
            if summary[name].get(key):
                note = (
                    f"{name}: {summary[name][key]} of {len(examples)} examples were {what} max_length="
                    f"{cfg.model.max_length} tokens (longest: {summary[name]['longest_before_truncation']})"
                )
                notes.append(note)
                logger.warning(note)
    return out, summary


def _check_data(task: Task, bundle: DataBundle, summary: dict[str, Any], cfg: RunConfig) -> DataChecks:
    """Data checks, logged before training starts (and saved in headstart.json)."""
    splits = {"train": bundle.train, "validation": bundle.validation, "test": bundle.test}
    views = {}
    for name, examples in splits.items():
        if examples is not None:
            views[name] = task.check_split(examples, summary[name])
            summary[name].pop("full_lengths", None)  # used here; too long for headstart.json
    windowed = any(s.get("windowed") is not None for s in summary.values())
    checks = check_data(views, cfg.model.max_length, "windowed" if windowed else task.long_inputs)
    for finding in checks.findings:
        (logger.warning if finding.severity == "warning" else logger.info)("data check: %s", finding.line())
    if not checks.warnings():
        logger.info("data checks: no empty texts, duplicates, leakage, conflicting labels or skew found")
    return checks


def _estimate(trainer: HeadstartTrainer, summary: dict[str, Any], cfg: RunConfig) -> dict[str, float] | None:
    args = trainer.args
    n_train = summary["train"]["examples"]
    epochs = args.num_train_epochs
    if args.max_steps > 0:
        epochs = args.max_steps * args.train_batch_size * args.gradient_accumulation_steps / max(n_train, 1)
    evaluations = math.ceil(epochs) if args.eval_strategy == "epoch" else 0
    if args.eval_strategy == "steps" and args.eval_steps:
        steps = epochs * n_train / (args.train_batch_size * args.gradient_accumulation_steps)
        evaluations = int(steps // args.eval_steps)
    eval_tokens = summary.get("validation", {}).get("tokens", 0)
    # + the final scoring of validation and test
    extra = eval_tokens + summary.get("test", {}).get("tokens", 0)
    estimate = estimate_run_seconds(
        trainer, summary["train"]["tokens"], eval_tokens, evaluations, epochs, extra_eval_tokens=extra
    )
    if estimate:
        logger.info(
            "estimated time: %s of training + %s of evaluation (%.0f tokens/s measured on its own batches)",
            describe(estimate["train_seconds"]),
            describe(estimate["eval_seconds"]),
            estimate["tokens_per_second"],
        )
    return estimate


def _class_weights(cfg: RunConfig, task: Task, labels: LabelSet, train_data: Any) -> list[float] | None:
    if cfg.task.class_weights is None:
        return None
    weights = task.class_weights(cfg.task.class_weights, labels, train_data)
    if weights is not None:
        logger.info("class weights in the loss: %s", ", ".join(f"{n} {w:.3g}" for n, w in zip(labels.names, weights)))
    return weights


def trainer_for(
    cfg: RunConfig,
    task: Task,
    model: Any,
    tokenizer: Any,
    data: dict[str, Any],
    labels: LabelSet,
    checkpoints: Path,
    summary: dict[str, Any],
    class_weights: list[float] | None = None,
    trainer_class: type[HeadstartTrainer] = HeadstartTrainer,
) -> HeadstartTrainer:
    """The run's Trainer; ``model`` is the model, or a function of a search trial that builds one
    (HF's ``model_init``), whose models are prepared for the device as the run's would be."""
    trackers = tracker_names(cfg.train.report_to)
    own = task.training_setup(cfg, tokenizer) if hasattr(task, "training_setup") else None
    if own is not None:
        trainer_class = with_own_trainer(trainer_class, own.trainer_class)
    args = training_arguments(
        cfg.train,
        checkpoints,
        task.main_metric(labels),
        arguments_class=own.arguments_class if own else TrainingArguments,
        extra=own.arguments if own else None,
    )
    known = set(task.metric_names(labels)) | {"loss"}
    if args.metric_for_best_model and args.metric_for_best_model.removeprefix("eval_") not in known:
        raise ConfigError(
            f"train.metric_for_best_model among {', '.join(sorted(known))}",
            found=repr(cfg.train.metric_for_best_model),
            fix="pick one of these",
        )
    callbacks: list[Any] = [CheckpointSchedule(cfg.train.save_steps, save_minutes(cfg.train.save_minutes))]
    if cfg.speed.release_memory_steps or cfg.speed.release_memory_growth_mb:
        callbacks.append(ReleaseFreeMemory(cfg.speed.release_memory_steps, cfg.speed.release_memory_growth_mb))
    if cfg.train.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.train.early_stopping_patience))

    def prepared(built: Any) -> Any:
        prepare(
            built,
            device=args.device.type,
            bf16=args.bf16,
            training=True,
            attn_implementation=cfg.speed.attn_implementation,
            dropout_implementation_name=cfg.speed.dropout_implementation,
            last_layer_first_token=cfg.speed.last_layer_first_token,
        )
        return built

    model_init = None
    if isinstance(model, torch.nn.Module):
        prepared(model)
    else:
        build, model = model, None
        model_init = lambda trial=None: prepared(build(trial))  # noqa: E731 - HF counts its arguments
    lengths = {name: s.pop("lengths") for name, s in summary.items()}
    if own is not None and not own.measured_lengths:
        lengths = {}  # the task's trainer regroups the rows (packing): encode()'s lengths no longer apply
    padding = _pad_multiple(cfg, args.device.type, args.bf16)
    keywords: dict[str, Any] = {
        "model": model,
        "model_init": model_init,
        "args": args,
        "train_dataset": data["train"],
        "eval_dataset": data["validation"],
        "processing_class": tokenizer,
        "data_collator": task.collator(tokenizer, padding),
        "compute_metrics": lambda prediction: task.train_metrics(prediction, labels, cfg),
        "callbacks": callbacks,
        "train_lengths": lengths.get("train"),
        "eval_lengths": lengths.get("validation"),
        "max_tokens_per_batch": cfg.train.max_tokens_per_batch,
        "pad_to_multiple_of": padding,  # the token budget counts the rounded lengths
        # one asked for by name is used throughout
        "eval_attention": attention_implementation(args.device.type, args.bf16, training=False)
        if cfg.speed.attn_implementation is None
        else None,
        "compute_loss_func": task.loss(class_weights) if class_weights else None,
    }
    if own is not None:
        keywords.update(own.trainer_kwargs)
        # a task's trainer may take neither (TRL's SFTTrainer builds its own collator, has no model_init)
        keywords = {k: v for k, v in keywords.items() if v is not None or k not in ("model_init", "data_collator")}
    with tensorboard_logs(checkpoints.parent, trackers):
        trainer = trainer_class(**keywords)
    if own is not None and own.on_trainer is not None:
        own.on_trainer(trainer)
    return trainer


def _validation_point(state: Any, scores: dict[str, Any]) -> dict[str, Any]:
    """The final validation scores as a Trainer log entry (``eval_<metric>`` at the last step)."""
    # the scores (floats); counts (n, entities) and per-class reports stay in metrics.json
    point = {f"eval_{name}": value for name, value in scores.items() if isinstance(value, float)}
    return {**point, "epoch": state.epoch, "step": state.global_step, "scored_after_training": True}


def _info(
    cfg: RunConfig,
    task: Task,
    bundle: DataBundle,
    summary: dict[str, Any],
    notes: list[str],
    seconds: float,
    resumed_from: Path | None,
    stage: Path,
) -> ModelInfo:
    return ModelInfo(
        path=stage,
        task=task.name,
        pipeline_task=task.pipeline_task,
        labels=bundle.labels.names,
        columns=task.saved_columns(bundle, cfg),
        settings=task.saved_settings(bundle, cfg),
        max_length=cfg.model.max_length,
        base_model=cfg.model.name,
        main_metric=task.main_metric(bundle.labels),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        versions=versions(),
        data=summary,
        notes=notes,
        train_seconds=round(seconds, 1),  # of this process: after a resume, only the resumed part
        resumed_from=resumed_from.name if resumed_from else None,
        config=cfg.to_dict(),
    )


def _save(
    stage: Path,
    trainer: HeadstartTrainer,
    tokenizer: Any,
    cfg: RunConfig,
    task: Task,
    info: ModelInfo,
    metrics: dict[str, Any],
    seconds: float,
) -> None:
    # The pipeline truncates to model_max_length when called with truncation=True: make it ours.
    tokenizer.model_max_length = cfg.model.max_length
    if info.adapters:
        refresh_saved_head(stage / info.adapters["dir"], trainer.model)
    if info.adapters and not info.adapters["merged"]:  # the adapters alone: the config, not the weights
        trainer.model.config.save_pretrained(str(stage))
        if trainer.model.can_generate():
            trainer.model.generation_config.save_pretrained(str(stage))
    else:  # save_pretrained rather than Trainer.save_model, which also pickles training_args.bin
        trainer.model.save_pretrained(str(stage))
    tokenizer.save_pretrained(str(stage))
    info.write(stage)
    history = list(trainer.state.log_history)
    write_json(stage / METRICS_FILE, {**metrics, "history": history, "train_seconds": round(seconds, 1)})
    (stage / "README.md").write_text(render_model_card(info, task, metrics), encoding="utf-8")
    write_report(stage, info.to_dict(), metrics, history, info.data_checks, title=Path(cfg.train.output_dir).name)


def _pad_multiple(cfg: RunConfig, device: str = "cpu", bf16: bool = False) -> int | None:
    """The multiple training batches pad to: speed.pad_to_multiple_of, or where it is unset the
    measured one for this device and precision (``hardware.PAD_MULTIPLE``); None (no rounding) where
    max_length is not a multiple of it: rounding up could reach past the model's position embeddings."""
    multiple = cfg.speed.pad_to_multiple_of or pad_multiple(device, bf16)
    if multiple == 1:
        return None
    if multiple and cfg.model.max_length % multiple:
        logger.info("pad_to_multiple_of %d: off, max_length %d is not a multiple of it", multiple, cfg.model.max_length)
        return None
    if multiple:
        logger.info("padding: batches to a multiple of %d tokens (%s)", multiple, "bf16" if bf16 else "fp32")
    return multiple
