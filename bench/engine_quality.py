"""Quality check of the engine on real data: MRPC (3 epochs) and SST-2 (1 epoch) with minilm.

For each workload: train with default settings (unless --reuse points at a trained directory),
then compare `transformers.pipeline` over the saved directory with `headstart.Predictor` on 200
dev examples. Prints a Markdown table and writes JSON to bench/results/engine_quality.json.

    .venv/bin/python bench/engine_quality.py                       # trains both (~30 min on 2 cores)
    .venv/bin/python bench/engine_quality.py --reuse mrpc=runs/mrpc-minilm --reuse sst2=runs/sst2-minilm
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from transformers import pipeline

from headstart import Predictor, RunConfig, train
from headstart.data import load_examples

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WORKLOADS = {
    "mrpc": {"train": DATA / "mrpc/glue/train.tsv", "dev": DATA / "mrpc/glue/dev.tsv", "epochs": 3, "metric": "f1"},
    "sst2": {"train": DATA / "sst2/train.tsv", "dev": DATA / "sst2/dev.tsv", "epochs": 1, "metric": "accuracy"},
}


def run(name: str, spec: dict, reuse: str | None, out_root: Path) -> dict:
    seconds = None
    if reuse is None:
        cfg = RunConfig()
        cfg.data.train, cfg.data.validation = str(spec["train"]), str(spec["dev"])
        cfg.train.num_train_epochs = spec["epochs"]
        cfg.train.output_dir = str(out_root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
        cfg.train.disable_tqdm = True
        result = train(cfg)
        model_dir, seconds = result.output_dir, result.train_seconds
    else:
        model_dir = Path(reuse)
        seconds = json.loads((model_dir / "metrics.json").read_text()).get("train_seconds")
    metrics = json.loads((model_dir / "metrics.json").read_text())["validation"]
    dev = load_examples(spec["dev"]).subset(range(200))
    ours = Predictor.load(model_dir).predict(dev.inputs())
    pipe = pipeline("text-classification", model=str(model_dir), device="cpu")
    inputs = [{"text": a, "text_pair": b} for a, b in dev.inputs()] if dev.is_pair else dev.inputs()
    theirs = pipe(inputs, truncation=True, batch_size=32)
    same = sum(a["label"] == b["label"] for a, b in zip(ours, theirs))
    return {
        "workload": name,
        "model_dir": str(model_dir),
        "epochs": spec["epochs"],
        "metric": spec["metric"],
        "dev_score": metrics[spec["metric"]],
        "dev_accuracy": metrics["accuracy"],
        "train_seconds": seconds,
        "pipeline_agreement": f"{same}/{len(ours)}",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: real data not present at {DATA}")
        return 0
    reuse = dict(item.split("=", 1) for item in args.reuse)
    rows = [run(n, WORKLOADS[n], reuse.get(n), Path(args.out)) for n in (args.only or WORKLOADS)]
    print("| workload | epochs | dev metric | score | dev accuracy | train s | pipeline agrees |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['epochs']} | {r['metric']} | {100 * r['dev_score']:.1f} | "
            f"{100 * r['dev_accuracy']:.1f} | {r['train_seconds']} | {r['pipeline_agreement']} |"
        )
    out = Path(__file__).parent / "results" / "engine_quality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
