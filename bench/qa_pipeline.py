"""Do headstart's answers match ``transformers.pipeline("question-answering")`` on a saved QA model?

transformers 5 removed the question-answering pipeline, so the pipeline runs from transformers
4.x, installed by this script into ``<work>/transformers4`` (``pip install --target``; the
project's environment is not touched) and put first on the path of a child process that reads
the same saved directory. Both answer the same SQuAD v1.1 dev questions (the seeded subset
``bench/qa.py`` uses, or all of them) with the model's own window settings; an answer agrees
when its text and start are the same.

    .venv/bin/python bench/qa.py                                   # trains runs/bench-qa/headstart
    .venv/bin/python bench/qa_pipeline.py runs/bench-qa/headstart  # 1,000 dev questions
    .venv/bin/python bench/qa_pipeline.py runs/bench-qa/headstart --dev-questions 0   # all 10,570
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa import SQUAD, flat, subset  # noqa: E402  (the same dev questions as bench/qa.py)
from train_speed import machine  # noqa: E402

PIPELINE_TRANSFORMERS = "transformers>=4.57,<5"  # the last major version with the QA pipeline


def headstart_answers(
    model_dir: str, rows: list[dict], batch_size: int, bf16: bool | None
) -> tuple[list[dict], float, dict]:
    from headstart import Predictor

    predictor = Predictor.load(model_dir, bf16=bf16)
    started = time.perf_counter()
    answers = predictor.predict(
        [{"question": r["question"], "context": r["context"]} for r in rows], batch_size=batch_size
    )
    settings = predictor.info.settings
    window = {
        "max_seq_len": predictor.info.max_length,
        "doc_stride": int(settings.doc_stride),
        "max_answer_len": int(settings.max_answer_length),
        "handle_impossible_answer": bool(settings.version_2_with_negative),
    }
    return answers, time.perf_counter() - started, window


def pipeline_child(model_dir: str, rows_file: str, window: str, out: str, batch_size: int) -> None:
    """Runs under transformers 4.x: the pipeline's answer to every question."""
    import transformers
    from transformers import pipeline

    rows = json.loads(Path(rows_file).read_text())
    pipe = pipeline("question-answering", model=model_dir, device="cpu")
    started = time.perf_counter()
    found = pipe(
        question=[r["question"] for r in rows],
        context=[r["context"] for r in rows],
        batch_size=batch_size,
        **json.loads(window),
    )
    found = found if isinstance(found, list) else [found]
    seconds = time.perf_counter() - started
    Path(out).write_text(json.dumps({"answers": found, "seconds": seconds, "transformers": transformers.__version__}))


def install(target: Path) -> None:
    if (target / "transformers").is_dir():
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), PIPELINE_TRANSFORMERS], check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="a question-answering directory saved by headstart")
    parser.add_argument("--dev-questions", type=int, default=1000, help="0: all 10,570")
    parser.add_argument("--seed", type=int, default=42, help="bench/qa.py's seed (its dev subset uses seed + 1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32"),
        default="fp32",
        help="headstart's: fp32 as the pipeline runs, or auto (bf16 where the CPU has it, as Predictor.load does)",
    )
    parser.add_argument("--work", default="runs/bench-qa-pipeline")
    parser.add_argument("--out", default="bench/results/qa_pipeline.json")
    parser.add_argument("--child", nargs=3, metavar=("ROWS", "WINDOW", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        pipeline_child(args.model_dir, *args.child, batch_size=args.batch_size)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = flat(subset(SQUAD / "dev-v1.1.json", args.dev_questions, args.seed + 1))
    bf16 = False if args.precision == "fp32" else None
    ours, our_seconds, window = headstart_answers(args.model_dir, rows, args.batch_size, bf16)
    (work / "rows.json").write_text(json.dumps(rows))
    target = work / "transformers4"
    install(target)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    out = work / "pipeline.json"
    subprocess.run(
        [
            sys.executable,
            __file__,
            args.model_dir,
            "--batch-size",
            str(args.batch_size),
            "--child",
            str(work / "rows.json"),
            json.dumps(window),
            str(out),
        ],
        check=True,
        env=env,
    )
    theirs = json.loads(out.read_text())
    pairs = list(zip(ours, theirs["answers"]))
    agree = [a["answer"].strip() == b["answer"].strip() and a["start"] == b["start"] for a, b in pairs]
    same_text = [a["answer"].strip() == b["answer"].strip() for a, b in pairs]
    differ = [
        {"question": r["question"], "headstart": a["answer"], "pipeline": b["answer"]}
        for r, (a, b), ok in zip(rows, pairs, agree)
        if not ok
    ][:10]
    results = {
        "command": "bench/qa_pipeline.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "pipeline_transformers": theirs["transformers"],
        "headstart_precision": args.precision,
        "window": window,
        "workloads": {
            "squad-v1.1-dev": {
                "agreement": {
                    "questions": len(pairs),
                    "score": round(100 * sum(agree) / len(pairs), 2),
                    "same_text_percent": round(100 * sum(same_text) / len(pairs), 2),
                    "headstart_seconds": round(our_seconds, 1),
                    "pipeline_seconds": round(theirs["seconds"], 1),
                }
            }
        },
        "disagreements": differ,
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    row = results["workloads"]["squad-v1.1-dev"]["agreement"]
    print(
        f"{row['questions']} dev questions, headstart in {args.precision}: the same answer (text and start) in "
        f"{row['score']}% "
        f"(same text {row['same_text_percent']}%); headstart {row['headstart_seconds']} s, "
        f"pipeline (transformers {theirs['transformers']}) {row['pipeline_seconds']} s"
    )


if __name__ == "__main__":
    main()
