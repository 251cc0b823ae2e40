"""Extractive QA on SQuAD v1.1: headstart vs the recipe of HF's ``run_qa.py`` example, side by side.

Two recipes on the same seeded subset of questions (whole paragraphs are sampled, so a context
is never split), the same backbone, epochs, batch size, learning rate, max_length and
doc_stride, each in a fresh process (so its peak RSS is its own):

* ``hf``: the recipe of transformers' ``examples/pytorch/question-answering/run_qa.py``, written
  again here: features padded to ``max_length`` (its default), a window without the answer
  labelled with the [CLS] index, ``AutoModelForQuestionAnswering`` on the HF ``Trainer`` with
  ``TrainingArguments``' defaults for everything not named above (no warm-up, no weight decay),
  bf16 autocast where the CPU has native bf16, and the post-processing of its ``utils_qa.py``
  (per-window Python loops over the 20 best starts x 20 best ends);
* ``headstart``: ``headstart.train`` with ``--task qa`` and its defaults beyond the shared settings.

Per recipe: training wall time, EM/F1 on the dev subset (the official v1.1 definitions), the time
to post-process the dev subset's logits, peak RSS; and, with logits drawn at random for every
window of the full dev set (10,570 questions, tokenized for real), the time each post-processing
takes over all of it.

    .venv/bin/python bench/qa.py                                     # 4,000 train / 1,000 dev questions, ~20 min
    .venv/bin/python bench/qa.py --train-questions 0 --dev-questions 0 --epochs 2   # all of SQuAD, hours
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import DATA, machine  # noqa: E402  (the same machine facts as the other benchmarks)

SQUAD = DATA / "squad"


# ---------------------------------------------------------------- data (the same files for both)
def subset(path: Path, questions: int, seed: int) -> dict[str, Any]:
    """Whole paragraphs, in a seeded random order, until ``questions`` are taken (0: all)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not questions:
        return data
    paragraphs = [(a["title"], p) for a in data["data"] for p in a["paragraphs"]]
    random.Random(seed).shuffle(paragraphs)
    articles: dict[str, list[dict]] = collections.defaultdict(list)
    taken = 0
    for title, paragraph in paragraphs:
        if taken >= questions:
            break
        articles[title].append(paragraph)
        taken += len(paragraph["qas"])
    return {"version": data.get("version", "1.1"), "data": [{"title": t, "paragraphs": p} for t, p in articles.items()]}


def flat(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": qa["id"], "question": qa["question"], "context": p["context"], "answers": qa["answers"]}
        for a in data["data"]
        for p in a["paragraphs"]
        for qa in p["qas"]
    ]


def score(rows: list[dict[str, Any]], predicted: dict[str, str]) -> dict[str, float]:
    from headstart.tasks.question_answering.metrics import squad_scores

    golds = {r["id"]: [a["text"] for a in r["answers"]] for r in rows}
    out = squad_scores(golds, predicted)
    return {"exact_match": round(out["exact_match"], 2), "f1": round(out["f1"], 2)}


# ---------------------------------------------------------------- the run_qa recipe
def _windows(tokenizer: Any, rows: list[dict], max_length: int, stride: int) -> Any:
    """run_qa's tokenization: question (left-stripped) and context, windows padded to max_length."""
    return tokenizer(
        [r["question"].lstrip() for r in rows],
        [r["context"] for r in rows],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )


def hf_train_features(tokenizer: Any, rows: list[dict], max_length: int, stride: int) -> dict[str, list]:
    """run_qa's ``prepare_train_features``: windows padded to max_length, answers as token indices."""
    enc = _windows(tokenizer, rows, max_length, stride)
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        ids = enc["input_ids"][i]
        cls = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
        sequence = enc.sequence_ids(i)
        answer = rows[enc["overflow_to_sample_mapping"][i]]["answers"][0]
        first, last = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        s = 0
        while sequence[s] != 1:
            s += 1
        e = len(ids) - 1
        while sequence[e] != 1:
            e -= 1
        if not (offsets[s][0] <= first and offsets[e][1] >= last):
            starts.append(cls)
            ends.append(cls)
            continue
        while s < len(offsets) and offsets[s][0] <= first:
            s += 1
        starts.append(s - 1)
        while offsets[e][1] >= last:
            e -= 1
        ends.append(e + 1)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    return {**{k: enc[k] for k in keys}, "start_positions": starts, "end_positions": ends}


def hf_eval_features(tokenizer: Any, rows: list[dict], max_length: int, stride: int) -> tuple[dict, list, list]:
    """run_qa's ``prepare_validation_features``: windows, their example, offsets outside the context None."""
    enc = _windows(tokenizer, rows, max_length, stride)
    example = list(enc["overflow_to_sample_mapping"])
    offsets = [
        [o if s == 1 else None for s, o in zip(enc.sequence_ids(i), enc["offset_mapping"][i])]
        for i in range(len(example))
    ]
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    return {k: enc[k] for k in keys}, example, offsets


def hf_postprocess(
    rows: list[dict], example: list[int], offsets: list[list], starts: np.ndarray, ends: np.ndarray
) -> dict[str, str]:
    """``utils_qa.postprocess_qa_predictions`` (v1.1): per window, the 20 best starts x 20 best ends."""
    n_best, max_answer_length = 20, 30
    features = collections.defaultdict(list)
    for i, k in enumerate(example):
        features[k].append(i)
    out = {}
    for k, row in enumerate(rows):
        candidates = []
        for i in features[k]:
            start_logits, end_logits, spans = starts[i], ends[i], offsets[i]
            for s in np.argsort(start_logits)[-1 : -n_best - 1 : -1].tolist():
                for e in np.argsort(end_logits)[-1 : -n_best - 1 : -1].tolist():
                    if s >= len(spans) or e >= len(spans) or spans[s] is None or spans[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append((start_logits[s] + end_logits[e], spans[s][0], spans[e][1]))
        best = max(candidates) if candidates else (0.0, 0, 0)
        out[row["id"]] = row["context"][best[1] : best[2]]
    return out


def run_hf(args: argparse.Namespace, train_rows: list[dict], dev_rows: list[dict]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, Trainer, TrainingArguments

    from headstart.acceleration.hardware import bf16_fast
    from headstart.models import resolve_model

    path = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    train = Dataset.from_dict(hf_train_features(tokenizer, train_rows, args.max_length, args.doc_stride))
    bf16 = bf16_fast("cpu")
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(Path(args.work) / "hf"),
            per_device_train_batch_size=args.batch,
            per_device_eval_batch_size=64,
            learning_rate=args.learning_rate,
            num_train_epochs=args.epochs,
            seed=args.seed,
            bf16=bf16,
            save_strategy="no",
            report_to=[],
            logging_steps=50,
            disable_tqdm=True,
            use_cpu=True,
        ),
        train_dataset=train,
    )
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started
    features, example, offsets = hf_eval_features(tokenizer, dev_rows, args.max_length, args.doc_stride)
    with torch.inference_mode():
        output = trainer.predict(Dataset.from_dict(features))
    starts, ends = output.predictions[:2]
    started = time.perf_counter()
    predicted = hf_postprocess(dev_rows, example, offsets, starts, ends)
    post = time.perf_counter() - started
    full_rows = flat(json.loads((SQUAD / "dev-v1.1.json").read_text()))
    _, f_example, f_offsets = hf_eval_features(tokenizer, full_rows, args.max_length, args.doc_stride)
    rng = np.random.default_rng(0)
    shape = (len(f_example), args.max_length)
    r_starts, r_ends = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
    started = time.perf_counter()
    hf_postprocess(full_rows, f_example, f_offsets, r_starts, r_ends)
    post_full = time.perf_counter() - started
    return {
        "train_seconds": round(train_seconds, 1),
        **score(dev_rows, predicted),
        "postprocess_seconds": round(post, 2),
        "postprocess_full_dev_seconds": round(post_full, 2),
        "precision": "bf16" if bf16 else "fp32",
        "train_windows": len(train),
    }


# ---------------------------------------------------------------- headstart
def run_headstart(args: argparse.Namespace, train_file: Path, dev_file: Path, dev_rows: list[dict]) -> dict[str, Any]:
    from headstart import Predictor, train
    from headstart.tasks.question_answering.encoding import encode_questions
    from headstart.tasks.question_answering.postprocess import best_spans
    from headstart.tasks.question_answering.predict import window_logits

    out = Path(args.work) / "headstart"
    cfg = {
        "model": {"name": args.model, "max_length": args.max_length},
        "task": {"type": "question-answering", "doc_stride": args.doc_stride},
        "train": {
            "output_dir": str(out),
            "overwrite_output_dir": True,
            "per_device_train_batch_size": args.batch,
            "learning_rate": args.learning_rate,
            "num_train_epochs": args.epochs,
            "seed": args.seed,
            "disable_tqdm": True,
        },
    }
    result = train(cfg, train=str(train_file), validation=str(dev_file))
    predictor = Predictor.load(result.output_dir)
    questions, contexts = [r["question"] for r in dev_rows], [r["context"] for r in dev_rows]
    windows = encode_questions(predictor.tokenizer, questions, contexts, args.max_length, args.doc_stride)
    starts, ends = window_logits(predictor, windows, 64)
    started = time.perf_counter()
    best = best_spans(starts, ends, windows.offsets, windows.owner, len(dev_rows))
    answers = best.answers(contexts)
    post = time.perf_counter() - started
    predicted = {r["id"]: str(a["answer"]) for r, a in zip(dev_rows, answers)}
    full_rows = flat(json.loads((SQUAD / "dev-v1.1.json").read_text()))
    full = encode_questions(
        predictor.tokenizer,
        [r["question"] for r in full_rows],
        [r["context"] for r in full_rows],
        args.max_length,
        args.doc_stride,
    )
    rng = np.random.default_rng(0)
    r_starts = [rng.normal(size=n).astype(np.float32) for n in full.lengths]
    r_ends = [rng.normal(size=n).astype(np.float32) for n in full.lengths]
    started = time.perf_counter()
    best_spans(r_starts, r_ends, full.offsets, full.owner, len(full_rows)).answers([r["context"] for r in full_rows])
    post_full = time.perf_counter() - started
    validation = result.metrics["validation"]
    info = json.loads((out / "headstart.json").read_text())
    return {
        "train_seconds": round(result.train_seconds, 1),
        **score(dev_rows, predicted),
        "headstart_exact_match": round(validation["exact_match"], 2),
        "headstart_f1": round(validation["f1"], 2),
        "postprocess_seconds": round(post, 2),
        "postprocess_full_dev_seconds": round(post_full, 2),
        "precision": info["precision"],
        "train_windows": info["data"]["train"]["windows"],
    }


# ---------------------------------------------------------------- driver
def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    train_file, dev_file = work / "train.json", work / "dev.json"
    train_rows = flat(json.loads(train_file.read_text()))
    dev_rows = flat(json.loads(dev_file.read_text()))
    if args.child == "hf":
        row = run_hf(args, train_rows, dev_rows)
    else:
        row = run_headstart(args, train_file, dev_file, dev_rows)
    row["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    row = {k: v for k, v in row.items() if v is not None}
    Path(args.child_out).write_text(json.dumps(row))


def table(results: dict[str, Any]) -> str:
    keys = ["train_seconds", "exact_match", "f1", "postprocess_seconds", "postprocess_full_dev_seconds", "peak_rss_gb"]
    lines = [
        f"SQuAD v1.1, {results['train_questions']} train / {results['dev_questions']} dev questions, "
        f"{results['settings']}",
        "",
        "| recipe | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for recipe, row in results["workloads"]["squad-v1.1"].items():
        lines.append(f"| {recipe} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--recipes", default="hf,headstart")
    parser.add_argument("--train-questions", type=int, default=4000, help="0: all 87,599")
    parser.add_argument("--dev-questions", type=int, default=1000, help="0: all 10,570")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default="runs/bench-qa")
    parser.add_argument("--out", default="bench/results/qa.json", help="the JSON file (the table goes next to it)")
    parser.add_argument("--child", choices=("hf", "headstart"), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not SQUAD.is_dir():
        sys.exit(f"needs the SQuAD files at {SQUAD}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train_data = subset(SQUAD / "train-v1.1.json", args.train_questions, args.seed)
    dev_data = subset(SQUAD / "dev-v1.1.json", args.dev_questions, args.seed + 1)
    (work / "train.json").write_text(json.dumps(train_data))
    (work / "dev.json").write_text(json.dumps(dev_data))
    settings = (
        f"{args.model}, {args.epochs:g} epoch(s), batch {args.batch}, learning rate {args.learning_rate:g}, "
        f"max_length {args.max_length}, doc_stride {args.doc_stride}, seed {args.seed}"
    )
    results: dict[str, Any] = {
        "command": "bench/qa.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "train_questions": len(flat(train_data)),
        "dev_questions": len(flat(dev_data)),
        "settings": settings,
        "workloads": {"squad-v1.1": {}},  # the shape the docs' benchmark tables read
    }
    passed = [
        f"--{k.replace('_', '-')}={v}"
        for k, v in vars(args).items()
        if k in ("model", "epochs", "batch", "learning_rate", "max_length", "doc_stride", "seed", "work")
    ]
    for recipe in args.recipes.split(","):
        out = work / f"{recipe}.json"
        out.unlink(missing_ok=True)
        started = time.perf_counter()
        with open(work / f"{recipe}.log", "w") as log:
            done = subprocess.run(
                [sys.executable, __file__, *passed, "--child", recipe, "--child-out", str(out)], stderr=log, stdout=log
            )
        if done.returncode != 0:
            sys.exit(f"{recipe} failed: see {work / f'{recipe}.log'}")
        row = json.loads(out.read_text())
        row["process_seconds"] = round(time.perf_counter() - started, 1)
        row["score"] = row["f1"]  # the column the benchmarks page shows for every workload
        results["workloads"]["squad-v1.1"][recipe] = row
        print(recipe, row, file=sys.stderr, flush=True)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    out_path.with_suffix(".md").write_text(table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
