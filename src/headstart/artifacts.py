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
from dataclasses import dataclass
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

    from headstart import __version__

    return {
        "headstart": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class ModelInfo:
    """The parts of ``headstart.json`` that inference needs."""

    path: Path
    task: str
    labels: list[str]
    columns: dict[str, str | None]
    max_length: int
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, path: Path, raw: dict[str, Any]) -> ModelInfo:
        return cls(path, raw["task"], list(raw["labels"]), dict(raw.get("columns") or {}), int(raw["max_length"]), raw)

    @classmethod
    def read(cls, path: str | Path) -> ModelInfo:
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
            return cls.from_dict(root, json.loads(info_file.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(
                f"a valid {INFO_FILE}",
                found=f"{type(exc).__name__}: {exc}",
                fix="re-train or restore the file",
                file=info_file,
            ) from None
