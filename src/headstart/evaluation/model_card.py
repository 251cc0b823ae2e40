"""The model card (README.md of a saved directory): what it is, how well it does, how to load it."""

from __future__ import annotations

from typing import Any

from headstart.artifacts import ModelInfo
from headstart.tasks import Task

PREFERRED = ["accuracy", "f1", "precision", "recall", "f1_macro", "f1_micro", "token_accuracy"]


def _table(metrics: dict[str, Any]) -> list[str]:
    keys = [k for k in PREFERRED if any(k in m for m in metrics.values())]
    rows = ["| split | " + " | ".join(k for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for split, m in metrics.items():
        cells = [f"{m[k]:.4f}" if k in m else "" for k in keys]
        rows.append(f"| {split} | " + " | ".join(cells) + " |")
    return rows


def _per_class(metrics: dict[str, Any]) -> list[str]:
    split = "test" if "test" in metrics else "validation"
    scores = metrics.get(split, {})
    per = scores.get("per_class") or scores.get("per_type") or {}
    what = "entity type" if "per_type" in scores else "label"
    rows = [f"Per {what} ({split}):", "", f"| {what} | precision | recall | f1 | support |", "|---|---|---|---|---|"]
    for name, m in per.items():
        rows.append(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |")
    return rows


def render_model_card(info: ModelInfo, task: Task, metrics: dict[str, Any]) -> str:
    """The card of a saved model; what it reads and how to use it are the task's sections."""
    cfg = info.config
    lines = [
        "---",
        "library_name: transformers",
        f"pipeline_tag: {info.pipeline_task}",
        "tags: [headstart]",
        "---",
        "",
        f"# {info.task} model fine-tuned from `{info.base_model}`",
        "",
        f"Labels: {', '.join(f'`{label}`' for label in info.labels)}. Input: {task.card_input(info)}",
        "",
        "## Scores",
        "",
        *_table(metrics),
        "",
        *_per_class(metrics),
        "",
        "## Use it",
        "",
        *task.card_usage(info),
        "",
        "## Training",
        "",
        "- data: " + ", ".join(f"{k} {v['examples']} examples ({v['source']})" for k, v in info.data.items()),
        f"- epochs {cfg['train']['num_train_epochs']}, batch {cfg['train']['per_device_train_batch_size']}, "
        f"learning rate {cfg['train']['learning_rate']}, seed {cfg['train']['seed']}; "
        f"{info.train_seconds or 0} s of training",
        *[f"- {note}" for note in info.notes],
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info.versions.items()),
        "",
        "The full configuration is in `headstart.json`; all scores, per class and per epoch, in `metrics.json`.",
        "",
    ]
    return "\n".join(lines)
