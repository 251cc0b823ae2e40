"""The model card (README.md of a saved directory): what it is, how well it does, how to load it."""

from __future__ import annotations

from typing import Any

from headstart.artifacts import ModelInfo
from headstart.tasks import Task

PREFERRED = [
    "accuracy", "exact_match", "f1", "precision", "recall", "f1_macro", "f1_micro", "token_accuracy", "ece", "brier",
    "bleu", "chrf", "rouge1", "rouge2", "rougeL",
]  # fmt: skip


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
    if not per:
        return []
    rows = [f"Per {what} ({split}):", "", f"| {what} | precision | recall | f1 | support |", "|---|---|---|---|---|"]
    for name, m in per.items():
        rows.append(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |")
    return rows


def _calibration(metrics: dict[str, Any]) -> list[str]:
    """A line on the fitted temperature, with the calibration scores before and after it."""
    split = "test" if "test" in metrics else "validation"
    calibration = metrics.get(split, {}).get("calibration") or {}
    if "before" not in calibration:
        return []
    before, after = calibration["before"], calibration["after"]
    return [
        f"Scores are calibrated: temperature {calibration['temperature']:.3f} (fitted on the validation set) is folded "
        f"into the classification layer. On {split}: expected calibration error {before['ece']:.4f} -> "
        f"{after['ece']:.4f}, Brier score {before['brier']:.4f} -> {after['brier']:.4f}.",
        "",
    ]


def _search(info: ModelInfo) -> list[str]:
    """The line on the hyper-parameter search that chose the settings, when one did."""
    search = info.search
    if not search:
        return []
    best = search["best"]
    params = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in best["params"].items())
    return [
        f"- settings chosen by `headstart tune`: {len(search['trials'])} trials in "
        f"{search['search_seconds'] / 60:.1f} min; the best (trial {best['number']}, validation {search['metric']} "
        f"{best['value']:.4f}): {params}; "
        + ("this model is that trial's own" if search.get("kept_trial") else "this model is its settings trained again")
    ]


def _teacher(info: ModelInfo, metrics: dict[str, Any]) -> list[str]:
    """The line on the teacher a distilled model learnt from, with both models' scores."""
    record = info.distilled_from
    if not record:
        return []
    main = info.main_metric or "accuracy"
    split = "test" if "test" in record["teacher_scores"] and "test" in metrics else "validation"
    theirs = record["teacher_scores"].get(split, {}).get(main)
    ours = metrics.get(split, {}).get(main)
    scores = f"; {split} {main}: teacher {theirs:.4f}, this model {ours:.4f}" if theirs is not None and ours else ""
    extra = (
        f", plus {record['unlabeled_examples']} unlabeled examples it labelled" if record["unlabeled_examples"] else ""
    )
    return [
        f"- distilled from `{record['teacher']}` ({record['teacher_base_model']}) at temperature "
        f"{record['temperature']}, alpha {record['alpha']}{extra}{scores}"
    ]


def _adapters(info: ModelInfo) -> list[str]:
    """How to load a directory of LoRA adapters saved alone (model.merge false), before the task's usage."""
    record = info.adapters
    if not record or record.get("merged", True):
        return []
    return [
        f"This directory holds LoRA adapters (r {record.get('r')}) for `{info.base_model}`, not merged: "
        "`Predictor.load`, `headstart predict`, `serve` and `export` rebuild the model on the base model's "
        f"weights, and peft loads `{record['dir']}/` (`AutoPeftModel*.from_pretrained`). Plain `transformers` "
        "and `pipeline()` need a merged directory: train with `--merge true`.",
        "",
    ]


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
        (f"Labels: {', '.join(f'`{label}`' for label in info.labels)}. " if info.labels else "")
        + f"Input: {task.card_input(info)}",
        "",
        "## Scores",
        "",
        *_table(metrics),
        "",
        *_per_class(metrics),
        *([""] if _per_class(metrics) else []),
        *_calibration(metrics),
        "## Use it",
        "",
        *_adapters(info),
        *task.card_usage(info),
        "",
        "## Training",
        "",
        "- data: " + ", ".join(f"{k} {v['examples']} examples ({v['source']})" for k, v in info.data.items()),
        f"- epochs {cfg['train']['num_train_epochs']}, batch {cfg['train']['per_device_train_batch_size']}, "
        f"learning rate {cfg['train']['learning_rate']}, seed {cfg['train']['seed']}; "
        f"{info.train_seconds or 0} s of training",
        *_search(info),
        *_teacher(info, metrics),
        *[f"- {note}" for note in info.notes],
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info.versions.items()),
        "",
        "The full configuration is in `headstart.json`; all scores, per class and per epoch, in `metrics.json`.",
        "",
    ]
    return "\n".join(lines)
