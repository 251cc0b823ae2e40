"""MkDocs hooks: the configuration reference and the benchmark tables are generated at build time.

The reference comes from the config dataclasses' fields and help texts (``headstart.config``), the
benchmark tables from the JSON files under ``docs/benchmarks/`` that ``bench/`` scripts wrote.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

DOCS = Path(__file__).parent


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "{{ config_reference }}" in markdown:
        markdown = markdown.replace("{{ config_reference }}", config_reference())
    if "{{ benchmark_tables }}" in markdown:
        markdown = markdown.replace("{{ benchmark_tables }}", benchmark_tables(DOCS / "benchmarks"))
    return markdown


def config_reference() -> str:
    from headstart.config import SECTIONS, RunConfig, flag_names

    defaults = RunConfig()
    out = []
    for section, klass in SECTIONS.items():
        out += [
            f"## `{section}`",
            "",
            (klass.__doc__ or "").strip(),
            "",
            "| key | default | flags | what |",
            "|---|---|---|---|",
        ]
        for f in dataclasses.fields(klass):
            value = getattr(getattr(defaults, section), f.name)
            choices = [str(c) for c in f.metadata.get("choices", ()) if c is not None]
            what = f.metadata["help"] + (f" One of: {', '.join(f'`{c}`' for c in choices)}." if choices else "")
            flags = ", ".join(f"`{n}`" for n in flag_names(section, f))
            out.append(f"| `{f.name}` | `{json.dumps(value)}` | {flags} | {_cell(what)} |")
        out.append("")
    return "\n".join(out)


def benchmark_tables(folder: Path) -> str:
    files = sorted(folder.glob("*.json"))
    if not files:
        return "_No benchmark JSON is committed yet._"
    return "\n".join(_benchmark(path, json.loads(path.read_text(encoding="utf-8"))) for path in files)


def _benchmark(path: Path, data: dict[str, Any]) -> str:
    """One run: its machine and what it measured, one row per workload and recipe."""
    meta = data.get("machine") or {}
    about = ", ".join(f"{k} {v}" for k, v in meta.items()) or f"{data.get('threads', '?')} threads"
    if data.get("date"):
        about = f"{data['date']}, {about}"
    peak = data.get("matmul_peak_gflops")
    lines = [f"### {path.stem}", "", f"`{data.get('command', 'bench/' + path.stem.split('-')[0] + '.py')}` — {about}."]
    if peak:
        lines[-1] += " Matmul peak GFLOP/s: " + ", ".join(f"{k} {v}" for k, v in peak.items()) + "."
    rows = [(w, r, m) for w, recipes in data.get("workloads", {}).items() for r, m in recipes.items()]
    keys = [
        k
        for k in (
            "train_seconds",
            "score",
            "tokens_per_second",
            "padding_fraction",
            "peak_rss_gb",
            "peak_rss_mb",
            "write_peak_rss_mb",
            "model_gflops_per_second",
            "precision",
            "rows_per_second",
            "wall_seconds",
            "peak_pss_mb",
        )
        if any(k in m for _, _, m in rows)
    ]
    lines += ["", "| workload | recipe | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for workload, recipe, m in rows:
        lines.append(f"| {workload} | {recipe} | " + " | ".join(_cell(m.get(k, "")) for k in keys) + " |")
    return "\n".join(lines + [""])


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
