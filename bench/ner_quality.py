"""NER on CoNLL-2003 with minilm: softmax and CRF heads, test F1, wall time, pipeline agreement.

Trains each head (unless --reuse NAME=DIR) on eng.train with eng.testa for validation, scores
eng.testb, counts invalid BIO sequences in the raw (unrepaired) test predictions, and compares
`transformers.pipeline("token-classification")` with `headstart.Predictor` on 100 test sentences.
Prints a Markdown table and writes bench/results/ner_quality.json.

    .venv/bin/python bench/ner_quality.py                                   # ~1.5 h on 2 cores
    .venv/bin/python bench/ner_quality.py --reuse softmax=runs/conll-minilm-softmax --reuse crf=runs/conll-minilm-crf
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from transformers import pipeline

from headstart import Predictor, RunConfig, train
from headstart.data.tags import is_valid_iob2
from headstart.data.tokens import read_token_file

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conll2003"


def run(head: str, reuse: str | None, out_root: Path, args: argparse.Namespace) -> dict:
    if reuse is None:
        cfg = RunConfig()
        cfg.task.type, cfg.task.crf = "token-classification", head == "crf"
        cfg.data.train, cfg.data.validation, cfg.data.test = (
            str(DATA / f) for f in ("eng.train", "eng.testa", "eng.testb")
        )
        cfg.task.context = args.context
        cfg.train.num_train_epochs, cfg.train.learning_rate = args.epochs, args.learning_rate
        cfg.train.per_device_train_batch_size = args.batch_size
        cfg.train.output_dir = str(out_root / f"conll-{head}-{time.strftime('%Y%m%d-%H%M%S')}")
        cfg.train.disable_tqdm = True
        model_dir = train(cfg).output_dir
    else:
        model_dir = Path(reuse)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    test = read_token_file(DATA / "eng.testb")
    predictor = Predictor.load(model_dir)
    start = time.perf_counter()
    raw, _ = predictor.predict_tags(test.words, repair_tags=False, documents=test.documents)
    seconds = time.perf_counter() - start
    row = {
        "head": head,
        "model_dir": str(model_dir),
        "test_f1": metrics["test"]["f1"],
        "test_f1_strict": metrics["test"]["strict"]["f1"],
        "validation_f1": metrics["validation"]["f1"],
        "per_type_f1": {k: v["f1"] for k, v in metrics["test"]["per_type"].items()},
        "train_seconds": metrics.get("train_seconds"),
        "invalid_raw_sequences": sum(not is_valid_iob2(t) for t in raw),
        "test_sentences": len(raw),
        "predict_sentences_per_s": round(len(raw) / seconds, 1),
    }
    if head == "softmax":
        texts = [" ".join(words) for words in test.words[:100]]
        ours = predictor.predict(texts)
        for strategy in ("first", "simple"):
            pipe = pipeline("token-classification", model=str(model_dir), aggregation_strategy=strategy, device="cpu")
            theirs = pipe(texts)
            same = sum(_spans(a) == _spans(b) for a, b in zip(ours, theirs))
            row[f"pipeline_{strategy}_agreement"] = f"{same}/{len(texts)}"
    return row


def _spans(entities: list[dict]) -> list[tuple[str, int, int]]:
    return [(e["entity_group"], int(e["start"]), int(e["end"])) for e in entities]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="append", default=[], metavar="HEAD=DIR")
    parser.add_argument("--only", choices=("softmax", "crf"), action="append")
    parser.add_argument("--epochs", type=float, default=3)
    # 1e-4 with batches of 8 had the best validation F1 of the settings tried (README, Measured results)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--context", type=int, default=0, help="task.context: sub-tokens of document context")
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: real data not present at {DATA}")
        return 0
    reuse = dict(item.split("=", 1) for item in args.reuse)
    rows = [run(h, reuse.get(h), Path(args.out), args) for h in (args.only or ("softmax", "crf"))]
    print("| head | test F1 | strict F1 | dev F1 | train s | invalid raw sequences | pipeline first / simple |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        agree = f"{r.get('pipeline_first_agreement', '-')} / {r.get('pipeline_simple_agreement', '-')}"
        print(
            f"| {r['head']} | {100 * r['test_f1']:.2f} | {100 * r['test_f1_strict']:.2f} | "
            f"{100 * r['validation_f1']:.2f} | {r['train_seconds']} | {r['invalid_raw_sequences']}/"
            f"{r['test_sentences']} | {agree} |"
        )
    out = Path(__file__).parent / "results" / "ner_quality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
