"""The training and prediction half of ``bench/gpu_check.sh``: minilm on MRPC and CoNLL-2003 for one
epoch each on the GPU (time, the precision headstart chose, scores), then ``Predictor`` against
``transformers.pipeline`` on the same MRPC dev pairs with the saved model (rows/s, both at the same
batch size, the pipeline in its default fp32 and in bf16). A table, and JSON in ``--out``.

    bash bench/gpu_check.sh                       # what a GPU machine runs
    .venv/bin/python bench/gpu_check.py --allow-cpu --set train.max_steps=5   # the code path, on a CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DATA, run_one  # noqa: E402  (the same workloads as the quality benchmark)
from train_speed import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def device_facts() -> dict[str, Any]:
    import torch

    from headstart.acceleration.hardware import choose_bf16

    facts: dict[str, Any] = {"cuda": torch.cuda.is_available(), "torch_cuda": torch.version.cuda}
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        facts |= {"gpu": torch.cuda.get_device_name(), "capability": f"{major}.{minor}"}
        facts["memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    facts["precision"] = "bf16" if choose_bf16(None, "cuda" if torch.cuda.is_available() else "cpu") else "fp32"
    return facts


def mrpc_dev_pairs(repeat: int) -> list[dict[str, str]]:
    import csv

    with open(DATA / "mrpc" / "glue" / "dev.tsv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [{"text": r["#1 String"], "text_pair": r["#2 String"]} for r in rows] * repeat


def throughput(model_dir: str, pairs: list[dict[str, str]], batch_size: int) -> dict[str, Any]:
    """Rows/s of headstart's Predictor and of the pipeline on the same pairs (after a warm-up each),
    and how often their labels agree."""
    import torch
    from transformers import pipeline

    from headstart import Predictor

    def timed(fn) -> tuple[list, float]:
        fn(pairs[:batch_size])
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = fn(pairs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out, time.perf_counter() - started

    device = 0 if torch.cuda.is_available() else -1
    predictor = Predictor.load(model_dir)
    ours, our_seconds = timed(lambda rows: predictor.predict(rows, batch_size=batch_size))
    result: dict[str, Any] = {"rows": len(pairs), "batch_size": batch_size}
    result["predictor_rows_per_second"] = round(len(pairs) / our_seconds, 1)
    for name, dtype in (("pipeline_fp32", torch.float32), ("pipeline_bf16", torch.bfloat16)):
        pipe = pipeline("text-classification", model=model_dir, device=device, dtype=dtype)
        theirs, seconds = timed(lambda rows, pipe=pipe: pipe(rows, batch_size=batch_size))
        result[f"{name}_rows_per_second"] = round(len(pairs) / seconds, 1)
        same = sum(a["label"] == b["label"] for a, b in zip(ours, theirs))
        result[f"{name}_same_label_percent"] = round(100 * same / len(pairs), 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default="skipped", help="the test suite's exit status (gpu_check.sh passes it)")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=128, help="for the throughput comparison")
    parser.add_argument("--repeat", type=int, default=20, help="the 408 MRPC dev pairs, this many times")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--allow-cpu", action="store_true", help="run on a CPU (to check the script itself)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "gpu-check")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu_check.json")
    args = parser.parse_args()
    facts = device_facts()
    if not facts["cuda"] and not args.allow_cpu:
        print("no GPU: skipped")
        return 0
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    runs = {}
    for workload in ("mrpc", "conll"):
        runs[workload] = run_one(workload, args.model, args.set, args.seed, args.work, epochs=1)
        print(f"{workload}: {runs[workload]['score']:.2f} in {runs[workload]['train_seconds']} s", file=sys.stderr)
    speed = throughput(runs["mrpc"]["model_dir"], mrpc_dev_pairs(args.repeat), args.batch_size)
    results = {
        "command": "bench/gpu_check.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "device": facts,
        "tests_exit_status": args.tests,
        "training": {k: {"score": round(v["score"], 2), "train_seconds": v["train_seconds"]} for k, v in runs.items()},
        "throughput": speed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    where = facts.get("gpu", "CPU")
    print(f"{where}, precision {facts['precision']}; test suite exit status: {args.tests}")
    print("| workload (1 epoch) | score | train s |\n|---|---|---|")
    print(f"| MRPC dev F1 | {runs['mrpc']['score']:.2f} | {runs['mrpc']['train_seconds']} |")
    print(f"| CoNLL-2003 test F1 | {runs['conll']['score']:.2f} | {runs['conll']['train_seconds']} |")
    print(f"| predict {speed['rows']} MRPC pairs, batch {speed['batch_size']} | rows/s | same labels as Predictor |")
    print("|---|---|---|")
    print(f"| headstart Predictor | {speed['predictor_rows_per_second']} | - |")
    for name in ("pipeline_fp32", "pipeline_bf16"):
        rate, same = speed[f"{name}_rows_per_second"], speed[f"{name}_same_label_percent"]
        print(f"| {name.replace('_', ' ')} | {rate} | {same}% |")
    print(f"JSON in {args.out}")
    return 0 if args.tests in ("0", "skipped") else 1


if __name__ == "__main__":
    sys.exit(main())
