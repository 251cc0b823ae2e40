"""Generation on E2E NLG (data-to-text): headstart with LoRA (with and without activation
checkpointing) and with full fine-tuning, against TRL's SFTTrainer + peft (LoRA) used as their
docs use them.

One invocation runs every recipe on the same seeded training rows, prompt ("<mr>\\n" then the
reference), learning rate, batch, epochs, seed, LoRA settings (r 8, alpha 16, dropout 0.05, on
q_proj/v_proj unless --lora-targets says otherwise) and precision. A recipe trains and saves its
model in one process and writes the test MRs greedily with the saved model in another, so each
peak memory is that of training (or of writing) alone. One scorer scores them all: sacrebleu's
BLEU (13a, lowercased, references padded: the E2E script's BLEU), ROUGE-L (rouge-score) and chrF.

    .venv/bin/python bench/generation.py                          # smollm2, 2,000 rows, 1 epoch
    .venv/bin/python bench/generation.py --train-rows 500 --test-mrs 30 --recipes headstart-lora

Prints a Markdown table and writes bench/results/generation-e2e.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import machine  # noqa: E402  (the same machine facts as the other benchmarks)

DATA = ROOT.parent / "shared" / "data" / "e2e"
# headstart-lora-ckpt: LoRA with activation checkpointing (less memory for a second forward pass)
RECIPES = ("headstart-lora", "headstart-lora-ckpt", "headstart-full", "trl-peft-lora")
LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [{"mr": r["mr"], "ref": r["ref"]} for r in csv.DictReader(f)]


def _grouped(rows: list[dict[str, str]], n: int) -> tuple[list[str], list[list[str]]]:
    refs: dict[str, list[str]] = {}
    for r in rows:
        refs.setdefault(r["mr"], []).append(r["ref"])
    mrs = list(refs)[:n]
    return mrs, [refs[m] for m in mrs]


def _data(args: argparse.Namespace) -> tuple[list, list, list[str], list[list[str]]]:
    train_rows = _rows(DATA / "trainset.csv")
    random.Random(args.seed).shuffle(train_rows)
    dev_mrs, dev_refs = _grouped(_rows(DATA / "devset.csv"), args.dev_mrs)
    dev_rows = [{"mr": m, "ref": r} for m, refs in zip(dev_mrs, dev_refs) for r in refs]
    mrs, refs = _grouped(_rows(DATA / "testset_w_refs.csv"), args.test_mrs)
    return train_rows[: args.train_rows], dev_rows, mrs, refs


def _lora(args: argparse.Namespace) -> dict:
    targets = [name.strip() for name in args.lora_targets.split(",")]
    return {**LORA, "target_modules": targets[0] if targets == ["all-linear"] else targets}


def _headstart(args: argparse.Namespace, lora: bool, out: Path, checkpointing: bool = False) -> dict:
    from headstart import RunConfig, train

    train_rows, dev_rows, _, _ = _data(args)
    settings = _lora(args)
    cfg = RunConfig()
    cfg.task.type = "generation"
    cfg.model.name, cfg.model.max_length = args.model, 128
    cfg.model.lora, cfg.model.lora_r, cfg.model.lora_alpha = lora, settings["r"], settings["lora_alpha"]
    cfg.model.lora_dropout, cfg.model.lora_target_modules = settings["lora_dropout"], settings["target_modules"]
    cfg.task.max_new_tokens, cfg.task.eval_samples = args.max_new_tokens, 0
    cfg.train.num_train_epochs, cfg.train.learning_rate = args.epochs, args.learning_rate * (10 if lora else 1)
    cfg.train.per_device_train_batch_size, cfg.train.seed = args.batch_size, args.seed
    cfg.train.activation_checkpointing = checkpointing
    cfg.train.output_dir, cfg.train.overwrite_output_dir, cfg.train.disable_tqdm = str(out), True, True
    result = train(cfg, train=train_rows, validation=dev_rows)
    info = json.loads((out / "headstart.json").read_text())
    return {"train_seconds": result.train_seconds, "precision": info.get("precision", "fp32")}


def _headstart_writes(args: argparse.Namespace, out: Path) -> list[str]:
    from headstart import Predictor

    _, _, mrs, _ = _data(args)
    return [p["generated_text"] for p in Predictor.load(out).predict(mrs, batch_size=16)]


def _peer(args: argparse.Namespace, bf16: bool, out: Path) -> dict:
    """TRL's SFTTrainer with a peft LoraConfig, as their docs use them, on the same rows and settings;
    the merged model is saved for the writing process, as headstart's run saves its own."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from headstart.models import resolve_model

    train_rows, _, _, _ = _data(args)
    path = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    prompts, completions = [r["mr"] + "\n" for r in train_rows], [r["ref"] for r in train_rows]
    data = Dataset.from_dict({"prompt": prompts, "completion": completions})
    config = SFTConfig(
        output_dir=str(out), num_train_epochs=args.epochs, learning_rate=args.learning_rate * 10,
        per_device_train_batch_size=args.batch_size, seed=args.seed, max_length=128, bf16=bf16, use_cpu=bf16,
        activation_checkpointing=False, report_to="none", save_strategy="no", logging_steps=50, disable_tqdm=True,
        warmup_steps=0.1, weight_decay=0.01,  # headstart's defaults, so that only the implementation differs
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(path)
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=data, processing_class=tokenizer, peft_config=LoraConfig(**_lora(args))
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    trainer.model.merge_and_unload().save_pretrained(out / "merged")
    tokenizer.save_pretrained(out / "merged")
    return {"train_seconds": seconds, "precision": "bf16" if bf16 else "fp32"}


def _peer_writes(args: argparse.Namespace, bf16: bool, out: Path) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, mrs, _ = _data(args)
    tokenizer = AutoTokenizer.from_pretrained(out / "merged")
    model = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    tokenizer.padding_side = "left"
    written = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(mrs), 16):
            batch = tokenizer([m + "\n" for m in mrs[i : i + 16]], return_tensors="pt", padding=True)
            ids = model.generate(**batch, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)  # fmt: skip
            written += tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return [w.strip() for w in written]


def _child(args: argparse.Namespace) -> int:
    """One recipe's one phase in this process: training (and saving) or writing the test outputs
    with the saved model; its result, with this process's peak RSS, as JSON on stdout's last line."""
    out, peer, bf16 = args.run_dir, args.recipe == "trl-peft-lora", args.bf16 == "bf16"
    if args.phase == "train":
        if peer:
            run = _peer(args, bf16, out)
        else:
            run = _headstart(args, args.recipe.startswith("headstart-lora"), out, args.recipe.endswith("-ckpt"))
    else:
        start = time.perf_counter()
        written = _peer_writes(args, bf16, out) if peer else _headstart_writes(args, out)
        run = {"written": written, "write_seconds": time.perf_counter() - start}
    run["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(run))
    return 0


def _phase(args: argparse.Namespace, recipe: str, phase: str, run_dir: Path, precision: str) -> dict | None:
    command = [sys.executable, __file__, *sys.argv[1:], "--recipe", recipe, "--phase", phase,
               "--run-dir", str(run_dir), "--bf16", precision]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tokens(args: argparse.Namespace) -> int:
    """Training tokens (prompt and reference, with the end-of-sequence token) of all epochs."""
    from transformers import AutoTokenizer

    from headstart.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(args.model))
    train_rows = _data(args)[0]
    ids = tokenizer([r["mr"] + "\n" + r["ref"] for r in train_rows])["input_ids"]
    return int((sum(len(x) for x in ids) + len(ids)) * args.epochs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--dev-mrs", type=int, default=20)
    parser.add_argument("--test-mrs", type=int, default=100)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="full fine-tuning's; LoRA takes 10x")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--lora-targets", default="q_proj,v_proj", help="both LoRA recipes' modules, or all-linear")
    parser.add_argument("--recipe", help=argparse.SUPPRESS)  # a child process's one recipe
    parser.add_argument("--phase", choices=("train", "write"), help=argparse.SUPPRESS)  # and its one phase
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bf16", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "generation")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no data at {DATA}: skipped", file=sys.stderr)
        return 0
    if args.recipe:
        return _child(args)
    from headstart.tasks.generation.metrics import text_scores

    _, _, mrs, refs = _data(args)
    tokens = _tokens(args)
    runs: dict[str, dict] = {}
    precision = "fp32"
    for recipe in args.recipes.split(","):
        run_dir = args.out / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
        trained = _phase(args, recipe, "train", run_dir, precision)
        written = trained and _phase(args, recipe, "write", run_dir, trained["precision"])
        if not written:
            return 1
        precision = trained["precision"]  # the peer runs in headstart's precision
        runs[recipe] = {**written, **trained, "write_peak_rss_mb": written["peak_rss_mb"]}
    table = ["| recipe | BLEU | ROUGE-L | chrF | train s | tokens/s | train peak MB | write s | write peak MB |"]
    table.append("|---" * 9 + "|")
    workloads: dict = {}
    for name, run in runs.items():
        s = text_scores(run["written"], refs)
        speed = tokens / run["train_seconds"]
        table.append(f"| {name} | {s['bleu']:.2f} | {s['rougeL']:.2f} | {s['chrf']:.2f} | {run['train_seconds']:.0f} "
                     f"| {speed:.0f} | {run['peak_rss_mb']:.0f} | {run['write_seconds']:.0f} "
                     f"| {run['write_peak_rss_mb']:.0f} |")  # fmt: skip
        workloads[name] = {"score": s["bleu"], "train_seconds": round(run["train_seconds"], 1),
                           "tokens_per_second": round(speed, 1), "peak_rss_mb": round(run["peak_rss_mb"]),
                           "write_peak_rss_mb": round(run["write_peak_rss_mb"]),
                           "write_seconds": round(run["write_seconds"], 1), "rougeL": s["rougeL"], "chrf": s["chrf"],
                           "precision": run["precision"], "examples": run["written"][:5]}  # fmt: skip
    print("\n".join(table))
    payload = {
        "model": args.model, "train_rows": args.train_rows, "test_mrs": len(mrs), "epochs": args.epochs,
        "train_tokens": tokens, "lora": _lora(args), "bleu_signature": text_scores(["a"], [["a"]])["bleu_signature"],
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "workloads": {"e2e": workloads},
    }  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / "generation-e2e.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
