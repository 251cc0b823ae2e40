"""report.html: a self-contained page (plots inlined, no external assets) plus the plots as PNGs.

What it shows: the scores per split; learning curves (training loss and the validation metric
per evaluation, from the Trainer's log history); the confusion matrix (classification); per-class
or per-entity precision/recall/F1; the most confident mistakes with their texts and locations;
and the data checks run before training (findings, label distributions, lengths, time estimate).

Plots use matplotlib's object API on the Agg canvas — no pyplot global state, no display needed.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

REPORT_FILE = "report.html"
SCALARS = [
    "accuracy",
    "exact_match",
    "f1",
    "precision",
    "recall",
    "f1_macro",
    "f1_micro",
    "token_accuracy",
    "ece",
    "brier",
    "bleu",
    "chrf",
    "rouge1",
    "rouge2",
    "rougeL",
]


def write_report(
    out_dir: Path,
    info: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, Any]] | None = None,
    checks: dict[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write report.html and its PNGs into ``out_dir``; returns the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    split = "test" if "test" in metrics else next(iter(metrics), None)
    figures: list[tuple[str, str, bytes]] = []  # (file name, caption, png)
    main = str(info.get("main_metric", "accuracy"))
    if history:
        png = _learning_curves(history, main)
        if png:
            figures.append(("learning_curves.png", f"Training loss and validation {main} per evaluation", png))
    if split is not None:
        scores = metrics[split]
        if scores.get("confusion_matrix") is not None:
            names = list(scores.get("per_class", {}) or info.get("labels", []))
            figures.append(
                ("confusion_matrix.png", f"Confusion matrix ({split})", _confusion(scores["confusion_matrix"], names))
            )
        per = scores.get("per_class") or scores.get("per_type")
        if per:
            what = "entity type" if "per_type" in scores else "class"
            figures.append(("per_class.png", f"Precision, recall and F1 per {what} ({split})", _per_class(per)))
        calibration = scores.get("calibration")
        if calibration:
            caption = f"Reliability: accuracy against confidence ({split})"
            figures.append(("reliability.png", caption, _reliability(calibration)))
    search = info.get("search")
    if search and search.get("trials"):
        figures.append(("search_history.png", "Hyper-parameter search: each trial's score", _search_history(search)))
        if search.get("importance"):
            caption = "Hyper-parameter importance (optuna's fANOVA)"
            figures.append(("search_importance.png", caption, _search_importance(search["importance"])))
    for name, _, png in figures:
        (out_dir / name).write_bytes(png)
    page = _page(info, metrics, figures, checks, split, title)
    path = out_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _figure(width: float = 7.0, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _learning_curves(history: list[dict[str, Any]], main: str) -> bytes | None:
    train = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    key = f"eval_{main}"
    evals = [(h["step"], h[key]) for h in history if key in h and "step" in h]
    eval_loss = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h]
    if not train and not evals:
        return None
    fig = _figure(8, 3.6)
    left = fig.add_subplot(1, 2, 1)
    if train:
        left.plot(*zip(*train), label="training loss", color="#1f77b4")
    if eval_loss:
        left.plot(*zip(*eval_loss), "o-", label="validation loss", color="#ff7f0e")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    if train or eval_loss:
        left.legend()
    left.grid(alpha=0.3)
    right = fig.add_subplot(1, 2, 2)
    if evals:
        right.plot(*zip(*evals), "o-", color="#2ca02c")
        for step, value in evals:
            right.annotate(f"{value:.3f}", (step, value), textcoords="offset points", xytext=(0, 6), ha="center")
    right.margins(x=0.08, y=0.2)  # room for the value labels
    right.set_xlabel("step")
    right.set_ylabel(f"validation {main}")
    right.grid(alpha=0.3)
    return _png(fig)


def _confusion(matrix: list[list[int]], names: list[str]) -> bytes:
    import numpy as np

    values = np.asarray(matrix)
    n = len(values)
    size = min(3 + 0.5 * n, 12)
    fig = _figure(size + 1, size)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    labels = names if len(names) == n else [str(i) for i in range(n)]
    ax.set_xticks(range(n), labels, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        top = values.max() or 1
        for i in range(n):
            for j in range(n):
                color = "white" if values[i, j] > top / 2 else "black"
                ax.text(j, i, str(values[i, j]), ha="center", va="center", color=color, fontsize=9)
    return _png(fig)


def _per_class(per: dict[str, dict[str, float]]) -> bytes:
    import numpy as np

    names = list(per)
    x = np.arange(len(names))
    fig = _figure(max(6.0, 0.9 * len(names) + 2), 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for k, (metric, color) in enumerate((("precision", "#1f77b4"), ("recall", "#ff7f0e"), ("f1", "#2ca02c"))):
        ax.bar(x + (k - 1) * 0.27, [per[n][metric] for n in names], 0.27, label=metric, color=color)
    ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.legend(loc="upper center", ncol=3, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _reliability(calibration: dict[str, Any]) -> bytes:
    """Accuracy per confidence bin, before and after the temperature when one was fitted."""
    fig = _figure(4.6, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], ":", color="#888", label="perfectly calibrated")
    for key, color in (("before", "#ff7f0e"), ("after", "#1f77b4")):
        bins = calibration.get(key, {}).get("reliability") or []
        if bins:
            name = "raw scores" if key == "before" else "scores" + (" (calibrated)" if "before" in calibration else "")
            label = f"{name}, ECE {calibration[key]['ece']:.3f}"
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color=color, label=label)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (top score)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _search_history(search: dict[str, Any]) -> bytes:
    """Each trial's score in order, the best so far as a line; pruned trials hollow."""
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    scored = [t for t in search["trials"] if t.get("value") is not None]
    done = [t for t in scored if t["state"] == "complete"]
    if done:
        better = max if search.get("direction", "maximize") == "maximize" else min
        best, running = None, []
        for t in done:
            best = t["value"] if best is None else better(best, t["value"])
            running.append((t["number"], best))
        ax.plot(*zip(*running), "-", color="#2ca02c", label="best so far")
        ax.plot([t["number"] for t in done], [t["value"] for t in done], "o", color="#1f77b4", label="finished")
    pruned = [t for t in scored if t["state"] == "pruned"]
    if pruned:
        ax.plot(
            [t["number"] for t in pruned],
            [t["value"] for t in pruned],
            "o",
            mfc="none",
            color="#888",
            label="pruned (last epoch scored)",
        )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {search.get('metric', '')}")
    if done or pruned:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _search_importance(importance: dict[str, float]) -> bytes:
    names = list(importance)[::-1]
    fig = _figure(6.0, 0.45 * len(names) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(names, [importance[n] for n in names], color="#1f77b4")
    ax.set_xlabel("importance (share of the score's variance)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _search_section(search: dict[str, Any]) -> str:
    best = search["best"]
    minutes = search.get("search_seconds", 0) / 60
    parts = [
        "<h2>Hyper-parameter search</h2>",
        f"<p>{len(search['trials'])} trials in {minutes:.1f} min (budget {search['budget_seconds'] / 60:.0f} min); "
        f"best validation {_e(search['metric'])} {best['value']:.4f} (trial {best['number']}); "
        + (
            "this model is that trial's own.</p>"
            if search.get("kept_trial")
            else "this model is its settings trained once more.</p>"
        ),
    ]
    names = list(dict.fromkeys(k for t in search["trials"] for k in t.get("params", {})))
    rows = [
        [t["number"], t["state"], _fmt(t["value"]) if t.get("value") is not None else "", t.get("seconds") or ""]
        + [_fmt(t.get("params", {}).get(n, "")) for n in names]
        for t in search["trials"]
    ]
    parts.append(_table(["trial", "state", search["metric"], "seconds", *names], rows))
    return "\n".join(parts)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: list[str] | None, rows: list[list[Any]]) -> str:
    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.1f}"
    return str(value)


def _page(
    info: dict[str, Any],
    metrics: dict[str, Any],
    figures: list[tuple[str, str, bytes]],
    checks: dict[str, Any] | None,
    split: str | None,
    title: str | None,
) -> str:
    parts = [f"<h1>{_e(title or 'headstart report')}</h1>"]
    facts = [
        ["task", info.get("task", "")],
        ["base model", info.get("base_model", "")],
        ["labels", ", ".join(map(str, info.get("labels", [])))],
        ["max_length", info.get("max_length", "")],
    ]
    if info.get("train_seconds") is not None:
        facts.append(["training time", f"{info['train_seconds']} s"])
    parts.append(_table(None, facts))
    keys = [k for k in SCALARS if any(isinstance(m.get(k), float) for m in metrics.values())]
    if keys:
        parts.append("<h2>Scores</h2>")
        rows = [[name] + [_fmt(m.get(k, "")) for k in keys] for name, m in metrics.items()]
        parts.append(_table(["split", *keys], rows))
    for name, caption, png in figures:
        data = base64.b64encode(png).decode()
        parts.append(
            f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)} — also <code>{_e(name)}</code></figcaption></figure>"
        )
    if split is not None:
        scores = metrics[split]
        per = scores.get("per_class") or scores.get("per_type")
        if per:
            what = "entity type" if "per_type" in scores else "class"
            rows = [
                [n, _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), m.get("support", "")]
                for n, m in per.items()
            ]
            parts.append(f"<h2>Per {what} ({_e(split)})</h2>")
            parts.append(_table([what, "precision", "recall", "f1", "support"], rows))
        for key, groups in scores.items():  # a task's breakdowns: by_<what> -> {group: {score: value}}
            if key.startswith("by_") and isinstance(groups, dict) and groups:
                columns = list(next(iter(groups.values())))
                parts.append(f"<h2>Scores {_e(key.replace('_', ' '))} ({_e(split)})</h2>")
                rows = [[name] + [_fmt(values.get(c, "")) for c in columns] for name, values in groups.items()]
                parts.append(_table([key.removeprefix("by_").replace("_", " "), *columns], rows))
        calibration = scores.get("calibration") or {}
        if "before" in calibration:
            parts.append(f"<h2>Calibration ({_e(split)})</h2>")
            parts.append(f"<p>Temperature {calibration['temperature']:.3f}, fitted on the validation set.</p>")
            rows = [[k, _fmt(calibration["before"][k]), _fmt(calibration["after"][k])] for k in ("ece", "brier", "nll")]
            parts.append(_table(["", "raw scores", "calibrated"], rows))
        written = scores.get("outputs")  # a generating model's outputs, worst first
        if written:
            parts.append(f"<h2>Outputs, worst first ({_e(split)})</h2>")
            rows = [[o["chrf"], o["input"], " | ".join(o["references"]), o["output"], o["location"]] for o in written]
            parts.append(_table(["chrF", "input", "references", "output", "where"], rows))
        mistakes = scores.get("mistakes")
        if mistakes:
            parts.append(f"<h2>Most confident mistakes ({_e(split)})</h2>")
            rows = [[m["score"], m["expected"], m["predicted"], m["text"], m["location"]] for m in mistakes]
            parts.append(_table(["confidence", "expected", "predicted", "text", "where"], rows))
    if info.get("search"):
        parts.append(_search_section(info["search"]))
    if checks:
        parts.append(_checks_section(checks))
    body = "\n".join(parts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title or "headstart report")}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
figcaption {{ color: #555; font-size: 0.9em; }}
.warning {{ color: #a35200; }} .info {{ color: #555; }}
</style></head><body>
{body}
</body></html>
"""


def _checks_section(checks: dict[str, Any]) -> str:
    parts = ["<h2>Data checks</h2>"]
    findings = checks.get("findings") or []
    if findings:
        items = []
        for f in findings:
            where = f" (e.g. {', '.join(f['locations'])})" if f.get("locations") else ""
            items.append(f'<li class="{_e(f["severity"])}"><b>{_e(f["split"])}</b>: {_e(f["message"] + where)}</li>')
        parts.append("<ul>" + "".join(items) + "</ul>")
    else:
        parts.append("<p>No empty texts, duplicates, leakage, conflicting labels or skew found.</p>")
    distribution = checks.get("label_distribution") or {}
    if distribution:
        labels = list(dict.fromkeys(k for counts in distribution.values() for k in counts))
        rows = [[split] + [counts.get(k, 0) for k in labels] for split, counts in distribution.items()]
        parts.append("<h3>Label distribution</h3>" + _table(["split", *labels], rows))
    lengths = checks.get("lengths") or {}
    if lengths:
        cols = ["count", "mean", "p50", "p90", "p99", "max", "truncated"]
        rows = [[split] + [_number(s.get(c, "")) for c in cols] for split, s in lengths.items()]
        parts.append("<h3>Length in tokens</h3>" + _table(["split", *cols], rows))
    estimate = checks.get("estimate")
    if estimate:
        parts.append(
            f"<p>Estimated before training: {estimate['train_seconds']:.0f} s of training and "
            f"{estimate['eval_seconds']:.0f} s of evaluation ({estimate['tokens_per_second']:.0f} tokens/s "
            "measured on its own batches).</p>"
        )
    return "\n".join(parts)
