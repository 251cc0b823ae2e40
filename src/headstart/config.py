"""The run config: one set of typed dataclasses for Python, YAML and the CLI.

Every field carries its help text in ``metadata["help"]``; ``headstart init-config`` writes the
defaults with that help as comments, and the CLI derives its flags from the same fields, so a
default is written exactly once. Field names in ``train`` are HF ``TrainingArguments`` names.

>>> cfg = RunConfig()
>>> apply_overrides(cfg, ["train.learning_rate=3e-5", "model.name=bert-tiny"])
>>> cfg.train.learning_rate, cfg.model.name
(3e-05, 'bert-tiny')
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import logging
import math
import operator
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainingArguments

from headstart.errors import ConfigError

logger = logging.getLogger(__name__)


DEFAULT_MAX_LENGTH = 256  # model.max_length of the text tasks and of embeddings


def _f(
    default: Any, help: str, *, flags: tuple[str, ...] = (), choices: tuple[Any, ...] = (), bare_flag: bool = True
) -> Any:
    """A dataclass field with help text, optional extra CLI flag names and allowed values; without
    ``bare_flag``, only ``flags`` name it on the command line (its own name means something else there)."""
    meta = {"help": help, "flags": flags, "choices": choices, "bare_flag": bare_flag}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    """Which backbone to start from and how much text it sees."""

    name: str = _f(
        "minilm",
        "Backbone: a bundled name (minilm, bert-tiny, smollm2), a local model folder, or a hub id "
        "(BERT family, GPT family decoders, T5).",
        flags=("--model", "-m"),
    )
    max_length: int | None = _f(
        None,
        "Longest input in tokens; longer inputs are cut or windowed (task.long_documents) and counted. Null: the "
        f"task's own default ({DEFAULT_MAX_LENGTH} for the text tasks; each task's guide gives its own).",
    )
    pooling: str | None = _f(
        None,
        "Classification head: how token states become one vector (cls, mean, max, last). Null keeps "
        "transformers' own head for the architecture, which plain pipeline() loads ([CLS] + pooler for "
        "BERT, the last token for decoders; T5 gets its encoder pooled by the mean).",
        flags=("--pooling",),
        choices=(None, "cls", "mean", "max", "last"),
    )
    classifier_dropout: float | None = _f(
        None, "Dropout before the classification layer; the backbone's own setting when null.", flags=("--dropout",)
    )
    attention_dropout: float | str | None = _f(
        "auto",
        "Dropout on the attention probabilities while training (the backbone config's attention_probs_dropout_prob, "
        "attention_dropout or attn_pdrop). auto: 0 where training runs fused attention kernels, which take no "
        "dropout on CPU (the backbones the quirks table marks lean_attention), the backbone's own rate elsewhere "
        "(MPNet, DeBERTa), where 0 would cost accuracy and save nothing; null: always the backbone's own rate.",
        flags=("--attention_dropout",),
    )
    head_hidden_size: int = _f(
        0, "Width of an extra hidden layer between pooling and the classification layer (0: none)."
    )
    head_activation: str = _f("tanh", "Activation of the extra hidden layer.", choices=("tanh", "gelu", "relu"))
    lora: bool = _f(
        False,
        "Train low-rank adapters (LoRA, through peft) on the backbone's attention instead of all its weights; "
        "the task's head still trains whole. The saved model has them merged in (plain transformers loads it) "
        "and keeps them alone in adapter/ (peft's PeftModel.from_pretrained on the base model).",
        flags=("--lora",),
    )
    lora_r: int = _f(8, "LoRA: the adapters' rank (peft's r).", flags=("--lora-r",))
    lora_alpha: int = _f(16, "LoRA: the adapters' scaling numerator (peft's lora_alpha; the scale is alpha / r).")
    lora_dropout: float = _f(0.05, "LoRA: dropout on the adapters' input (peft's lora_dropout).")
    lora_target_modules: str | list | None = _f(
        None,
        "LoRA: the modules that get adapters (peft's target_modules: q_proj,v_proj, a YAML list, or all-linear). "
        "Null: the attention projections the quirks table names for the architecture (peft's defaults elsewhere).",
        flags=("--lora-target-modules",),
    )
    merge: bool = _f(
        True,
        "LoRA: save the adapters merged into the model (plain transformers, pipeline(), ONNX export), with the "
        "adapters alone in adapter/ as well. false: the adapters alone, a few MB: Predictor and peft's "
        "AutoPeftModel* load them onto the base model, which must be reachable where they load.",
        flags=("--merge",),
    )


@dataclass
class SpeedConfig:
    """How fast a run goes on its device: kernels, padding and memory. Run-time choices, not saved in the model."""

    attn_implementation: str | None = _f(
        None,
        "Attention kernel for training (transformers' attn_implementation): headstart, eager, sdpa, flash_attention_2, "
        "flex_attention. Null picks what measured fastest for the device and precision (docs: Speed settings).",
        choices=(None, "headstart", "eager", "sdpa", "flash_attention_2", "flex_attention"),
    )
    dropout_implementation: str | None = _f(
        None,
        "Dropout for training: torch (nn.Dropout) or headstart (the same rates, a mask cheaper to draw on CPU). "
        "Null: headstart on CPU, torch on GPU.",
        choices=(None, "headstart", "torch"),
    )
    last_layer_first_token: bool = _f(
        True,
        "Where the classification head reads only the first token (BERT, RoBERTa, XLM-R and ELECTRA heads; "
        "pooling cls on those), the last layer computes only that token: the same logits, fewer FLOPs. "
        "Prediction always does this.",
    )
    pad_to_multiple_of: int | None = _f(
        None,
        "Pad each batch to a multiple of this many tokens (DataCollatorWithPadding's name; 1: to its longest "
        "input). Null (auto): 8 in bf16, where fewer batch shapes let oneDNN reuse its cached matmul "
        "primitives; none in fp32, where it is only padding.",
    )
    release_memory_steps: int = _f(
        16,
        "Give the free pages of the heap back to the operating system (glibc malloc_trim) every this many "
        "training steps and after each evaluation (0: not by count): batches of varying length fragment the "
        "heap.",
    )
    release_memory_growth_mb: int = _f(
        512,
        "Also give them back after any training step that leaves the process this many MB more resident than "
        "after the last release (0: only every release_memory_steps): long batches grow the heap faster than "
        "an interval trims it.",
    )
    keep_freed_memory: bool = _f(
        True,
        "Keep large blocks freed during a training step in the heap for the next step (glibc mallopt) instead "
        "of unmapping them, so each step's large buffers are not page-faulted in again.",
    )


@dataclass
class DataConfig:
    """Where the labeled data comes from and which columns hold what."""

    train: str | None = _f(None, "Training file (csv, tsv, jsonl, json, parquet; .gz/.bz2 ok).", flags=("--train",))
    validation: str | None = _f(
        None, "Validation file; when absent a stratified, seeded split of train is used.", flags=("--validation",)
    )
    test: str | None = _f(None, "Test file, evaluated once after training.", flags=("--test",))
    format: str | None = _f(
        None,
        "File format; detected from the extension when null.",
        choices=(None, "csv", "tsv", "jsonl", "json", "parquet"),
    )
    encoding: str | None = _f(None, "Text encoding; UTF-8 (with or without BOM) or latin-1 is detected when null.")
    header: bool = _f(True, "csv/tsv files start with a header row; when false columns are column_1, column_2, ...")
    dataset_name: str | None = _f(None, "A HF datasets name (e.g. glue); read with datasets.load_dataset.")
    dataset_config_name: str | None = _f(None, "The HF datasets config (e.g. mrpc).")
    train_split_name: str = _f("train", "Split of the HF dataset used for training.")
    validation_split_name: str | None = _f("validation", "Split of the HF dataset used for validation.")
    test_split_name: str | None = _f(None, "Split of the HF dataset used for testing.")
    text_column: str | None = _f(None, "Column with the text; detected from common names when null.")
    text_pair_column: str | None = _f(None, "Column with the second text of a pair; detected when null.")
    label_column: str | None = _f(None, "Column with the label; detected from common names when null.")
    validation_fraction: float = _f(
        0.1, "Share of train held out for validation when no validation set is given (0.1: 10 %)."
    )
    test_fraction: float | None = _f(None, "Share of train held out as a test set when no test set is given.")
    token_column: int = _f(0, "CoNLL files: the column (0-based, negative from the end) holding the token.")
    tag_column: int = _f(-1, "CoNLL files: the column holding the NER tag (the last by default).")


# task.type's values, their aliases and the task section's keys: each task package declares its
# own and the registry (headstart/tasks/__init__.py) registers them, so adding a task never touches
# this file. The task section is rebuilt from the declared fields as they are registered.
TASK_TYPES: list[str] = []
TASK_ALIASES: dict[str, str] = {}
_TASK_FIELDS: dict[str, tuple[Any, dataclasses.Field]] = {}
_TASK_CHECKS: dict[Callable[[Any], list[str]], None] = {}  # an ordered set: a shared check runs once
_DECLARED: dict[str, tuple[set[str], tuple[Callable[[Any], list[str]], ...]]] = {}  # task -> its keys, checks


def setting(
    default: Any, help: str, *, flags: tuple[str, ...] = (), choices: tuple[Any, ...] = (), bare_flag: bool = True
) -> Any:
    """A config field with its help text, extra CLI flag names and allowed values (for task packages)."""
    return _f(default, help, flags=flags, choices=choices, bare_flag=bare_flag)


def register_task_type(
    name: str,
    aliases: tuple[str, ...] = (),
    settings: type | None = None,
    checks: tuple[Callable[[Any], list[str]], ...] = (),
) -> None:
    """Make ``name`` (and its ``aliases``) a valid ``task.type``, the fields of the dataclass
    ``settings`` keys of the task section, and ``checks`` (task section -> problems) part of validation.

    A key declared by several tasks (``stride``) must have the same default in each."""
    if name not in TASK_TYPES:
        TASK_TYPES.append(name)
    TASK_ALIASES.update(dict.fromkeys(aliases, name))
    _TASK_CHECKS.update(dict.fromkeys(checks))
    keys = {f.name for f in dataclasses.fields(settings)} if settings is not None else set()
    _DECLARED[name] = (keys, checks)
    if settings is None:
        return
    hints = typing.get_type_hints(settings)
    for f in dataclasses.fields(settings):
        if f.name in _TASK_FIELDS:
            if _default_of(_TASK_FIELDS[f.name][1]) != _default_of(f):
                raise TypeError(f"task.{f.name}: {name} declares another default than an earlier task")
            continue
        _TASK_FIELDS[f.name] = (hints[f.name], f)
    _build_task_section()


def unregister_task_type(name: str) -> None:
    """Undo ``register_task_type``: the name, its aliases, and the keys and checks no other task declares."""
    if name in TASK_TYPES:
        TASK_TYPES.remove(name)
    for alias in [a for a, target in TASK_ALIASES.items() if target == name]:
        del TASK_ALIASES[alias]
    keys, checks = _DECLARED.pop(name, (set(), ()))
    still = {k for other_keys, _ in _DECLARED.values() for k in other_keys}
    still_checks = {c for _, other_checks in _DECLARED.values() for c in other_checks}
    for key in keys - still:
        _TASK_FIELDS.pop(key, None)
    for check in set(checks) - still_checks:
        _TASK_CHECKS.pop(check, None)
    _build_task_section()


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]


def _build_task_section() -> None:
    """TaskConfig: ``type`` and every registered task's keys."""
    global TaskConfig
    task_type = _f("text-classification", "The task.", flags=("--task",), choices=TASK_TYPES)
    entries: list[tuple[str, Any, Any]] = [("type", str, task_type)]
    for key, (hint, f) in _TASK_FIELDS.items():
        meta = f.metadata
        copied = _f(
            _default_of(f), meta["help"], flags=meta["flags"], choices=meta["choices"], bare_flag=meta["bare_flag"]
        )
        entries.append((key, hint, copied))
    TaskConfig = dataclasses.make_dataclass("TaskConfig", entries)
    TaskConfig.__doc__ = "What the head predicts: the task, and the keys its package declares (tasks/<task>/)."
    TaskConfig.__module__ = __name__
    SECTIONS["task"] = TaskConfig


TaskConfig: Any = None  # built by _build_task_section


# TrainingArguments fields of a run config: their types, defaults and help come from transformers'
# TrainingArguments itself; headstart changes a default only where it says why.
_TA_FIELDS = {f.name: f for f in dataclasses.fields(TrainingArguments)}
_KEEP = object()
_FROM_HF: list[str] = []  # the fields _hf made, in order


# Minutes between time-based checkpoints when train.save_minutes is null.
SAVE_MINUTES_ALONE = 30.0
SAVE_MINUTES_LAUNCHED = 10.0


def _hf(
    name: str, default: Any = _KEEP, why: str = "", *, flags: tuple[str, ...] = (), type_: Any = None
) -> tuple[str, Any, Any]:
    """The make_dataclass entry of the TrainingArguments field ``name``, with headstart's ``default``
    (and why) where it differs from transformers'."""
    hf = _TA_FIELDS[name]
    _FROM_HF.append(name)
    hf_default = hf.default if hf.default is not dataclasses.MISSING else hf.default_factory()  # type: ignore[misc]
    help_text = str(hf.metadata.get("help", "")).strip()
    if default is _KEEP:
        default = hf_default
    elif default != hf_default:
        help_text += f" headstart's default: {default!r}, {why}."
    choices = tuple(hf.metadata.get("choices") or _enum_values(hf.type))
    return name, type_ or _plain_type(hf.type), _f(default, help_text, flags=flags, choices=choices)


def _plain_type(hint: Any) -> Any:
    """A TrainingArguments annotation as the config coerces it: enums and lists read as strings."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kept = []
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, enum.Enum) or typing.get_origin(arg) is list:
            arg = str
        if arg not in kept:
            kept.append(arg)
    return functools.reduce(operator.or_, kept)


def _enum_values(hint: Any) -> list[str]:
    args = typing.get_args(hint) or (hint,)
    return [m.value for a in args if isinstance(a, type) and issubclass(a, enum.Enum) for m in a]


TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [
        _hf("output_dir", "headstart-model", "the saved model directory", flags=("--output_dir", "--output-dir", "-o")),
        (
            "overwrite_output_dir",
            bool,
            _f(False, "Replace an existing non-empty output directory (never done silently).", flags=("--overwrite",)),
        ),
        _hf("num_train_epochs", flags=("--epochs",)),
        _hf("max_steps"),
        _hf("per_device_train_batch_size", 16, "what fine-tuning recipes use", flags=("--batch_size", "--batch-size")),
        _hf("per_device_eval_batch_size", 64, "evaluation keeps no activations for backward"),
        _hf("eval_accumulation_steps", 8, "a large validation set would otherwise fill GPU memory"),
        _hf("gradient_accumulation_steps"),
        _hf("learning_rate", flags=("--lr",)),
        _hf("lr_scheduler_type"),
        _hf("warmup_steps", 0.1, "a tenth of all steps, as fine-tuning recipes warm up"),
        _hf("weight_decay", 0.01, "AdamW's usual fine-tuning value"),
        _hf("max_grad_norm"),
        _hf("seed"),
        _hf("eval_strategy", "epoch", "validation scores pick the best checkpoint"),
        _hf("eval_steps"),
        _hf("metric_for_best_model"),
        ("early_stopping_patience", int | None, _f(None, "Stop after this many evaluations without improvement.")),
        _hf("train_sampling_strategy", "group_by_length", "batches of similar lengths pad less"),
        (
            "max_tokens_per_batch",
            int | None,
            _f(
                None,
                "Cut training batches by a budget of padded tokens instead of per_device_train_batch_size "
                "inputs: short inputs go many to a batch, long ones few (batches fixed once by length, "
                "visited in a seeded order each epoch). Null: batches of per_device_train_batch_size.",
            ),
        ),
        _hf(
            "bf16",
            None,
            "auto: bf16 where the hardware computes it natively, fp32 elsewhere (--bf16 auto|true|false)",
            type_=bool | None,
        ),
        _hf("torch_compile"),
        _hf("activation_checkpointing"),
        _hf("logging_steps", 50, "a short run logs its loss too"),
        _hf("save_total_limit", 1, "one resumable checkpoint besides the best"),
        (
            "save_steps",
            int | None,
            _f(None, "Also write a resumable checkpoint every N optimizer steps (besides one per evaluation)."),
        ),
        (
            "save_minutes",
            float | None,
            _f(
                None,
                "Also write a resumable checkpoint when this many minutes have passed since the last (0: off; "
                f"null: {SAVE_MINUTES_ALONE:g} in one process, {SAVE_MINUTES_LAUNCHED:g} under torchrun/accelerate, "
                "where a lost worker restarts the job from the last one).",
            ),
        ),
        _hf(
            "ddp_timeout",
            600,
            "a rank stalled or cut off from the others fails the run in 10 minutes instead of 30",
        ),
        (
            "resume",
            bool,
            _f(
                False,
                "Require continuing an interrupted run in output_dir (an error if there is none). Without it, "
                "re-running an interrupted command resumes from its last checkpoint anyway.",
                flags=("--resume",),
            ),
        ),
        _hf("dataloader_num_workers"),
        _hf("report_to", type_=str),  # trackers are asked for by name
        _hf("disable_tqdm", False, "the progress bar shows unless hidden", type_=bool),
    ],
)
TrainConfig.__doc__ = (
    "Fine-tuning settings: TrainingArguments fields (names, types, defaults, help) and headstart's own."
)
TrainConfig.__module__ = __name__
# the fields passed on to TrainingArguments (save_steps is headstart's: checkpoints besides the evaluations')
HF_TRAIN_FIELDS = tuple(_FROM_HF)


@dataclass
class RunConfig:
    """A whole run: model, data, task, training and speed sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task: TaskConfig = field(default_factory=lambda: SECTIONS["task"]())
    train: TrainConfig = field(default_factory=TrainConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> RunConfig:
        cfg = cls()
        problems: list[str] = []
        if not isinstance(raw, dict):
            raise ConfigError(
                "a mapping of sections (model, data, task, train, speed)", found=type(raw).__name__, file=source
            )
        for section, values in raw.items():
            if section not in SECTIONS:
                problems.append(_unknown("section", section, SECTIONS))
                continue
            if values is None:
                continue
            if not isinstance(values, dict):
                problems.append(f"section '{section}' must be a mapping, found {type(values).__name__}")
                continue
            for key, value in values.items():
                problems.extend(_set_field(cfg, section, key, value))
        problems.extend(cfg.problems())
        _raise_all(problems, source)
        return cfg

    def problems(self) -> list[str]:
        """Every invalid value, so a user fixes them all in one go."""
        out = []
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in dataclasses.fields(obj):
                choices = f.metadata.get("choices")
                value = getattr(obj, f.name)
                if choices and value not in choices:
                    allowed = ", ".join(str(c) for c in choices if c is not None)
                    out.append(f"{section}.{f.name} must be one of {allowed}, found {value!r}")
        positive = {
            "train.per_device_train_batch_size": self.train.per_device_train_batch_size,
            "train.per_device_eval_batch_size": self.train.per_device_eval_batch_size,
            "train.gradient_accumulation_steps": self.train.gradient_accumulation_steps,
            "train.ddp_timeout": self.train.ddp_timeout,
        }
        if self.model.max_length is not None:
            positive["model.max_length"] = self.model.max_length
        for key in ("max_tokens_per_batch", "eval_accumulation_steps"):
            if getattr(self.train, key) is not None:
                positive[f"train.{key}"] = getattr(self.train, key)
        if self.speed.pad_to_multiple_of is not None:
            positive["speed.pad_to_multiple_of"] = self.speed.pad_to_multiple_of
        out += [f"{k} must be > 0, found {v}" for k, v in positive.items() if v <= 0]
        if not self.train.output_dir:
            out.append("train.output_dir must name a directory, found none")
        if self.train.save_minutes is not None and self.train.save_minutes < 0:
            out.append(f"train.save_minutes must be >= 0 (0: off), found {self.train.save_minutes}")
        if self.speed.release_memory_steps < 0:
            out.append(f"speed.release_memory_steps must be >= 0, found {self.speed.release_memory_steps}")
        if self.speed.release_memory_growth_mb < 0:
            out.append(f"speed.release_memory_growth_mb must be >= 0, found {self.speed.release_memory_growth_mb}")
        if self.train.num_train_epochs <= 0 and self.train.max_steps <= 0:
            out.append(f"train.num_train_epochs must be > 0, found {self.train.num_train_epochs}")
        if self.train.learning_rate <= 0:
            out.append(f"train.learning_rate must be > 0, found {self.train.learning_rate}")
        if not 0 < self.data.validation_fraction < 1:
            out.append(f"data.validation_fraction must be between 0 and 1, found {self.data.validation_fraction}")
        if self.data.test_fraction is not None and not 0 < self.data.test_fraction < 1:
            out.append(f"data.test_fraction must be between 0 and 1, found {self.data.test_fraction}")
        if self.model.classifier_dropout is not None and not 0 <= self.model.classifier_dropout < 1:
            out.append(f"model.classifier_dropout must be in [0, 1), found {self.model.classifier_dropout}")
        rate = self.model.attention_dropout
        if isinstance(rate, str) and rate != "auto" or isinstance(rate, float) and not 0 <= rate < 1:
            out.append(f"model.attention_dropout must be auto, null or a number in [0, 1), found {rate!r}")
        if not self.model.merge and not self.model.lora:
            out.append("model.merge: false keeps LoRA adapters apart, but model.lora is off: add --lora, drop --merge")
        if self.model.lora and self.model.lora_r < 1:
            out.append(f"model.lora_r must be >= 1, found {self.model.lora_r}")
        if self.model.head_hidden_size < 0:
            out.append(f"model.head_hidden_size must be >= 0, found {self.model.head_hidden_size}")
        for check in _TASK_CHECKS:
            out.extend(check(self.task))
        if self.train.early_stopping_patience is not None and self.train.early_stopping_patience < 1:
            out.append(f"train.early_stopping_patience must be >= 1, found {self.train.early_stopping_patience}")
        if self.train.early_stopping_patience and self.train.eval_strategy == "no":
            out.append("train.early_stopping_patience needs evaluation: set train.eval_strategy to epoch or steps")
        return out

    def validate(self, source: str = "config") -> RunConfig:
        _raise_all(self.problems(), source)
        return self


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "task": TaskConfig,
    "train": TrainConfig,
    "speed": SpeedConfig,
}
# Keys that moved to the speed section: configs written for the earlier layout still load.
MOVED = {
    **{("model", key): "speed" for key in ("attn_implementation", "dropout_implementation", "last_layer_first_token")},
    **{
        ("train", key): "speed"
        for key in ("pad_to_multiple_of", "release_memory_steps", "release_memory_growth_mb", "keep_freed_memory")
    },
}
_build_task_section()  # type alone until the task packages register their keys


def section_fields() -> list[tuple[str, dataclasses.Field]]:
    """(section, field) for every config field, in declaration order."""
    return [(s, f) for s, klass in SECTIONS.items() for f in dataclasses.fields(klass)]


# Field names too vague to be flags on their own (``--name``, ``--type``): only their aliases are.
_NO_BARE_FLAG = {("model", "name"), ("task", "type")}


def flag_names(section: str, f: dataclasses.Field) -> list[str]:
    """The CLI flags of a config field: --name, --name-with-dashes, and its aliases."""
    if (section, f.name) in _NO_BARE_FLAG or not f.metadata.get("bare_flag", True):
        return list(f.metadata.get("flags", ()))
    names = [f"--{f.name}"]
    if "_" in f.name:
        names.append(f"--{f.name.replace('_', '-')}")
    return names + [n for n in f.metadata.get("flags", ()) if n not in names]


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML config; unknown keys and bad values are reported together."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "a YAML config file", found=f"no file at {path}", fix="write one with `headstart init-config`"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            "valid YAML",
            found=str(getattr(exc, "problem", exc)),
            fix="fix the syntax",
            file=path,
            line=mark.line + 1 if mark else None,
        ) from None
    return RunConfig.from_dict(raw, source=str(path))


def apply_overrides(cfg: RunConfig, assignments: list[str], *, source: str = "--set") -> None:
    """Apply ``section.key=value`` strings (values parsed as YAML scalars)."""
    problems = []
    for item in assignments:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot:
            problems.append(f"'{item}' is not of the form section.key=value (e.g. train.learning_rate=3e-5)")
            continue
        if section not in SECTIONS:
            problems.append(_unknown("section", section, SECTIONS))
            continue
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        if _base_type(cfg, section, name) is str and value is not None:
            value = text.strip()  # keep strings verbatim: YAML would read `no` as false, `1e-3` as text
        problems.extend(_set_field(cfg, section, name, value))
    problems.extend(cfg.problems())
    _raise_all(problems, source)


def set_value(cfg: RunConfig, section: str, name: str, value: Any, *, source: str = "flag") -> None:
    """Set one field with type checking (used by the CLI for its flags)."""
    _raise_all(_set_field(cfg, section, name, value), source)


def _set_field(cfg: RunConfig, section: str, key: str, value: Any) -> list[str]:
    if (section, key) in MOVED:
        logger.warning("%s.%s is now %s.%s; the old name still works.", section, key, MOVED[section, key], key)
        section = MOVED[section, key]
    obj = getattr(cfg, section)
    names = {f.name: f for f in dataclasses.fields(obj)}
    if key not in names:
        home = [other for other, klass in SECTIONS.items() if key in {f.name for f in dataclasses.fields(klass)}]
        if home:  # a real key in another section: say which
            return [f"unknown key '{key}' in section '{section}': it is {home[0]}.{key}"]
        return [_unknown(f"key in section '{section}'", key, names)]
    if section == "task" and key == "type" and isinstance(value, str):
        value = TASK_ALIASES.get(value, value)
    hint = typing.get_type_hints(type(obj))[key]
    if value is False and "no" in names[key].metadata.get("choices", ()):
        value = "no"  # YAML 1.1 reads an unquoted `no` (as in `eval_strategy: no`) as false
    ok, coerced = _coerce(value, hint)
    if not ok:
        return [f"{section}.{key} must be {_type_name(hint)}, found {value!r}"]
    setattr(obj, key, coerced)
    return []


def _base_type(cfg: RunConfig, section: str, key: str) -> Any:
    section = MOVED.get((section, key), section)
    hints = typing.get_type_hints(type(getattr(cfg, section)))
    if key not in hints:
        return None
    args = [a for a in typing.get_args(hints[key]) if a is not type(None)]
    return args[0] if len(args) == 1 else hints[key]


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if value is None and type(None) in args:
            return True, None
        if bool in args and type(None) in args and isinstance(value, str) and value.lower() in ("auto", "null"):
            return True, None  # a three-way switch: true, false, or auto (null)
        for arg in args:
            if arg is not type(None):
                ok, out = _coerce(value, arg)
                if ok:
                    return True, out
        return False, value
    if hint is bool:
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return True, value.lower() in ("true", "yes", "1")
        return False, value
    if hint in (int, float):
        number: Any = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if hint is int and not isinstance(value, int):
                return False, value
            number = hint(value)
        elif isinstance(value, str):
            try:
                number = hint(value)
            except ValueError:
                return False, value
        # nan and inf parse as floats, but no setting means anything with them (nan > 0 is False,
        # so a range check alone would let a nan learning rate through)
        if number is None or (hint is float and not math.isfinite(number)):
            return False, value
        return True, number
    if hint is dict or typing.get_origin(hint) is dict:
        return isinstance(value, dict), value
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return True, str(value)
        return False, value
    return True, value


def _type_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    names = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", dict: "a mapping"}
    name = " or ".join(names.get(a, str(a)) for a in args) if len(args) > 1 else names.get(base, str(base))
    if args == [bool] and type(None) in typing.get_args(hint):
        return "true, false or auto (null)"  # the three-way switches, such as train.bf16
    return name + (" or null" if type(None) in typing.get_args(hint) else "")


def _unknown(kind: str, name: str, known: Any) -> str:
    near = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(known)})"
    return f"unknown {kind} '{name}'{hint}"


def _raise_all(problems: list[str], source: str) -> None:
    if problems:
        n = len(problems)
        raise ConfigError(
            "a valid config",
            found=f"{n} problem{'s' if n > 1 else ''}: " + " | ".join(problems),
            fix="fix these keys (`headstart init-config` writes every key with its help)",
            file=source,
        )


def default_config_yaml() -> str:
    """The default config as YAML, each key preceded by its help text as a comment."""
    lines = [
        "# headstart run config. Run it with: headstart train --config THIS_FILE",
        "# Any key can also be set on the command line: --set train.learning_rate=3e-5",
        "",
    ]
    cfg = RunConfig()
    for section, klass in SECTIONS.items():
        lines.append(f"# {klass.__doc__.strip()}")
        lines.append(f"{section}:")
        for f in dataclasses.fields(klass):
            lines.append(f"  # {f.metadata['help']}")
            choices = [c for c in f.metadata.get("choices", ()) if c is not None]
            if choices:
                lines.append(f"  # one of: {', '.join(map(str, choices))}")
            dumped = yaml.safe_dump({f.name: getattr(getattr(cfg, section), f.name)}, default_flow_style=False)
            lines.append("  " + dumped.strip())
        lines.append("")
    return "\n".join(lines)
