"""Prediction speed and quality per runtime: pipeline, PyTorch fp32/bf16, ONNX fp32/int8.

Workloads (all in one invocation, same machine, same model per workload):

* IMDB: minilm fine-tuned on a seeded sample of 2,000 training reviews (1 epoch, max_length 512,
  or ``--reuse imdb=DIR``), scored on 1,000 seeded test reviews at max_length 512;
* CoNLL-2003 (``--reuse conll=DIR``, a NER directory): entity F1 on eng.testb.

For each runtime: size on disk, examples/s (the whole set after a warm-up batch; the median of
``--repeats`` passes) and accuracy or F1. ``transformers.pipeline`` uses its own batching
(batch_size 8, truncation at the same max_length); the others are ``headstart.Predictor`` with its
defaults (inputs sorted by length, batches of up to 32 inputs and 2,048 padded tokens).

    .venv/bin/python bench/export_speed.py                               # trains IMDB (~8 min)
    .venv/bin/python bench/export_speed.py --reuse imdb=runs/imdb-minilm --reuse conll=runs/conll-minilm-viterbi
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from headstart import Predictor, train
from headstart.acceleration.first_token import use_full_layer
from headstart.acceleration.hardware import bf16_fast
from headstart.data.tokens import read_token_file
from headstart.inference.onnx_export import export_onnx
from headstart.tasks.token_classification.metrics import entity_metrics

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def imdb(split: str, n: int, seed: int = 0) -> list[dict]:
    import csv

    with gzip.open(DATA / "imdb" / f"{split}.csv.gz", "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(seed).shuffle(rows)
    return [
        {"text": r["text"].replace("<br />", " "), "label": "pos" if r["label"] == "1" else "neg"} for r in rows[:n]
    ]


def size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.iterdir() if p.suffix in (".onnx", ".safetensors")) / 1e6, 1)


REPEATS = {"n": 1, "pytorch_only": False, "bf16": False}  # --repeats, --pytorch-only, --bf16
# Predictor's precision: forced fp32, forced bf16 autocast (with the attention kernel chosen for
# it), and its default (auto: bf16 where the CPU has native bf16, see headstart/acceleration/hardware.py).
PRECISIONS = (("PyTorch fp32", False), ("PyTorch bf16", True), ("PyTorch default (auto)", None))


def precisions() -> tuple[tuple[str, bool | None], ...]:
    """PRECISIONS, without forced bf16 where this CPU only emulates it: on a 2-core AVX2 EPYC a
    bf16 matmul ran at 1.3 GFLOP/s against fp32's 115, so 1,000 IMDB reviews (~6 GFLOP each)
    would take over an hour (``--bf16`` runs it anyway)."""
    if REPEATS["bf16"] or bf16_fast("cpu"):
        return PRECISIONS
    print("PyTorch bf16: left out, this CPU has no native bf16 (--bf16 to run it)", file=sys.stderr)
    return tuple(p for p in PRECISIONS if p[1] is not True)


def args_only_pytorch() -> bool:
    return bool(REPEATS["pytorch_only"])


def timed(fn, *args, **kwargs) -> tuple[list, float]:
    """The output of ``fn`` and the median wall time of ``--repeats`` passes (all printed)."""
    times = []
    for _ in range(REPEATS["n"]):
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - started)
    if len(times) > 1:
        print(f"  passes: {', '.join(f'{t:.1f} s' for t in times)}", file=sys.stderr, flush=True)
    return out, float(np.median(times))


def classification(model_dir: Path, work: Path, n_test: int) -> list[dict]:
    test = imdb("test", n_test, seed=1)
    texts, gold = [r["text"] for r in test], [r["label"] for r in test]
    rows = []

    def record(name: str, labels: list[str], seconds: float, size: float) -> None:
        acc = float(np.mean([a == b for a, b in zip(labels, gold)]))
        rows.append(
            {
                "runtime": name,
                "size_mb": size,
                "examples_per_s": round(len(texts) / seconds, 2),
                "accuracy": round(100 * acc, 2),
                "seconds": round(seconds, 1),
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)

    from transformers import pipeline

    max_length = Predictor.load(model_dir).info.max_length
    pipe = pipeline("text-classification", model=str(model_dir), device="cpu")
    pipe(texts[:8], truncation=True, max_length=max_length, batch_size=8)
    out, seconds = timed(pipe, texts, truncation=True, max_length=max_length, batch_size=8)
    record("transformers.pipeline (fp32)", [o["label"] for o in out], seconds, size_mb(model_dir))
    for name, bf16 in precisions():
        predictor = Predictor.load(model_dir, bf16=bf16)
        predictor.predict(texts[:8])
        out, seconds = timed(predictor.predict, texts)
        record(f"headstart {name}", [o["label"] for o in out], seconds, size_mb(model_dir))
    # the last row again with every token computed in the last layer, as the pipeline does: what
    # computing only the [CLS] token there (acceleration/first_token.py) gains
    use_full_layer(predictor.model)
    out, seconds = timed(predictor.predict, texts)
    record(f"headstart {name}, every token in the last layer", [o["label"] for o in out], seconds, size_mb(model_dir))
    if args_only_pytorch():
        return rows
    for quantize in (None, "int8"):
        target = work / f"imdb-onnx-{quantize or 'fp32'}"
        report = export_onnx(model_dir, target, quantize=quantize, overwrite=True)
        onnx = Predictor.load(target)
        onnx.predict(texts[:8])
        out, seconds = timed(onnx.predict, texts)
        record(f"headstart ONNX {quantize or 'fp32'}", [o["label"] for o in out], seconds, report.size_mb)
    return rows


def ner(model_dir: Path, work: Path) -> list[dict]:
    test = read_token_file(DATA / "conll2003" / "eng.testb")
    rows = []

    def record(name: str, tags: list[list[str]], seconds: float, size: float) -> None:
        f1 = entity_metrics(test.tags, tags)["f1"]
        rows.append(
            {
                "runtime": name,
                "size_mb": size,
                "examples_per_s": round(len(test) / seconds, 2),
                "f1": round(100 * f1, 2),
                "seconds": round(seconds, 1),
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)

    from transformers import pipeline

    texts = [" ".join(words) for words in test.words]
    pipe = pipeline("token-classification", model=str(model_dir), aggregation_strategy="first", device="cpu")
    pipe(texts[:8], batch_size=8)
    out, seconds = timed(pipe, texts, batch_size=8)
    record("transformers.pipeline (fp32, aggregation first)", _word_tags(test.words, out), seconds, size_mb(model_dir))
    for name, bf16 in precisions():
        predictor = Predictor.load(model_dir, bf16=bf16)
        (out, _), seconds = timed(predictor.predict_tags, test.words, documents=test.documents)
        record(f"headstart {name}", out, seconds, size_mb(model_dir))
    if args_only_pytorch():
        return rows
    for quantize in (None, "int8"):
        target = work / f"conll-onnx-{quantize or 'fp32'}"
        report = export_onnx(model_dir, target, quantize=quantize, overwrite=True)
        onnx = Predictor.load(target)
        (out, _), seconds = timed(onnx.predict_tags, test.words, documents=test.documents)
        record(f"headstart ONNX {quantize or 'fp32'}", out, seconds, report.size_mb)
    return rows


def _word_tags(sentences: list[list[str]], entities: list[list[dict]]) -> list[list[str]]:
    """The pipeline's character spans on " ".join(words) back to one IOB2 tag per word."""
    out = []
    for words, ents in zip(sentences, entities):
        starts, at = [], 0
        for w in words:
            starts.append(at)
            at += len(w) + 1
        tags = ["O"] * len(words)
        for e in ents:
            inside = [i for i, s in enumerate(starts) if e["start"] <= s < e["end"]]
            for k, i in enumerate(inside):
                tags[i] = ("B-" if k == 0 else "I-") + e["entity_group"]
        out.append(tags)
    return out


def table(title: str, rows: list[dict], metric: str) -> str:
    base = rows[0]["examples_per_s"]
    lines = [
        f"### {title}",
        "",
        f"| runtime | size MB | examples/s | vs first row | {metric} |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['runtime']} | {r['size_mb']} | {r['examples_per_s']} | "
            f"{r['examples_per_s'] / base:.2f}x | {r[metric]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="append", default=[], help="imdb=DIR or conll=DIR")
    parser.add_argument("--test", type=int, default=1000, help="IMDB test reviews")
    parser.add_argument("--work", default="runs/bench-export")
    parser.add_argument("--out", default="bench/results/export_speed.json")
    parser.add_argument("--repeats", type=int, default=1, help="passes per runtime; the median is reported")
    parser.add_argument("--pytorch-only", action="store_true", help="the pipeline and PyTorch rows, no ONNX export")
    parser.add_argument("--bf16", action="store_true", help="the forced-bf16 row also where bf16 is only emulated")
    args = parser.parse_args()
    REPEATS["n"] = max(1, args.repeats)
    REPEATS["pytorch_only"] = args.pytorch_only
    REPEATS["bf16"] = args.bf16
    reuse = dict(item.split("=", 1) for item in args.reuse)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"threads": torch.get_num_threads(), "repeats": REPEATS["n"]}
    imdb_dir = reuse.get("imdb")
    if imdb_dir is None:
        cfg = {
            "model": {"name": "minilm", "max_length": 512},
            "train": {
                "output_dir": str(work / "imdb-minilm"),
                "num_train_epochs": 1,
                "overwrite_output_dir": True,
                "per_device_train_batch_size": 8,
                "disable_tqdm": True,
                "seed": 0,
            },
        }
        result = train(cfg, train=imdb("train", 2000), validation=imdb("train", 2200)[2000:])
        imdb_dir, results["imdb_train_seconds"] = result.output_dir, result.train_seconds
    results["imdb"] = classification(Path(imdb_dir), work, args.test)
    print(table(f"IMDB, {args.test} test reviews, max_length 512 ({imdb_dir})", results["imdb"], "accuracy"))
    if "conll" in reuse:
        results["conll"] = ner(Path(reuse["conll"]), work)
        print()
        print(table(f"CoNLL-2003 eng.testb, 3,453 sentences ({reuse['conll']})", results["conll"], "f1"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
