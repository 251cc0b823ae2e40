"""Distillation: a minilm student of a trained mpnet teacher, against minilm trained alone.

In one invocation, on the same data and seed: the teacher's score (a directory trained before,
e.g. by bench/quality.py --model mpnet), minilm fine-tuned on the gold labels alone (the peer),
and minilm distilled from the teacher (`headstart.distill`); then the prediction speed of teacher
and student on the scored split with `headstart.Predictor` (the median of --repeats passes after
a warm-up), in the precision each picks here.

    .venv/bin/python bench/distill.py --teacher runs/quality/mrpc-mpnet-s42-...   # ~15 min on 2 cores
    .venv/bin/python bench/distill.py --workload mrpc --unlabeled glue-test --teacher ...
    .venv/bin/python bench/distill.py --workload conll --teacher runs/quality/conll-mpnet-s42-...

Workloads (the splits and scores of bench/quality.py): MRPC dev F1, 3 epochs; CoNLL-2003 test F1
(validated on eng.testa), 3 epochs. `--unlabeled glue-test` adds MRPC's 1,725 unlabeled GLUE test
pairs, each also in swapped order (a paraphrase is one either way round), labelled by the teacher.

Prints a Markdown table and writes bench/results/distill-<workload>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from headstart import Predictor, RunConfig, distill, train
from headstart.data import load_examples
from headstart.data.tokens import read_token_file

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# workload -> files, task, epochs, the split and metric scored
WORKLOADS: dict[str, dict[str, Any]] = {
    "mrpc": {
        "files": {"train": "mrpc/glue/train.tsv", "validation": "mrpc/glue/dev.tsv"},
        "epochs": 3,
        "score": ("validation", "f1"),
    },
    "conll": {
        "files": {"train": "conll2003/eng.train", "validation": "conll2003/eng.testa", "test": "conll2003/eng.testb"},
        "task": "token-classification",
        "epochs": 3,
        "score": ("test", "f1"),
    },
}


def _cfg(workload: str, out: Path, seed: int) -> RunConfig:
    spec = WORKLOADS[workload]
    cfg = RunConfig()
    cfg.task.type = spec.get("task", cfg.task.type)
    for split, file in spec["files"].items():
        setattr(cfg.data, split, str(DATA / file))
    cfg.train.num_train_epochs, cfg.train.seed, cfg.train.disable_tqdm = spec["epochs"], seed, True
    cfg.train.output_dir = str(out)
    return cfg


def _scored_inputs(workload: str) -> list:
    split, _ = WORKLOADS[workload]["score"]
    path = DATA / WORKLOADS[workload]["files"][split]
    if WORKLOADS[workload].get("task") == "token-classification":
        return read_token_file(path).inputs()
    return load_examples(str(path)).inputs()


def _glue_test_pairs(folder: Path) -> Path:
    """MRPC's unlabeled GLUE test pairs, each in both orders, as a two-column TSV."""
    with open(DATA / "mrpc" / "glue" / "test.tsv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    path = folder / "mrpc-unlabeled.tsv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        out.writerow(["sentence1", "sentence2"])
        for r in rows:
            out.writerow([r["#1 String"], r["#2 String"]])
            out.writerow([r["#2 String"], r["#1 String"]])
    return path


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
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mrpc")
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--unlabeled", default=None, help="a file of unlabeled inputs, or glue-test (MRPC)")
    parser.add_argument("--skip-alone", action="store_true", help="leave out minilm trained on the labels alone")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "distill")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    stamp = time.strftime("%Y%m%d-%H%M%S")
    split, metric = WORKLOADS[args.workload]["score"]
    teacher_score = json.loads((args.teacher / "metrics.json").read_text())[split][metric]
    rows: dict[str, dict[str, Any]] = {"teacher": {"score": 100 * teacher_score}}
    if not args.skip_alone:
        alone_cfg = _cfg(args.workload, args.out / f"alone-{args.workload}-{stamp}", args.seed)
        alone_cfg.model.name = args.student
        alone = train(alone_cfg)
        rows[f"{args.student} alone"] = {
            "score": 100 * alone.metrics[split][metric],
            "train_seconds": alone.train_seconds,
        }
    with tempfile.TemporaryDirectory() as tmp:
        unlabeled = _glue_test_pairs(Path(tmp)) if args.unlabeled == "glue-test" else args.unlabeled
        student_cfg = _cfg(args.workload, args.out / f"student-{args.workload}-{stamp}", args.seed)
        student = distill(
            student_cfg,
            teacher=args.teacher,
            student=args.student,
            temperature=args.temperature,
            alpha=args.alpha,
            unlabeled=unlabeled,
        )
    inputs = _scored_inputs(args.workload)
    teacher_speed = _speed(args.teacher, inputs, args.repeats)
    student_speed = _speed(student.output_dir, inputs, args.repeats)
    rows["teacher"]["predict_per_second"] = round(teacher_speed, 1)
    rows[f"{args.student} distilled"] = {
        "score": 100 * student.metrics[split][metric],
        "train_seconds": student.train_seconds,
        "predict_per_second": round(student_speed, 1),
        "model_dir": str(student.output_dir),
    }
    print(f"| model | {split} {metric} | training s | {split} inputs/s predicted |")
    print("| --- | --- | --- | --- |")
    for name, r in rows.items():
        seconds = f"{r['train_seconds']:.0f}" if "train_seconds" in r else "(trained before)"
        print(f"| {name} | {r['score']:.2f} | {seconds} | {r.get('predict_per_second', '')} |")
    print(f"student / teacher prediction speed: {student_speed / teacher_speed:.1f}x")
    payload = {
        "command": "bench/distill.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "teacher": str(args.teacher),
        "temperature": args.temperature,
        "alpha": args.alpha,
        "unlabeled": args.unlabeled,
        "seed": args.seed,
        "speedup": round(student_speed / teacher_speed, 2),
        "workloads": {args.workload: rows},
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"distill-{args.workload}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
