"""Distillation on MRPC: a minilm student of a trained mpnet teacher, against minilm trained alone.

In one invocation, on the same data and seed: the teacher's dev F1 (a directory trained before,
e.g. by bench/quality.py --model mpnet), minilm fine-tuned on the gold labels alone (the peer),
and minilm distilled from the teacher (`headstart.distill`); then the prediction speed of teacher
and student on the 408 dev pairs with `headstart.Predictor` (the median of --repeats passes after
a warm-up), in the precision each picks here.

    .venv/bin/python bench/distill.py --teacher runs/quality/mrpc-mpnet-s42-...   # ~15 min on 2 cores

Prints a Markdown table and writes bench/results/distill-mrpc.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from headstart import Predictor, RunConfig, distill, train
from headstart.data import load_examples

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mrpc" / "glue"


def _cfg(out: Path, seed: int) -> RunConfig:
    cfg = RunConfig()
    cfg.data.train, cfg.data.validation = str(DATA / "train.tsv"), str(DATA / "dev.tsv")
    cfg.train.num_train_epochs, cfg.train.seed, cfg.train.disable_tqdm = 3, seed, True
    cfg.train.output_dir = str(out)
    return cfg


def _speed(model_dir: Path, inputs: list, repeats: int) -> float:
    predictor = Predictor.load(model_dir)
    predictor.predict(inputs[:32])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(inputs)
        times.append(time.perf_counter() - start)
    return len(inputs) / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "distill")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    stamp = time.strftime("%Y%m%d-%H%M%S")
    teacher_f1 = json.loads((args.teacher / "metrics.json").read_text())["validation"]["f1"]
    alone_cfg = _cfg(args.out / f"alone-{stamp}", args.seed)
    alone_cfg.model.name = args.student
    alone = train(alone_cfg)
    student_cfg = _cfg(args.out / f"student-{stamp}", args.seed)
    student = distill(
        student_cfg, teacher=args.teacher, student=args.student, temperature=args.temperature, alpha=args.alpha
    )
    dev = load_examples(str(DATA / "dev.tsv")).inputs()
    teacher_speed = _speed(args.teacher, dev, args.repeats)
    student_speed = _speed(student.output_dir, dev, args.repeats)
    rows = {
        "teacher": {"score": 100 * teacher_f1, "predict_per_second": round(teacher_speed, 1)},
        f"{args.student} alone": {
            "score": 100 * alone.metrics["validation"]["f1"],
            "train_seconds": alone.train_seconds,
        },
        f"{args.student} distilled": {
            "score": 100 * student.metrics["validation"]["f1"],
            "train_seconds": student.train_seconds,
            "predict_per_second": round(student_speed, 1),
        },
    }
    print("| model | dev F1 | training s | dev pairs/s predicted |")
    print("| --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['score']:.2f} | {r.get('train_seconds', 0):.0f} | {r.get('predict_per_second', '')} |")
    print(f"student / teacher prediction speed: {student_speed / teacher_speed:.1f}x")
    payload = {
        "command": "bench/distill.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "teacher": str(args.teacher),
        "temperature": args.temperature,
        "alpha": args.alpha,
        "seed": args.seed,
        "speedup": round(student_speed / teacher_speed, 2),
        "workloads": {"mrpc": rows},
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / "distill-mrpc.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
