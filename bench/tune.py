"""headstart tune on MRPC within a time budget: does the search beat the defaults, inside the budget?

The first trial of every search is the run's own settings (the defaults), trained and scored on
the same data in the same process, so the table compares the search's best with the defaults
measured in this very run, and the whole wall time (search + scoring and saving the kept trial's
model, or training its settings again where its checkpoints are gone) with the budget.

    .venv/bin/python bench/tune.py                          # minilm, 30 min
    .venv/bin/python bench/tune.py --time-budget 10m --model bert-tiny

Prints a Markdown table and writes bench/results/tune-<model>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from headstart import RunConfig, tune
from headstart.training.search import parse_duration

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import machine  # noqa: E402  (the same machine facts as the other benchmarks)

DATA = ROOT.parent / "shared" / "data" / "mrpc" / "glue"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--time-budget", default="30m")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "tune")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    cfg = RunConfig()
    cfg.model.name = args.model
    cfg.data.train, cfg.data.validation = str(DATA / "train.tsv"), str(DATA / "dev.tsv")
    cfg.train.metric_for_best_model = args.metric
    cfg.train.disable_tqdm = True
    cfg.train.output_dir = str(args.out / f"mrpc-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    started = time.monotonic()
    result = tune(cfg, time_budget=args.time_budget)
    wall = time.monotonic() - started
    trials = result.search["trials"]
    defaults = trials[0]
    budget = parse_duration(args.time_budget)
    row = {
        "model": args.model,
        "metric": args.metric,
        "budget_seconds": budget,
        "wall_seconds": round(wall, 1),
        "wall_over_budget": round(wall / budget, 3),
        "trials": len(trials),
        "finished": sum(t["state"] == "complete" for t in trials),
        "pruned": sum(t["state"] == "pruned" for t in trials),
        "defaults_trial": defaults,
        "best_trial": result.search["best"],
        "final_validation": result.metrics["validation"][args.metric],
        "kept_trial": (result.search.get("kept_trial") or {}).get("number"),
        "model_dir": str(result.output_dir),
    }
    print("| model | budget | wall time | trials (finished / pruned) | defaults' dev | best trial's | saved model's |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.model} | {budget / 60:.0f} min | {wall / 60:.1f} min ({100 * wall / budget:.0f} %) | "
        f"{row['trials']} ({row['finished']} / {row['pruned']}) | {defaults['value']:.4f} | "
        f"{result.search['best']['value']:.4f} | {row['final_validation']:.4f} |"
    )
    row["command"] = "bench/tune.py " + " ".join(sys.argv[1:])
    row["date"] = time.strftime("%Y-%m-%d")
    row["machine"] = machine()
    row["workloads"] = {
        "mrpc": {
            "defaults (trial 0)": {"score": defaults["value"], "train_seconds": defaults["seconds"]},
            f"tune --time-budget {args.time_budget} (best trial)": {
                "score": result.search["best"]["value"],
                "train_seconds": round(wall, 1),
            },
            "saved model": {"score": row["final_validation"], "kept_trial": row["kept_trial"]},
        }
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"tune-{args.model}.json"
    path.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
