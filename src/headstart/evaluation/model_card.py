"""The model card (README.md of a saved directory): what it is, how well it does, how to load it."""

from __future__ import annotations

from typing import Any

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


def _decode_note(info: dict[str, Any]) -> list[str]:
    if info.get("decode", "argmax") == "argmax":
        return ["", "The scores above were taken with argmax decoding, the pipeline's own."]
    return [
        "",
        "The scores above were taken with constrained Viterbi decoding (`task.decode: viterbi`): the",
        "most probable valid IOB2 sequence. The pipeline takes each word's best tag instead, so it can",
        "differ on sentences where those form an invalid sequence; `headstart predict --decode argmax`",
        "reproduces the pipeline exactly.",
    ]


def _usage(info: dict[str, Any]) -> list[str]:
    if info["task"] == "token-classification":
        lines = [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            'predictor.predict("Ann moved to Paris.")            # entities with character offsets',
            'predictor.predict([["Ann", "moved", "to", "Paris"]])  # a tag per word',
        ]
        if info.get("crf"):
            return lines + [
                "```",
                "",
                "The CRF head is not a stock transformers class: load it with `headstart.Predictor` (after",
                "`import headstart`, `AutoModelForTokenClassification.from_pretrained` loads it too).",
            ]
        return (
            lines
            + [
                "",
                "from transformers import pipeline",
                'pipe = pipeline("token-classification", model="THIS_DIR", aggregation_strategy="first")',
                'pipe("Ann moved to Paris.")  # "first" reads each word from its first sub-token, as headstart does',
                "```",
            ]
            + _decode_note(info)
        )
    example = '("first sentence", "second sentence")' if info.get("is_pair") else '"I loved this film"'
    if info["task"] == "text-to-text":
        return [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            f"predictor.predict([{example}])  # each label scored by the likelihood of its words",
            "",
            "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
            'model = AutoModelForSeq2SeqLM.from_pretrained("THIS_DIR")',
            'tokenizer = AutoTokenizer.from_pretrained("THIS_DIR")',
            f'written = model.generate(**tokenizer([{example}], return_tensors="pt"))',
            "tokenizer.batch_decode(written, skip_special_tokens=True)  # the label's words",
            "```",
            "",
            "Free generation can write words outside the label set; `Predictor` only ever picks a label.",
        ]
    pipe_input = (
        '{"text": "first sentence", "text_pair": "second sentence"}' if info.get("is_pair") else '"I loved this film"'
    )
    # multi-label: every label's sigmoid score; regression: the raw number, not a sigmoid of it
    extra = {"multi-label-classification": ", top_k=None", "regression": ', function_to_apply="none"'}
    custom = str(info.get("architecture", "")).startswith("Headstart")
    lines = [
        "```python",
        "from headstart import Predictor",
        'predictor = Predictor.load("THIS_DIR")',
        f"predictor.predict([{example}])",
        "",
        *(["import headstart  # registers the head class with transformers' Auto classes"] if custom else []),
        "from transformers import pipeline",
        f'pipe = pipeline("{info["pipeline_task"]}", model="THIS_DIR"{extra.get(info["task"], "")})',
        f"pipe({pipe_input}, truncation=True)",
        "```",
    ]
    if info["task"] == "multi-label-classification":
        threshold, source = info.get("threshold"), info.get("threshold_source")
        lines += ["", f"A label applies when its score is at least {threshold} ({source})."]
    if custom:
        lines += [
            "",
            f"The head ({info['architecture']}: pooling, dropout, hidden layer as configured) is headstart's, not a",
            "stock transformers class: load it with `headstart.Predictor`, or `import headstart` before",
            "`AutoModelForSequenceClassification.from_pretrained` / `pipeline`.",
        ]
    return lines


def render_model_card(info: dict[str, Any], metrics: dict[str, Any]) -> str:
    cfg = info["config"]
    data = info.get("data", {})
    ner = info["task"] == "token-classification"
    kind = "text pairs" if info.get("is_pair") else ("sentences" if ner else "single texts")
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
        f"Input: {kind}, up to {info['max_length']} tokens" + (" per window (longer: windowed)." if ner else "."),
        "",
        "## Scores",
        "",
        *_table(metrics),
        "",
        *_per_class(metrics),
        "",
        "## Use it",
        "",
        *_usage(info),
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
