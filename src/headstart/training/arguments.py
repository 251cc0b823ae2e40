"""TrainConfig -> HF TrainingArguments: the config's TrainingArguments fields, and what a run sets itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments

from headstart.acceleration.hardware import choose_bf16
from headstart.config import HF_TRAIN_FIELDS, TrainConfig
from headstart.training.distributed import world_size
from headstart.training.trackers import tracker_names

# Metrics where smaller is better (errors); every other metric is a score to maximise.
LOWER_IS_BETTER = {"mse", "rmse", "mae", "hamming_loss"}


def scored_after_training_only(cfg: TrainConfig) -> bool:
    """Whether the run's one validation pass inside training is left out, the validation set being
    scored once, after training, by the same final evaluation that scores every run.

    With ``eval_strategy`` epoch and at most one epoch, the Trainer would evaluate once, after the
    last step: the "best" checkpoint it saves for that is the final model, and the final evaluation
    (``Predictor``, in input order, entity spans) scores the same weights again: the pass and its
    checkpoint would be spent for nothing. Kept where something reads it while training runs: early
    stopping, experiment trackers (their runs close with training, before the final evaluation), a
    ``max_steps`` run.
    """
    return (
        cfg.eval_strategy == "epoch"
        and cfg.num_train_epochs <= 1
        and cfg.max_steps <= 0
        and not cfg.early_stopping_patience
        and not tracker_names(cfg.report_to)
    )


def training_arguments(
    cfg: TrainConfig,
    work_dir: Path,
    main_metric: str,
    has_eval: bool = True,
    arguments_class: type[TrainingArguments] = TrainingArguments,
    extra: dict[str, Any] | None = None,
) -> TrainingArguments:
    """The TrainingArguments of a run whose checkpoints go to ``work_dir``; a task's own Trainer
    takes ``arguments_class`` (a subclass) with the ``extra`` values of the fields it adds."""
    passed = {name: getattr(cfg, name) for name in HF_TRAIN_FIELDS}
    evaluate = has_eval and cfg.eval_strategy != "no" and not scored_after_training_only(cfg)
    metric = cfg.metric_for_best_model or main_metric
    bf16 = choose_bf16(cfg.bf16, "cuda" if torch.cuda.is_available() else "cpu")
    passed.update(
        output_dir=str(work_dir),
        eval_strategy=cfg.eval_strategy if evaluate else "no",
        # Checkpoints follow evaluations so the best one can be restored at the end.
        save_strategy=cfg.eval_strategy if evaluate else "no",
        save_steps=cfg.eval_steps,
        load_best_model_at_end=evaluate,
        metric_for_best_model=metric if evaluate else None,
        greater_is_better=not (metric.endswith("loss") or metric.removeprefix("eval_") in LOWER_IS_BETTER),
        logging_strategy="steps",
        save_only_model=False,
        remove_unused_columns=True,
        # HF refuses bf16 without a GPU unless told the run is on the CPU on purpose, and only
        # treats a torchrun/accelerate launch without GPUs as distributed (gloo) when told so too.
        bf16=bf16,
        use_cpu=not torch.cuda.is_available() and (bf16 or world_size() > 1),
        dataloader_pin_memory=torch.cuda.is_available(),
        report_to=tracker_names(cfg.report_to) or "none",
    )
    if passed["eval_steps"] is None:
        passed.pop("eval_steps")
        passed.pop("save_steps")
    return arguments_class(**passed, **(extra or {}))
