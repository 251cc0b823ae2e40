"""A real decoder backbone: SmolLM2-135M (bundled name ``smollm2``) fine-tuned on SST-2.

A seeded sample of 2,000 SST-2 training sentences, the full dev set (872) for validation; batches
of 16 (decoders need a pad token and right padding — the quirks table gives both). Then the
saved directory is checked in plain ``transformers.pipeline`` against ``headstart.Predictor``
on 200 dev sentences, and batched == one-by-one scores on 32. Prints a table, writes JSON.

    .venv/bin/python bench/decoder_quality.py                # ~15 min on 2 cores
    .venv/bin/python bench/decoder_quality.py --reuse runs/sst2-smollm2
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from transformers import pipeline

from headstart import Predictor, train
from headstart.data import load_examples

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2"


def sample(n: int, seed: int = 0) -> list[dict]:
    examples = load_examples(DATA / "train.tsv")
    rows = [{"text": t, "label": label} for t, label in zip(examples.texts, examples.labels)]
    return random.Random(seed).sample(rows, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", help="a trained directory")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--output", default="runs/sst2-smollm2")
    parser.add_argument("--out", default="bench/results/decoder_quality.json")
    args = parser.parse_args()
    if args.reuse is None:
        cfg = {
            "model": {"name": "smollm2", "max_length": 128},
            "data": {"validation": str(DATA / "dev.tsv")},
            "train": {
                "output_dir": args.output,
                "overwrite_output_dir": True,
                "num_train_epochs": args.epochs,
                "learning_rate": args.learning_rate,
                "per_device_train_batch_size": args.batch_size,
                "disable_tqdm": True,
                "seed": 0,
            },
        }
        train(cfg, train=sample(args.train))
    model_dir = Path(args.reuse or args.output)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    dev = load_examples(DATA / "dev.tsv")
    predictor = Predictor.load(model_dir)
    texts = dev.texts[:200]
    ours = predictor.predict(texts)
    pipe = pipeline("text-classification", model=str(model_dir), device="cpu")
    theirs = pipe(texts, truncation=True, batch_size=16)
    same = sum(a["label"] == b["label"] for a, b in zip(ours, theirs))
    batched = predictor.probabilities(texts[:32], batch_size=16)
    alone = np.concatenate([predictor.probabilities([t], batch_size=1) for t in texts[:32]])
    row = {
        "backbone": "smollm2 (SmolLM2-135M-Instruct, GGUF Q4_1 de-quantized)",
        "train_sentences": args.train,
        "epochs": metrics["validation"].get("epoch", args.epochs),
        "batch_size": args.batch_size,
        "dev_accuracy": round(100 * metrics["validation"]["accuracy"], 2),
        "train_seconds": metrics["train_seconds"],
        "pipeline_agreement": f"{same}/{len(texts)}",
        "batched_vs_alone_max_diff": float(np.abs(batched - alone).max()),
    }
    print("| backbone | train sentences | batch | dev accuracy | train s | pipeline agrees | max batched diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {row['backbone']} | {row['train_sentences']} | {row['batch_size']} | {row['dev_accuracy']} | "
        f"{row['train_seconds']} | {row['pipeline_agreement']} | {row['batched_vs_alone_max_diff']:.1e} |"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2) + "\n")
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
