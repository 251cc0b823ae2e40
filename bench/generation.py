"""Generation on E2E NLG (data-to-text): headstart against TRL's SFTTrainer used as its docs use it.

In one invocation, on the same seeded rows, the same settings and the same precision: headstart
(`task.type generation`) and the peer — TRL's `SFTTrainer` on prompt/completion pairs (the
recipe of TRL's SFT docs: `SFTConfig` with the same learning rate, batch, epochs and seed, its
gradient checkpointing off as headstart's is, then `model.generate` greedy with left padding).
Both write the same test MRs and are scored by the same scorer: sacrebleu's BLEU (13a,
lowercased, references padded: the E2E script's BLEU), chrF, ROUGE-L. A full fine-tune unless
--lora.

    .venv/bin/python bench/generation.py                       # smollm2, 2,000 rows, 1 epoch
    .venv/bin/python bench/generation.py --train-rows 500 --test-mrs 30 --model /tmp/tiny-llama

Prints a Markdown table and writes bench/results/generation-e2e.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

import torch

from headstart import Predictor, RunConfig, train
from headstart.models import resolve_model
from headstart.tasks.generation.metrics import text_scores

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "e2e"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [{"mr": r["mr"], "ref": r["ref"]} for r in csv.DictReader(f)]


def _grouped(rows: list[dict[str, str]], n: int) -> tuple[list[str], list[list[str]]]:
    refs: dict[str, list[str]] = {}
    for r in rows:
        refs.setdefault(r["mr"], []).append(r["ref"])
    mrs = list(refs)[:n]
    return mrs, [refs[m] for m in mrs]


def _headstart(args: argparse.Namespace, train_rows: list, dev_rows: list, mrs: list[str], out: Path) -> dict:
    cfg = RunConfig()
    cfg.task.type = "generation"
    cfg.model.name, cfg.model.max_length, cfg.model.lora = args.model, 128, args.lora
    cfg.task.max_new_tokens, cfg.task.eval_samples = args.max_new_tokens, 0
    cfg.train.num_train_epochs, cfg.train.learning_rate = args.epochs, args.learning_rate
    cfg.train.per_device_train_batch_size, cfg.train.seed = args.batch_size, args.seed
    cfg.train.output_dir, cfg.train.overwrite_output_dir, cfg.train.disable_tqdm = str(out), True, True
    result = train(cfg, train=train_rows, validation=dev_rows)
    predictor = Predictor.load(out)
    start = time.perf_counter()
    written = [p["generated_text"] for p in predictor.predict(mrs, batch_size=16)]
    info = json.loads((out / "headstart.json").read_text())
    return {"written": written, "train_seconds": result.train_seconds, "write_seconds": time.perf_counter() - start,
            "precision": info.get("precision", "fp32")}  # fmt: skip


def _peer(args: argparse.Namespace, train_rows: list, mrs: list[str], bf16: bool, out: Path) -> dict:
    """TRL's SFTTrainer as its docs use it, on the same rows and settings."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    path = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    data = Dataset.from_dict(
        {"prompt": [r["mr"] + "\n" for r in train_rows], "completion": [r["ref"] for r in train_rows]}
    )
    config = SFTConfig(
        output_dir=str(out), num_train_epochs=args.epochs, learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size, seed=args.seed, max_length=128, bf16=bf16, use_cpu=bf16,
        activation_checkpointing=False, report_to="none", save_strategy="no", logging_steps=50, disable_tqdm=True,
        warmup_steps=0.1, weight_decay=0.01,  # headstart's defaults, so that only the implementation differs
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(path)
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model = trainer.model.eval()
    tokenizer.padding_side = "left"
    written = []
    start = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(mrs), 16):
            batch = tokenizer([m + "\n" for m in mrs[i : i + 16]], return_tensors="pt", padding=True)
            ids = model.generate(**batch, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)  # fmt: skip
            written += tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return {"written": [w.strip() for w in written], "train_seconds": seconds,
            "write_seconds": time.perf_counter() - start}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--dev-mrs", type=int, default=20)
    parser.add_argument("--test-mrs", type=int, default=100)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "generation")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    train_rows = _rows(DATA / "trainset.csv")
    random.Random(args.seed).shuffle(train_rows)
    train_rows = train_rows[: args.train_rows]
    dev_mrs, dev_refs = _grouped(_rows(DATA / "devset.csv"), args.dev_mrs)
    dev_rows = [{"mr": m, "ref": r} for m, refs in zip(dev_mrs, dev_refs) for r in refs]
    mrs, refs = _grouped(_rows(DATA / "testset_w_refs.csv"), args.test_mrs)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs = {"headstart": _headstart(args, train_rows, dev_rows, mrs, args.out / f"headstart-{stamp}")}
    if not args.skip_peer:
        bf16 = runs["headstart"]["precision"] == "bf16"
        runs["TRL SFTTrainer"] = _peer(args, train_rows, mrs, bf16, args.out / f"peer-{stamp}")
    table = [
        "| recipe | BLEU | chrF | ROUGE-L | exact | train s | write s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    workloads: dict = {}
    for name, run in runs.items():
        s = text_scores(run["written"], refs)
        table.append(f"| {name} | {s['bleu']:.2f} | {s['chrf']:.2f} | {s['rougeL']:.2f} | {s['exact_match']:.1f} "
                     f"| {run['train_seconds']:.0f} | {run['write_seconds']:.0f} |")  # fmt: skip
        workloads[name] = {"score": s["bleu"], "train_seconds": round(run["train_seconds"], 1),
                           "write_seconds": round(run["write_seconds"], 1), "chrf": s["chrf"], "rougeL": s["rougeL"],
                           "bleu_signature": s["bleu_signature"], "examples": run["written"][:5]}  # fmt: skip
    print("\n".join(table))
    payload = {
        "model": args.model, "train_rows": len(train_rows), "test_mrs": len(mrs), "epochs": args.epochs,
        "lora": args.lora, "precision": runs["headstart"]["precision"], "command": " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d"), "workloads": {"e2e": workloads},
    }  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / "generation-e2e.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
