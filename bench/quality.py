"""Scores per backbone and setting over seeds: MRPC, SST-2, CoNLL-2003 and a 2,000-review IMDB subset.

Each (workload, variant, seed) is one `headstart.train` run with the defaults plus the variant's
`--set` overrides; the table gives the mean and spread (max - min) of the score and of the training
time, beside the published BERT-base figure for the same split (../shared/data/README.md).

    .venv/bin/python bench/quality.py --model mpnet --workloads mrpc                  # ~30 min on 2 cores
    .venv/bin/python bench/quality.py --workloads mrpc,imdb2000 --seeds 1,2,3 \\
        --variant default= --variant "attention 0.1=model.attention_dropout=null"   # a speed default's cost
    .venv/bin/python bench/quality.py --model mpnet --workloads conll --resume runs/quality/conll-mpnet-s42-...

Scores: MRPC dev F1, SST-2 dev accuracy, CoNLL-2003 test F1 (eng.testb, validated on eng.testa),
IMDB test accuracy on 2,000 test reviews (2,000 train, 500 validation; seeded subsets).
Writes bench/results/quality-<model>.json (and the Markdown table to stdout).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from headstart import RunConfig, train
from headstart.config import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _imdb_rows(split: str) -> list[dict]:
    with gzip.open(DATA / "imdb" / f"{split}.csv.gz", "rt", encoding="utf-8") as fh:
        rows = [
            {"text": r["text"].replace("<br />", " "), "label": "pos" if r["label"] == "1" else "neg"}
            for r in csv.DictReader(fh)
        ]
    random.Random(0).shuffle(rows)
    return rows


def _imdb2000() -> dict[str, Any]:
    train_rows = _imdb_rows("train")
    return {"train": train_rows[:2000], "validation": train_rows[2000:2500], "test": _imdb_rows("test")[:2000]}


# workload -> files (or a loader), task, epochs, the split and metric scored, the published figure
WORKLOADS: dict[str, dict[str, Any]] = {
    "mrpc": {
        "files": {"train": "mrpc/glue/train.tsv", "validation": "mrpc/glue/dev.tsv"},
        "epochs": 3,
        "score": ("validation", "f1"),
        "reference": ("BERT-base dev F1", 88.9),
    },
    "sst2": {
        "files": {"train": "sst2/train.tsv", "validation": "sst2/dev.tsv"},
        "epochs": 1,
        "score": ("validation", "accuracy"),
        "reference": ("BERT-base dev accuracy", 92.7),
    },
    "conll": {
        "files": {"train": "conll2003/eng.train", "validation": "conll2003/eng.testa", "test": "conll2003/eng.testb"},
        "task": "token-classification",
        "epochs": 3,
        "score": ("test", "f1"),
        "reference": ("BERT-base test F1 (reproduced)", 91.0),
    },
    "imdb2000": {
        "loader": _imdb2000,
        "epochs": 2,
        "score": ("test", "accuracy"),
        "reference": ("BERT-base test accuracy (25k train)", 94.0),
    },
}


def run_one(
    name: str, model: str, overrides: list[str], seed: int, out_root: Path, epochs: float | None, resume: Path | None
) -> dict:
    spec = WORKLOADS[name]
    cfg = RunConfig()
    cfg.model.name = model
    cfg.task.type = spec.get("task", cfg.task.type)
    cfg.train.num_train_epochs = epochs or spec["epochs"]
    cfg.train.seed = seed
    cfg.train.disable_tqdm = True
    cfg.train.output_dir = str(resume or out_root / f"{name}-{model}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    splits: dict[str, Any] = {}
    for split, file in spec.get("files", {}).items():
        setattr(cfg.data, split, str(DATA / file))
    if "loader" in spec:
        splits = spec["loader"]()
    apply_overrides(cfg, overrides)
    result = train(cfg.validate(), **splits)
    split, metric = spec["score"]
    value = result.metrics[split][metric]
    return {
        "seed": seed,
        "score": 100 * value if value <= 1 else value,
        "train_seconds": round(result.train_seconds, 1),
        "model_dir": str(result.output_dir),
    }


def summarise(runs: list[dict]) -> dict:
    scores = [r["score"] for r in runs]
    seconds = [r["train_seconds"] for r in runs]
    return {
        "score_mean": round(statistics.mean(scores), 2),
        "score_spread": round(max(scores) - min(scores), 2),
        "train_seconds_mean": round(statistics.mean(seconds), 1),
    }


def _revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--workloads", default="mrpc,sst2,conll,imdb2000")
    parser.add_argument("--seeds", default="42", help="comma-separated training seeds")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=key=value[,key=value]: a setting to compare (repeatable); none: the defaults alone",
    )
    parser.add_argument("--epochs", type=float, default=None, help="override every workload's epochs")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="an interrupted run's output directory (one workload, variant, seed): continue from its last checkpoint",
    )
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    variants = {"default": []}
    if args.variant:
        variants = {}
        for item in args.variant:
            label, _, rest = item.partition("=")
            variants[label] = [s for s in rest.split(",") if s]
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.resume and len(seeds) * len(variants) * len(args.workloads.split(",")) != 1:
        parser.error("--resume continues one run: give one workload, one variant and one seed")
    rows = []
    for name in args.workloads.split(","):
        for label, overrides in variants.items():
            runs = [run_one(name, args.model, overrides, seed, args.out, args.epochs, args.resume) for seed in seeds]
            row = {"workload": name, "model": args.model, "variant": label, "overrides": overrides, "runs": runs}
            row.update(summarise(runs))
            row["reference"] = WORKLOADS[name]["reference"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| workload | model | variant | seeds | score (mean ± spread) | training s (mean) | published |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ref_name, ref = r["reference"]
        print(
            f"| {r['workload']} | {r['model']} | {r['variant']} | {len(r['runs'])} | "
            f"{r['score_mean']:.2f} ± {r['score_spread']:.2f} | {r['train_seconds_mean']:.0f} | {ref_name} {ref} |"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    import platform

    import torch
    import transformers

    workloads: dict[str, dict[str, Any]] = {}
    for r in rows:
        recipe = f"headstart {r['model']} ({r['variant']}, {len(r['runs'])} seed{'s' if len(r['runs']) > 1 else ''})"
        workloads.setdefault(r["workload"], {})[recipe] = {
            "score": f"{r['score_mean']:.2f} ± {r['score_spread']:.2f}",
            "train_seconds": r["train_seconds_mean"],
        }
        workloads[r["workload"]][f"published: {r['reference'][0]}"] = {"score": r["reference"][1]}
    payload = {
        "command": "bench/quality.py " + " ".join(sys.argv[1:]),
        "revision": _revision(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": platform.processor(), "torch": torch.__version__, "transformers": transformers.__version__},
        "workloads": workloads,
        "rows": rows,
    }
    path = results / f"quality-{args.model}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
