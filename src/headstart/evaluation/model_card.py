"""The model card (README.md of a saved directory): what it is, how well it does, how to load it."""

from __future__ import annotations

from typing import Any


def _table(metrics: dict[str, Any]) -> list[str]:
    keys = ["accuracy", "f1", "precision", "recall", "f1_macro", "f1_micro"]
    rows = ["| split | " + " | ".join(k for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for split, m in metrics.items():
        cells = [f"{m[k]:.4f}" if k in m else "" for k in keys]
        rows.append(f"| {split} | " + " | ".join(cells) + " |")
    return rows


def _per_class(metrics: dict[str, Any]) -> list[str]:
    split = "test" if "test" in metrics else "validation"
    per = metrics.get(split, {}).get("per_class", {})
    rows = [f"Per class ({split}):", "", "| label | precision | recall | f1 | support |", "|---|---|---|---|---|"]
    for name, m in per.items():
        rows.append(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |")
    return rows


def render_model_card(info: dict[str, Any], metrics: dict[str, Any]) -> str:
    cfg = info["config"]
    example = '("first sentence", "second sentence")' if info.get("is_pair") else '"I loved this film"'
    pipe_input = (
        '{"text": "first sentence", "text_pair": "second sentence"}' if info.get("is_pair") else '"I loved this film"'
    )
    data = info.get("data", {})
    lines = [
        "---",
        "library_name: transformers",
        f"pipeline_tag: {info['pipeline_task']}",
        "tags: [headstart]",
        "---",
        "",
        f"# {info['task']} model fine-tuned from `{info['base_model']}`",
        "",
        f"Labels: {', '.join(f'`{label}`' for label in info['labels'])}. "
        f"Input: {'text pairs' if info.get('is_pair') else 'single texts'}, up to {info['max_length']} tokens.",
        "",
        "## Scores",
        "",
        *_table(metrics),
        "",
        *_per_class(metrics),
        "",
        "## Use it",
        "",
        "```python",
        "from headstart import Predictor",
        'predictor = Predictor.load("THIS_DIR")',
        f"predictor.predict([{example}])",
        "",
        "from transformers import pipeline",
        f'pipe = pipeline("{info["pipeline_task"]}", model="THIS_DIR")',
        f"pipe({pipe_input}, truncation=True)",
        "```",
        "",
        "## Training",
        "",
        "- data: " + ", ".join(f"{k} {v['examples']} examples ({v['source']})" for k, v in data.items()),
        f"- epochs {cfg['train']['num_train_epochs']}, batch {cfg['train']['per_device_train_batch_size']}, "
        f"learning rate {cfg['train']['learning_rate']}, seed {cfg['train']['seed']}; "
        f"{info.get('train_seconds', 0)} s of training",
        *[f"- {note}" for note in info.get("notes", [])],
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
        "The full configuration is in `headstart.json`; all scores, per class and per epoch, in `metrics.json`.",
        "",
    ]
    return "\n".join(lines)
