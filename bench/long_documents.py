"""Long documents on IMDB: plain truncation vs head + tail vs overlapping windows (mean and max).

minilm fine-tuned on a seeded sample of 2,000 IMDB training reviews (1 epoch, max_length 512,
batch 8, seed 0) once per ``task.long_documents`` mode; each model is scored on 2,000 seeded
test reviews (a disjoint sample of the test split). The windows model is scored with both
aggregations (mean and max of the window probabilities). Reports test accuracy, training and
prediction wall time; prints a Markdown table and writes JSON.

    .venv/bin/python bench/long_documents.py               # ~35 min on 2 cores
    .venv/bin/python bench/long_documents.py --train 500 --test 500 --modes truncate windows
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import time
from pathlib import Path

from headstart import Predictor, train
from headstart.evaluation.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"
MODES = ("truncate", "head-tail", "windows")


def imdb(split: str, n: int, seed: int) -> list[dict]:
    with gzip.open(DATA / f"{split}.csv.gz", "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(seed).shuffle(rows)
    return [
        {"text": r["text"].replace("<br />", " "), "label": "pos" if r["label"] == "1" else "neg"} for r in rows[:n]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--work", default="runs/bench-long")
    parser.add_argument("--out", default="bench/results/long_documents.json")
    args = parser.parse_args()
    rows = imdb("train", args.train, seed=0)
    test = imdb("test", args.test, seed=2)
    results = []
    for mode in args.modes:
        cfg = {
            "model": {"name": "minilm", "max_length": args.max_length},
            "task": {"long_documents": mode, "stride": 64},
            "train": {
                "output_dir": f"{args.work}/imdb-{mode}",
                "overwrite_output_dir": True,
                "num_train_epochs": 1,
                "per_device_train_batch_size": 8,
                "eval_strategy": "no",
                "disable_tqdm": True,
                "seed": 0,
            },
        }
        result = train(cfg, train=rows, validation=imdb("train", args.train + 200, seed=0)[args.train :])
        predictor = Predictor.load(result.output_dir)
        windows = result.metrics.get("validation", {})
        for how in ("mean", "max") if mode == "windows" else ("-",):
            if how != "-":
                predictor.info = predictor.info.with_settings(window_aggregation=how)
            started = time.perf_counter()
            scores = evaluate(predictor, test)
            seconds = time.perf_counter() - started
            results.append(
                {
                    "mode": mode if how == "-" else f"{mode} ({how})",
                    "test_accuracy": round(100 * scores["accuracy"], 2),
                    "train_seconds": round(result.train_seconds, 1),
                    "predict_seconds": round(seconds, 1),
                    "train_inputs": json.loads((result.output_dir / "headstart.json").read_text())["data"]["train"].get(
                        "windows", args.train
                    ),
                    "validation_accuracy": round(100 * windows.get("accuracy", 0.0), 2),
                }
            )
            print(results[-1], flush=True)
    print(f"\n### IMDB: minilm, {args.train} train / {args.test} test reviews, max_length {args.max_length}, 1 epoch")
    print("| mode | test accuracy | train inputs | train s | predict s |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        cells = [r["mode"], r["test_accuracy"], r["train_inputs"], r["train_seconds"], r["predict_seconds"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
