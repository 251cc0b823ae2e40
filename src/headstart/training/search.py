"""Hyper-parameter search within a time budget: HF's ``Trainer.hyperparameter_search`` with optuna.

Trials train on the training set and are scored on validation after every epoch, where optuna's
median pruner stops those behind the others. Before a trial starts its time is estimated from the
measured training speed; a trial that would not fit in what is left of the budget (with room kept
to score and save the model) is not started. Trials keep their checkpoints as a run does, the best
trial's until a better one finishes, so the model saved is the best trial's own: its finished
checkpoints are handed to ``headstart.train``, which resumes them at their end and scores and saves
that model without training it again (the time a retraining would take goes to more trials). Its
report and card list the trials.

The study lives in ``.<output>.tune/study.db`` (SQLite) while the search runs, so an interrupted
search run again with the same command continues where it stopped, with the time already spent
counted against the budget; the finished model directory keeps it as ``tune/study.db``.

Example::

    from headstart import tune
    result = tune({"data": {"train": "train.csv", "validation": "dev.csv"}}, time_budget="30m")
    result.best_params, result.metrics["validation"]
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from transformers import set_seed

from headstart.artifacts import check_output_dir, write_json
from headstart.config import RunConfig, apply_overrides
from headstart.data.examples import Source
from headstart.errors import ConfigError, HeadstartError
from headstart.modeling.backbones import (
    ATTENTION_DROPOUT_KEYS,
    align_model,
    attention_dropout_setting,
    load_tokenizer,
)
from headstart.modeling.lora import with_lora
from headstart.models import load_error, resolve_model
from headstart.tasks import get_task
from headstart.training.arguments import LOWER_IS_BETTER
from headstart.training.estimate import estimate_run_seconds
from headstart.training.resume import RUN_FILE, last_complete_checkpoint, open_work_dir, run_identity
from headstart.training.run import TrainResult, as_config, encode_splits, run_training, trainer_for, with_task_defaults
from headstart.training.trainer import HeadstartTrainer, Throughput

logger = logging.getLogger(__name__)

# What is searched unless a space is given: the settings fine-tuning recipes tune first.
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"low": 1e-5, "high": 2e-4, "log": True},
    "num_train_epochs": {"choices": [2, 3, 4, 5]},
    "per_device_train_batch_size": {"choices": [8, 16, 32]},
    "warmup_steps": {"low": 0.0, "high": 0.2},  # below 1: a fraction of all steps
    "weight_decay": {"low": 0.0, "high": 0.1},
    "attention_dropout": {"choices": [0.0, 0.1]},
}
MODEL_KEYS = ("attention_dropout", "classifier_dropout")  # searched keys of the model section
STUDY_NAME = "headstart"
# The first epoch's score says little: on small sets many runs still predict the majority label
# after it and recover in the next, so a trial is first compared with the others after epoch 2.
PRUNE_FROM_EPOCH = 2
# Draws in a row that do not fit the time left before the search ends; the sampler learns from
# each that it went nowhere, so a handful finds a shorter trial where one is likely.
MAX_SKIPS = 5


@dataclass(frozen=True)
class Param:
    """One searched setting: a range (``low``..``high``, on a log scale with ``log``) or ``choices``."""

    name: str
    section: str  # "train" or "model"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    integer: bool = False

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high


@dataclass
class TuneResult(TrainResult):
    """A training run's result, plus the search that chose its settings."""

    best_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    search: dict[str, Any] = dataclasses.field(default_factory=dict)


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``30m``, ``1h30m``, ``90s``, ``2h`` or a plain number of seconds.

    >>> parse_duration("30m"), parse_duration("1h30m"), parse_duration(90)
    (1800.0, 5400.0, 90.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        value = str(text).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", value)
        if not value or parts is None:
            raise ConfigError(
                "a time budget such as 30m, 1h30m, 90s or a number of seconds",
                found=repr(text),
                fix="give e.g. --time-budget 30m (hours h, minutes m, seconds s)",
            )
        h, m, s = (float(p) if p else 0.0 for p in parts.groups())
        seconds = 3600 * h + 60 * m + s
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError("a positive time budget", found=repr(text), fix="give e.g. --time-budget 30m")
    return seconds


def parse_space(space: dict[str, Any] | str | Path | None, cfg: RunConfig) -> list[Param]:
    """The searched settings from a mapping or a YAML file (``name: {low, high, log}`` or
    ``name: {choices: [...]}`` or ``name: [choices]``); every problem is reported at once."""
    source = "the search space"
    if isinstance(space, (str, Path)):
        path = Path(space)
        if not path.is_file():
            raise ConfigError("a YAML file with the search space", found=f"no file at {path}", fix="check the path")
        source = str(path)
        try:
            space = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(
                "a YAML mapping", found=str(exc).splitlines()[0], fix="fix the YAML", file=source
            ) from None
    space = DEFAULT_SPACE if space is None else space
    if not isinstance(space, dict) or not space:
        raise ConfigError("a mapping of setting -> range or choices", found=repr(space)[:80], fix="see DEFAULT_SPACE")
    params, problems = [], []
    for name, spec in space.items():
        section = "model" if name in MODEL_KEYS else "train"
        if section == "train" and not hasattr(cfg.train, name):
            problems.append(f"{name}: not a train or model setting that can be searched")
            continue
        if isinstance(spec, list):
            spec = {"choices": spec}
        if not isinstance(spec, dict) or not ({"choices"} <= set(spec) or {"low", "high"} <= set(spec)):
            problems.append(f"{name}: expected {{low, high[, log]}} or {{choices: [...]}}, found {spec!r}")
            continue
        unknown = set(spec) - {"low", "high", "log", "choices"}
        if unknown:
            problems.append(f"{name}: unknown keys {sorted(unknown)} (known: low, high, log, choices)")
            continue
        if "choices" in spec:
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                problems.append(f"{name}: choices must be a non-empty list, found {spec['choices']!r}")
                continue
            params.append(Param(name, section, choices=tuple(spec["choices"])))
            continue
        low, high = spec["low"], spec["high"]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not low < high or (spec.get("log") and low <= 0):
            problems.append(f"{name}: low < high (both > 0 on a log scale) expected, found {low!r}..{high!r}")
            continue
        integer = isinstance(low, int) and isinstance(high, int) and isinstance(getattr(cfg.train, name, 0.0), int)
        params.append(Param(name, section, float(low), float(high), bool(spec.get("log")), integer=integer))
    if problems:
        raise ConfigError(
            "a search space of train settings (and model.attention_dropout, model.classifier_dropout)",
            found="; ".join(problems),
            fix="fix these entries",
            file=None if source == "the search space" else source,
        )
    return params


def with_params(cfg: RunConfig, params: dict[str, Any]) -> RunConfig:
    """A copy of ``cfg`` with the searched settings applied."""
    out = copy.deepcopy(cfg)
    apply_overrides(out, [f"{'model' if k in MODEL_KEYS else 'train'}.{k}={v}" for k, v in params.items()])
    return out


def _defaults(cfg: RunConfig, params: list[Param], model_config: Any) -> dict[str, Any]:
    """The run's own settings, as trial 0, where they lie in the space ("auto" read as what it means)."""
    out = {}
    for p in params:
        value = getattr(cfg.model if p.section == "model" else cfg.train, p.name)
        if p.name == "attention_dropout" and value in ("auto", None):
            setting = attention_dropout_setting(model_config, value)
            own = [model_config.to_dict().get(k) for k in ATTENTION_DROPOUT_KEYS if k in model_config.to_dict()]
            value = next(iter(setting.values()), own[0] if own else None)
        if value is not None and p.contains(value):
            out[p.name] = value
    return out if len(out) == len(params) else {}


def _skipped_in_a_row(study: Any) -> int:
    """How many of the latest trials in a row were not started for lack of time."""
    count = 0
    for t in reversed(study.trials[:-1]):  # the last is the one being decided
        if t.user_attrs.get("skipped") != "the time left":
            break
        count += 1
    return count


def _trials_run(study: Any) -> int:
    """Trials that trained, finished or pruned (as optuna counts ``n_trials``); not those skipped."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum(t.state in states and "skipped" not in t.user_attrs for t in study.trials)


class _Budget:
    """The time left, and whether a trial with given settings still fits in it."""

    def __init__(
        self, seconds: float, spent: float, start: float, train_tokens: int, eval_tokens: int, rate: float
    ) -> None:
        self.seconds, self.spent, self.start = seconds, spent, start
        self.train_tokens, self.eval_tokens, self.rate = train_tokens, eval_tokens, rate
        self.observed: list[tuple[float, float]] = []  # (tokens trained, seconds) per finished trial

    def elapsed(self) -> float:
        return self.spent + time.monotonic() - self.start

    def speed(self) -> float:
        if self.observed:
            return sum(t for t, _ in self.observed) / sum(s for _, s in self.observed)
        return self.rate

    def estimate(self, cfg: RunConfig) -> float:
        """Seconds to train ``cfg`` and score validation after each epoch."""
        epochs = cfg.train.num_train_epochs
        return (self.train_tokens * epochs + epochs * self.eval_tokens / 3) / self.speed()

    def scoring(self) -> float:
        """Seconds to score and save the kept trial's model: validation (and test) once more."""
        return 2 * self.eval_tokens / 3 / self.speed()

    def trials_that_fit(self, cfg: RunConfig) -> int:
        """How many trials like ``cfg`` the time left holds before the final scoring, none pruned."""
        each = self.estimate(cfg)
        return max(0, int((self.seconds - self.elapsed() - self.scoring()) // each)) if each > 0 else 0

    def fits(self, trial_cfg: RunConfig) -> bool:
        return self.elapsed() + self.estimate(trial_cfg) + self.scoring() <= self.seconds


def _sampler(optuna: Any, seed: int, expected_trials: int) -> Any:
    """TPE whose random start is a third of the trials the budget holds (2 to 10, optuna's default
    being 10): a short budget holds few trials, and ten random draws would leave TPE none to model
    from. Multivariate TPE models the settings jointly (learning rate with batch size and epochs)."""
    import warnings

    n_startup = max(2, min(10, expected_trials // 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True)


class SearchTrainer(HeadstartTrainer):
    """The Trainer of the trials: a trial's score is its best epoch's (its best checkpoint is the
    model kept), reported to the pruner per epoch (steps differ between batch sizes); each finished
    trial's speed refines the time estimates of the next, and its time and throughput are recorded
    for the model's card should it be kept."""

    greater_is_better = True
    budget: _Budget | None = None

    def _report_to_hp_search(self, trial: Any, step: int, metrics: dict[str, float]) -> None:
        if self.hp_search_backend is None or trial is None:
            return
        import optuna

        value = self.compute_objective(dict(metrics))
        if self.objective is not None:
            value = max(value, self.objective) if self.greater_is_better else min(value, self.objective)
        self.objective = value
        trial.report(value, round(self.state.epoch or 0))
        last = self.state.global_step >= self.state.max_steps  # a trial scored at its end has finished
        if not last and trial.should_prune():
            self.callback_handler.on_train_end(self.args, self.state, self.control)
            raise optuna.TrialPruned()

    def train(self, *args: Any, trial: Any = None, **kwargs: Any) -> Any:
        started = time.monotonic()
        self.throughput = Throughput()  # this trial's steps alone
        output = super().train(*args, trial=trial, **kwargs)
        seconds = time.monotonic() - started
        if trial is not None and self.budget is not None:
            tokens = self.budget.train_tokens * self.args.num_train_epochs
            self.budget.observed.append((tokens, seconds))
        if trial is not None and hasattr(trial, "set_user_attr"):
            trial.set_user_attr("train_seconds", round(seconds, 1))
            trial.set_user_attr("throughput", self.throughput.report(self.model, seconds))
        return output


def _drop_trial_dirs(trials: Path, keep: int | None) -> None:
    """Delete the checkpoints of every trial but trial ``keep`` (the best finished so far)."""
    if not trials.is_dir():
        return
    for child in trials.iterdir():
        if child.is_dir() and child.name.startswith("run-") and child.name != f"run-{keep}":
            shutil.rmtree(child, ignore_errors=True)


def _keep_trial(trials: Path, trial: Any, out: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Hand the finished checkpoints of ``trial`` to the final run of its settings (the work directory
    ``headstart.train`` resumes in, with the run.json it checks). None where they are missing or
    unfinished: the final run then trains the settings again, so nothing stale is left for it."""
    kept = {
        "number": trial.number,
        "train_seconds": trial.user_attrs.get("train_seconds"),
        "throughput": trial.user_attrs.get("throughput", {}),
    }
    last = last_complete_checkpoint(trials / f"run-{trial.number}")
    if last is not None:
        state = json.loads((last / "trainer_state.json").read_text(encoding="utf-8"))
        if state.get("global_step", 0) < state.get("max_steps", 1):
            last = None
    work = open_work_dir(out)
    try:
        run_file = work.path / RUN_FILE
        if last is None or kept["train_seconds"] is None:
            handed = work.last_checkpoint() is not None and run_file.is_file()
            if handed and json.loads(run_file.read_text(encoding="utf-8")) == identity and kept["train_seconds"]:
                return kept  # handed over already, by a search interrupted before its model was saved
            shutil.rmtree(work.checkpoints, ignore_errors=True)
            run_file.unlink(missing_ok=True)
            return None
        shutil.rmtree(work.checkpoints, ignore_errors=True)
        work.checkpoints.mkdir(parents=True)
        for checkpoint in last.parent.iterdir():
            if checkpoint.is_dir() and checkpoint.name.startswith("checkpoint-"):
                shutil.move(str(checkpoint), work.checkpoints / checkpoint.name)
        for checkpoint in work.checkpoints.iterdir():  # the best checkpoint's recorded path moves with it
            state_file = checkpoint / "trainer_state.json"
            state = json.loads(state_file.read_text(encoding="utf-8"))
            if state.get("best_model_checkpoint"):
                state["best_model_checkpoint"] = str(work.checkpoints / Path(state["best_model_checkpoint"]).name)
                write_json(state_file, state)
        write_json(run_file, identity)
    finally:
        work.release()
    return kept


def tune(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    *,
    time_budget: str | float = "30m",
    n_trials: int | None = None,
    space: dict[str, Any] | str | Path | None = None,
    train: Source | None = None,
    validation: Source | None = None,
    test: Source | None = None,
) -> TuneResult:
    """Search the settings that score best on validation within ``time_budget`` and save the best
    trial's model (the search's trials in its report).

    Args:
        time_budget: Wall time for the whole search and saving the model: 30m, 1h30m, 900s.
        n_trials: Stop after this many trials, finished or pruned, even with time left (default: as many as fit).
        space: A YAML file (or mapping) of the settings to search: name: {low, high, log} or
            name: {choices: [...]}; default: learning rate, epochs, batch size, warm-up, weight
            decay and attention dropout.
    """
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "the optuna package for headstart tune", found="it is not installed", fix="pip install 'headstart[tune]'"
        ) from None
    started = time.monotonic()  # the budget counts loading and encoding the data too
    budget_seconds = parse_duration(time_budget)
    if n_trials is not None and n_trials < 1:
        raise ConfigError("n_trials of at least 1", found=str(n_trials), fix="give --trials 1 or more, or leave it out")
    cfg = as_config(config)
    task = get_task(cfg.task.type)
    model_path = resolve_model(cfg.model.name)
    cfg = with_task_defaults(cfg, task, model_path)
    params = parse_space(space, cfg)
    out = check_output_dir(cfg.train.output_dir, cfg.train.overwrite_output_dir).resolve()
    bundle = task.load_data(cfg, train, validation, test)  # without a validation file: data.validation_fraction
    try:
        tokenizer = load_tokenizer(model_path, words=task.pre_split)
    except (OSError, ValueError, KeyError) as exc:
        raise load_error(cfg.model.name, exc) from None
    data, summary = encode_splits(task, bundle, tokenizer, cfg, list(bundle.notes))
    work = out.parent / f".{out.name}.tune"
    work.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{work / 'study.db'}"
    metric = (cfg.train.metric_for_best_model or task.main_metric(bundle.labels)).removeprefix("eval_")
    greater = not (metric.endswith("loss") or metric in LOWER_IS_BETTER)
    direction = "maximize" if greater else "minimize"
    search_cfg = copy.deepcopy(cfg)
    search_cfg.train.report_to = "none"
    search_cfg.train.eval_strategy = "epoch"
    search_cfg.train.save_minutes, search_cfg.train.save_steps = 0.0, None  # trials are never resumed
    budget: _Budget | None = None
    limit = 0

    def model_init(trial: Any = None) -> Any:
        trial_cfg = search_cfg
        if trial is not None:
            trial_cfg = with_params(search_cfg, {p.name: p.suggest(trial) for p in params})
            done = [t for t in trial.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            _drop_trial_dirs(trials, trial.study.best_trial.number if done else None)
            ran = _trials_run(trial.study)
            if ran >= limit:
                trial.set_user_attr("skipped", "n_trials")
                trial.study.stop()
                raise optuna.TrialPruned("n_trials")
            if not budget.fits(trial_cfg):
                # a shorter trial may still fit: the sampler draws again, which it does knowing this
                # one went nowhere, until even the fewest epochs in the space would not fit
                trial.set_user_attr("skipped", "the time left")
                if not budget.fits(with_params(search_cfg, fewest)) or _skipped_in_a_row(trial.study) >= MAX_SKIPS:
                    trial.study.stop()
                raise optuna.TrialPruned("the time budget")
        try:
            model = align_model(task.build_model(model_path, bundle.labels, trial_cfg), tokenizer)
            if trial_cfg.model.lora:  # as the final run builds it: the kept checkpoints are its weights
                model = with_lora(model, trial_cfg.model)
            # seeded again after the head's init, as the Trainer's __init__ does after the final run
            # builds its model: the best settings trained again then draw the same dropout masks
            set_seed(cfg.train.seed)
            return model
        except HeadstartError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise load_error(cfg.model.name, exc) from None

    trials = work / "trials"
    epochs = next((p for p in params if p.name == "num_train_epochs"), None)
    fewest = {"num_train_epochs": min(epochs.choices) if epochs.choices else epochs.low} if epochs else {}
    trainer = trainer_for(
        search_cfg, task, model_init, tokenizer, data, bundle.labels, trials, summary, None, SearchTrainer
    )
    trainer.greater_is_better = greater
    if trainer.args.save_total_limit is not None and trainer.args.save_total_limit < 2:
        # the best checkpoint and the last, which is the one a final run resumes at its end (with
        # a limit of 1 the Trainer deletes every checkpoint but the best when a trial ends)
        trainer.args.save_total_limit = 2
    measured = estimate_run_seconds(trainer, summary["train"]["tokens"], 0, 0, 1.0)
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, load_if_exists=True, direction=direction)
    spent = float(study.user_attrs.get("seconds_spent", 0.0))
    rate = measured["tokens_per_second"] if measured else 1000.0
    budget = _Budget(budget_seconds, spent, started, summary["train"]["tokens"], summary["validation"]["tokens"], rate)
    trainer.budget = budget
    defaults = _defaults(cfg, params, trainer.model.config)
    if not study.trials:
        first = with_params(cfg, defaults) if defaults else cfg
        if not budget.fits(first):
            need = budget.estimate(first) + budget.scoring()
            raise ConfigError(
                f"a time budget that holds one trial and scoring its model (about {need / 60:.0f} min here)",
                found=f"{budget_seconds / 60:.0f} min",
                fix=f"give --time-budget {math.ceil(need / 60 * 1.2)}m or more, or search fewer epochs",
            )
        if defaults:
            study.enqueue_trial(defaults)  # the run's own settings first: the search never ends worse than them
    limit = _trials_run(study) + (n_trials or 10**6)
    logger.info(
        "searching %s within %s (%.0f s spent before), scoring validation %s",
        ", ".join(p.name for p in params),
        time_budget,
        spent,
        metric,
    )
    try:
        trainer.hyperparameter_search(
            hp_space=lambda trial: {p.name: p.suggest(trial) for p in params if p.section == "train"},
            compute_objective=lambda metrics: metrics[f"eval_{metric}"],
            n_trials=10**6,  # the budget and n_trials stop it (model_init)
            direction=direction,
            backend="optuna",
            study_name=STUDY_NAME,
            storage=storage,
            load_if_exists=True,
            sampler=_sampler(optuna, cfg.train.seed, budget.trials_that_fit(with_params(cfg, defaults))),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=PRUNE_FROM_EPOCH),
        )
    finally:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        study.set_user_attr("seconds_spent", budget.elapsed())
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise ConfigError(
            "at least one finished trial", found="none finished in the budget", fix="give a longer --time-budget"
        )
    best = study.best_trial
    _drop_trial_dirs(trials, best.number)
    record = _search_summary(study, params, metric, budget_seconds, budget.elapsed())
    final = with_params(cfg, best.params)
    record["kept_trial"] = _keep_trial(
        trials, best, out, run_identity(final.to_dict(), data["train"], bundle.labels.names)
    )
    if record["kept_trial"] is None:
        logger.warning("best trial %d: its checkpoints are gone; training its settings once more", best.number)
    logger.info("best trial %d: %s %.4f with %s", best.number, metric, best.value, best.params)
    result = run_training(final, train, validation, test, search=record)
    kept = result.output_dir / "tune"
    kept.mkdir(exist_ok=True)
    shutil.copy2(work / "study.db", kept / "study.db")
    record["seconds"] = round(budget.elapsed(), 1)
    write_json(kept / "trials.json", record)
    shutil.rmtree(work, ignore_errors=True)
    return TuneResult(result.output_dir, result.metrics, result.notes, result.train_seconds, dict(best.params), record)


def _search_summary(study: Any, params: list[Param], metric: str, budget: float, elapsed: float) -> dict[str, Any]:
    """The trials and the search's outcome, as the report and the card show them."""
    import optuna

    trials = []
    for t in study.trials:
        trials.append(
            {
                "number": t.number,
                "state": t.state.name.lower() if not t.user_attrs.get("skipped") else "skipped",
                "value": t.value,
                "params": t.params,
                "seconds": round(t.duration.total_seconds(), 1) if t.duration else None,
                "epochs_scored": len(t.intermediate_values),
            }
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    importance: dict[str, float] = {}
    if len(complete) >= 2 and len(params) >= 1:
        try:
            importance = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError):  # too few distinct trials for the evaluator
            importance = {}
    best = study.best_trial
    return {
        "metric": metric,
        "direction": study.direction.name.lower(),
        "budget_seconds": budget,
        "search_seconds": round(elapsed, 1),
        "best": {"number": best.number, "value": best.value, "params": best.params},
        "importance": importance,
        "trials": trials,
    }


__all__ = ["DEFAULT_SPACE", "TuneResult", "parse_duration", "parse_space", "tune"]
