"""Batch prediction of the SST-2 training sentences (67,349) on a local Ray against ``headstart
predict`` in one process.

Both are the same ``headstart predict --input train.tsv --output …`` command, one with ``--ray``
(a local Ray on this machine's CPUs, one model copy per CPU), each run as a fresh process and
timed from outside. Memory is the peak, sampled every 0.25 s, of the PSS summed over the command
and every process under it (Ray's GCS, raylet and workers included; PSS so that pages the
processes share count once). Ray's actors run one thread each, and the order in which a matmul
sums changes with the thread count: so the Ray output is compared byte for byte with a one-process
run held to one thread too, and with the default one-process run label by label (with the largest
score difference).

    .venv/bin/python bench/ray_predict.py                     # trains runs/bench-ray/model on 4,000 sentences first
    .venv/bin/python bench/ray_predict.py --model runs/sst2   # any text-classification directory
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2"
HEADSTART = [sys.executable, "-m", "headstart"]


def tree_pss_mb(pid: int) -> float:
    """PSS in MB of a process and everything under it (0 for processes gone meanwhile)."""
    import psutil

    try:
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for member in family:
        try:
            total += member.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall seconds, peak tree PSS and the command's summary line."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_pss_mb(proc.pid))
        time.sleep(0.25)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    summary = re.search(r"predicted (\d+) rows.* in ([\d.]+) s", err)
    assert summary, err[-2000:]
    return {
        "rows": int(summary.group(1)),
        "wall_seconds": round(seconds, 1),
        "predict_seconds": round(float(summary.group(2)), 1),  # reading, predicting, writing; no start-up
        "rows_per_second": round(int(summary.group(1)) / seconds, 1),
        "peak_pss_mb": round(peak),
    }


def ensure_model(model: Path, work: Path, train_rows: int) -> float | None:
    """A minilm classifier trained on the first ``train_rows`` SST-2 sentences; its dev accuracy."""
    if (model / "headstart.json").exists():
        return None
    work.mkdir(parents=True, exist_ok=True)
    subset = work / "train-subset.tsv"
    with open(SST2 / "train.tsv", encoding="utf-8") as fh:
        lines = fh.readlines()[: train_rows + 1]
    subset.write_text("".join(lines), encoding="utf-8")
    cmd = [*HEADSTART, "train", "--train", str(subset), "--validation", str(SST2 / "dev.tsv"), "-o", str(model)]
    subprocess.run([*cmd, "--set", "train.num_train_epochs=1", "--set", "train.disable_tqdm=true"], check=True)
    metrics = json.loads((model / "metrics.json").read_text())
    return metrics["validation"]["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "bench-ray" / "model")
    parser.add_argument("--train-rows", type=int, default=4000, help="sentences the default model trains on")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-ray")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ray_predict.json")
    args = parser.parse_args()
    if not SST2.exists():
        print(f"no data at {SST2}: skipped", file=sys.stderr)
        return 0
    accuracy = ensure_model(args.model, args.work, args.train_rows)
    data = SST2 / "train.tsv"
    with open(data, encoding="utf-8", newline="") as fh:
        expected_rows = sum(1 for _ in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)) - 1
    common = ["--input", str(data), "--batch-size", str(args.batch_size), "--chunk-size", str(args.chunk_size)]
    common += ["--overwrite", "--no-progress"]
    outputs = {name: args.work / f"{name}.jsonl" for name in ("one_process", "one_process_1_thread", "ray")}
    predict = [*HEADSTART, "predict", str(args.model), *common]
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {
        "one_process": run_measured([*predict, "--output", str(outputs["one_process"])]),
        "one_process_1_thread": run_measured([*predict, "--output", str(outputs["one_process_1_thread"])], one_thread),
        "ray": run_measured([*predict, "--output", str(outputs["ray"]), "--ray"]),
    }
    equal = outputs["one_process_1_thread"].read_bytes() == outputs["ray"].read_bytes()
    labels = same_labels(outputs["one_process"], outputs["ray"])
    results = {
        "command": "bench/ray_predict.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "ray": _ray_version(),
        "model": str(args.model),
        "model_dev_accuracy": accuracy,
        "input_rows": expected_rows,
        "ray_equals_one_process_1_thread": equal,
        "ray_against_one_process": labels,
        "workloads": {"sst2-train": runs},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("| run | rows | wall s | predict s | rows/s (wall) | peak PSS MB |")
    print("|---|---|---|---|---|---|")
    for name, row in runs.items():
        print(f"| {name} | {row['rows']} | {row['wall_seconds']} | {row['predict_seconds']} "
              f"| {row['rows_per_second']} | {row['peak_pss_mb']} |")  # fmt: skip
    print(
        f"Ray output byte-equal to one process at 1 thread: {equal}; against the default one-process run: "
        f"{labels['same_label']} of {labels['rows']} labels the same, scores within "
        f"{labels['max_score_difference']:.1e} ({labels['same_line']} lines identical); "
        f"{os.cpu_count()} CPUs; JSON in {args.out}"
    )
    ok = equal and labels["same_label"] == labels["rows"] and all(r["rows"] == expected_rows for r in runs.values())
    return 0 if ok else 1


def same_labels(a: Path, b: Path) -> dict[str, Any]:
    """Rows, identical lines, equal labels and the largest score difference of two outputs."""
    rows = same_line = same_label = 0
    worst = 0.0
    with open(a, encoding="utf-8") as fa, open(b, encoding="utf-8") as fb:
        for x, y in zip(fa, fb, strict=True):
            rows += 1
            same_line += x == y
            px, py = json.loads(x), json.loads(y)
            same_label += px["label"] == py["label"]
            worst = max(worst, abs(px["score"] - py["score"]))
    return {"rows": rows, "same_line": same_line, "same_label": same_label, "max_score_difference": worst}


def _ray_version() -> str:
    import ray

    return ray.__version__


if __name__ == "__main__":
    sys.exit(main())
