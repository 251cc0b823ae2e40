"""The saved model directory: written atomically, never over a user's files by accident.

A run writes into a hidden sibling directory (``training/resume.py``) and renames it into place at
the end, so a crash or Ctrl-C never leaves a directory that looks complete. ``headstart.json`` records what a
Predictor needs (task, labels, columns, max_length) plus versions and the full config.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from headstart.errors import ModelLoadError, OutputExistsError

INFO_FILE = "headstart.json"
METRICS_FILE = "metrics.json"


def check_output_dir(path: str | Path, overwrite: bool) -> Path:
    """Fail early (before any training) when the output exists, is not empty, and overwrite is off."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputExistsError("an output directory path", found=f"a file at {out}", fix="choose another --output_dir")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(
            "an empty or new output directory",
            found=f"{out} already holds files",
            fix="choose another --output_dir, or pass --overwrite to replace it",
        )
    return out


def publish(stage: Path, out: Path, overwrite: bool) -> None:
    """Move a finished staging directory to ``out``; an old ``out`` is removed only after that."""
    check_output_dir(out, overwrite)
    backup = None
    if out.exists():
        backup = out.parent / f".{out.name}.old-{os.getpid()}-{int(time.time())}"
        out.rename(backup)
    stage.rename(out)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    from headstart.version import __version__

    return {
        "headstart": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# The keys of headstart.json that every task writes; the rest are the task's own settings.
FORMAT_VERSION = 1
_WRITTEN_WHEN_SET = (
    "class_weights",
    "runtime",
    "onnx",
    "search",
    "distilled_from",
    "adapters",
)  # absent from the file unless set
_FIRST = ("format_version", "task", "pipeline_task", "labels", "columns")  # the file's first keys


@dataclass
class ModelInfo:
    """``headstart.json``, typed: what every saved directory records, plus ``settings``, the task's own
    fields (a dataclass its package defines; ``tasks.read_model_info`` picks it)."""

    path: Path
    task: str
    labels: list[str]
    max_length: int
    settings: Any = None
    format_version: int = FORMAT_VERSION
    pipeline_task: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    base_model: str | None = None
    main_metric: str | None = None
    created: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    train_seconds: float | None = None
    resumed_from: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    data_checks: dict[str, Any] | None = None
    architecture: str | None = None
    precision: str | None = None
    throughput: dict[str, Any] | None = None
    attn_implementation: str | None = None
    dropout_implementation: str | None = None
    class_weights: dict[str, float] | None = None
    runtime: str | None = None  # "onnx" for an export; absent (PyTorch) otherwise
    onnx: dict[str, Any] | None = None  # an export's record: file, quantization, parity
    search: dict[str, Any] | None = None  # the hyper-parameter search that chose the settings (tune)
    distilled_from: dict[str, Any] | None = None  # the teacher and its scores (distill)
    adapters: dict[str, Any] | None = None  # LoRA: {"dir", "merged", "base"}; not merged: no weights beside them

    @classmethod
    def parse(cls, path: Path, raw: dict[str, Any], settings_type: type) -> ModelInfo:
        """The typed info from the file's mapping; keys neither common nor the task's are ignored."""
        common = {f.name for f in fields(cls)} - {"path", "settings"}
        values = {k: raw[k] for k in common if k in raw}
        values["labels"] = [str(x) for x in raw["labels"]]
        values["max_length"] = int(raw["max_length"])
        values["columns"] = dict(raw.get("columns") or {})
        values["task"] = str(raw["task"])
        return cls(path=path, settings=settings_from(settings_type, raw), **values)

    def to_dict(self) -> dict[str, Any]:
        """The file's flat mapping: what the model is, the task's settings, then how it was made."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _FIRST}
        out.update(asdict(self.settings) if self.settings is not None else {})
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _FIRST or f.name in ("path", "settings") or (f.name in _WRITTEN_WHEN_SET and value is None):
                continue
            out[f.name] = value
        return out

    def with_settings(self, **changes: Any) -> ModelInfo:
        """A copy whose task settings have ``changes`` (what ``Task.tune`` fitted after training)."""
        return replace(self, settings=replace(self.settings, **changes))

    def write(self, directory: Path) -> None:
        write_json(directory / INFO_FILE, self.to_dict())


def settings_from(settings_type: type, raw: dict[str, Any]) -> Any:
    """A task's settings dataclass from the file's keys; a key an older release did not write keeps
    the dataclass default (the behaviour that release had)."""
    hints = typing.get_type_hints(settings_type)
    values = {f.name: raw[f.name] for f in fields(settings_type) if f.name in raw}
    for name, value in values.items():
        if not _is_a(value, hints[name]):
            raise TypeError(f"{name} should be {_name(hints[name])}, found {value!r}")
    return settings_type(**values)


def _name(hint: Any) -> str:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return " or ".join("null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options)


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a settings annotation (an int is a float too; containers by their kind)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        kind = typing.get_origin(option) or option
        if value is None and option is type(None):
            return True
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(kind, type) and kind is not type(None) and isinstance(value, kind):
            return True
    return False


def read_info_file(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The directory and the mapping in its ``headstart.json``, with errors that say what to do."""
    root = Path(path)
    info_file = root / INFO_FILE
    if not root.is_dir():
        raise ModelLoadError("a saved model directory", found=f"nothing at {root}", fix="check the path")
    if not info_file.is_file():
        raise ModelLoadError(
            f"a directory saved by headstart (with {INFO_FILE})",
            found=f"{root} without it",
            fix="train one with `headstart train`, or use transformers.pipeline for other models",
        )
    try:
        raw = json.loads(info_file.read_text(encoding="utf-8"))
        for key in ("task", "labels", "max_length"):
            raw[key]  # noqa: B018 -- a KeyError names the missing key
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise info_error(info_file, exc) from None
    return root, raw


def info_error(info_file: Path, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"a valid {INFO_FILE}",
        found=f"{type(exc).__name__}: {exc}",
        fix="re-train or restore the file",
        file=info_file,
    )
