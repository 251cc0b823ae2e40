"""Training speed: the seed recipe vs a tuned HF Trainer vs headstart's defaults, side by side.

Three recipes, on the same data, backbone (minilm), epochs, batch size and seed, in one run:

* ``seed``: HF ``Trainer`` with its defaults, every input padded to ``max_length`` by the
  tokenizer, fp32 (the recipe of the tutorials this tool's users start from);
* ``tuned``: HF ``Trainer`` with dynamic padding (``DataCollatorWithPadding`` /
  ``DataCollatorForTokenClassification``), ``train_sampling_strategy="group_by_length"`` and bf16
  autocast where the CPU has native bf16;
* ``headstart``: ``headstart.train`` with its defaults (the workload's max_length, batch size and
  epochs given; precision, attention, batching, long documents and NER context its own).

Workloads: IMDB (1,000 seeded train reviews, 1,000 seeded test reviews, max_length 512, batch 8,
1 epoch), MRPC (GLUE train 3,668 pairs, 3 epochs, batch 16, max_length 128, scored on the 1,725
labeled test pairs), CoNLL-2003 (eng.train, 1 epoch, batch 16, max_length 128, entity F1 on
eng.testb). headstart also gets a validation set (IMDB: 200 further train reviews; MRPC: GLUE
dev; CoNLL: eng.testa): it evaluates it once per epoch inside its training time when it trains
for more than one epoch (MRPC), and once after training otherwise (the final scoring that every
run does: ``end_to_end_seconds`` in the JSON). The HF recipes do not evaluate while training.

Each recipe runs in a fresh process (so its peak RSS is its own). Per recipe: training wall time
(``Trainer.train``), real (non-pad) tokens/s, the padding share of training batches, the test
score, peak RSS, and model FLOPs per second (``headstart/acceleration/flops.py``) over the matmul peak
measured at the start of the same run, in the machine's faster precision (bf16 where the CPU has
native bf16, else fp32).

    .venv/bin/python bench/train_speed.py                        # all three workloads, ~70 min
    .venv/bin/python bench/train_speed.py --workloads imdb       # ~20 min
    .venv/bin/python bench/train_speed.py --recipes tuned,headstart   # without the seed recipe, ~25 min
    .venv/bin/python bench/train_speed.py --recipes tuned,headstart --headstart-set model.attention_dropout=null
        # + a row "headstart-set": headstart's defaults with one setting changed (an ablation)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RECIPES = ("seed", "tuned", "headstart")
WORKLOADS: dict[str, dict[str, Any]] = {
    "imdb": {"max_length": 512, "batch": 8, "epochs": 1, "metric": "accuracy"},
    "mrpc": {"max_length": 128, "batch": 16, "epochs": 3, "metric": "accuracy"},
    "conll": {"max_length": 128, "batch": 16, "epochs": 1, "metric": "f1"},
}
SEED = 42


def machine() -> dict[str, Any]:
    """The CPU, core count and versions the run measured on, for the docs' benchmarks page."""
    import platform

    import torch
    import transformers

    cpu, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
        flags = next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())
    # the matrix units that set a run's speed and precision more than the model name does
    units = [name for name in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if name in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "cpu_units": units, "torch": torch.__version__,
            "transformers": transformers.__version__}  # fmt: skip


# ---------------------------------------------------------------- data (the same rows for all)


def _imdb() -> dict[str, list[dict]]:
    def rows(split: str) -> list[dict]:
        with gzip.open(DATA / "imdb" / f"{split}.csv.gz", "rt", encoding="utf-8") as fh:
            out = [
                {"text": r["text"].replace("<br />", " "), "label": "pos" if r["label"] == "1" else "neg"}
                for r in csv.DictReader(fh)
            ]
        return out

    train = rows("train")
    random.Random(0).shuffle(train)
    test = rows("test")
    random.Random(1).shuffle(test)
    return {"train": train[:1000], "validation": train[1000:1200], "test": test[:1000]}


def _mrpc() -> dict[str, list[dict]]:
    def rows(path: Path) -> list[dict]:
        with path.open(encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            return [{"text": r["#1 String"], "text_pair": r["#2 String"], "label": r["Quality"]} for r in reader]

    return {
        "train": rows(DATA / "mrpc/glue/train.tsv"),
        "validation": rows(DATA / "mrpc/glue/dev.tsv"),
        "test": rows(DATA / "mrpc/msr_paraphrase_test.txt"),
    }


def _conll() -> dict[str, Any]:
    from headstart.data.tokens import read_token_file

    return {
        name: read_token_file(DATA / "conll2003" / f)
        for name, f in (("train", "eng.train"), ("validation", "eng.testa"), ("test", "eng.testb"))
    }


LOADERS = {"imdb": _imdb, "mrpc": _mrpc, "conll": _conll}


# ---------------------------------------------------------------- the HF recipes


def _counting_trainer():
    """HF's Trainer plus the same token count headstart keeps (real and padded tokens per step)."""
    from transformers import Trainer

    from headstart.training.trainer import Throughput

    class CountingTrainer(Trainer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.throughput = Throughput()

        def training_step(self, model: Any, inputs: dict, num_items_in_batch: Any = None) -> Any:
            self.throughput.add(inputs["attention_mask"])
            return super().training_step(model, inputs, num_items_in_batch)

    return CountingTrainer


def run_hf(workload: str, recipe: str, work: Path) -> dict[str, Any]:
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        TrainingArguments,
        default_data_collator,
    )

    from headstart.acceleration.hardware import bf16_fast
    from headstart.models import resolve_model

    spec, data = WORKLOADS[workload], LOADERS[workload]()
    path = resolve_model("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    padding = "max_length" if recipe == "seed" else False
    ner = workload == "conll"
    if ner:
        names = sorted({t for tags in data["train"].tags for t in tags})
        label2id = {n: i for i, n in enumerate(names)}

        def encode(split: Any) -> Dataset:
            enc = tokenizer(
                split.words, is_split_into_words=True, truncation=True, max_length=spec["max_length"], padding=padding
            )
            labels = []
            for i, tags in enumerate(split.tags):  # run_ner.py: the first sub-token of a word, -100 elsewhere
                previous, row = None, []
                for w in enc.word_ids(i):
                    row.append(-100 if w is None or w == previous else label2id[tags[w]])
                    previous = w
                labels.append(row)
            return Dataset.from_dict({**enc, "labels": labels})

        model = AutoModelForTokenClassification.from_pretrained(
            path, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id
        )
        collator = default_data_collator if recipe == "seed" else DataCollatorForTokenClassification(tokenizer)
    else:
        names = sorted({r["label"] for r in data["train"]})
        label2id = {n: i for i, n in enumerate(names)}

        def encode(split: Any) -> Dataset:
            texts = [r["text"] for r in split]
            pairs = [r["text_pair"] for r in split] if "text_pair" in split[0] else None
            enc = tokenizer(texts, pairs, truncation=True, max_length=spec["max_length"], padding=padding)
            return Dataset.from_dict({**enc, "labels": [label2id[r["label"]] for r in split]})

        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id
        )
        collator = default_data_collator if recipe == "seed" else DataCollatorWithPadding(tokenizer)
    train_set, test_set = encode(data["train"]), encode(data["test"])
    bf16 = recipe == "tuned" and bf16_fast("cpu")
    args = TrainingArguments(
        output_dir=str(work / f"{workload}-{recipe}"),
        per_device_train_batch_size=spec["batch"],
        per_device_eval_batch_size=32,
        num_train_epochs=spec["epochs"],
        seed=SEED,
        save_strategy="no",
        eval_strategy="no",
        logging_steps=50,
        report_to="none",
        disable_tqdm=True,
        bf16=bf16,
        use_cpu=True,
        train_sampling_strategy="group_by_length" if recipe == "tuned" else "random",
    )
    trainer = _counting_trainer()(model=model, args=args, train_dataset=train_set, data_collator=collator)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    throughput = trainer.throughput.report(model, seconds)
    # label_ids come back in the order of predictions: right even where the tuned recipe's
    # evaluation sampler is length-grouped too (transformers 5.x), which reorders the rows.
    out = trainer.predict(test_set)
    if ner:
        from headstart.tasks.token_classification.metrics import entity_metrics

        pred = np.asarray(out.predictions).argmax(-1)
        gold_seqs, pred_seqs = [], []
        for g, p in zip(out.label_ids, pred):
            keep = g != -100
            gold_seqs.append([names[i] for i in g[keep]])
            pred_seqs.append([names[i] for i in p[keep]])
        score = entity_metrics(gold_seqs, pred_seqs)["f1"]
    else:
        score = float((np.asarray(out.predictions).argmax(-1) == out.label_ids).mean())
    return {
        "train_seconds": round(seconds, 1),
        "score": round(100 * score, 2),
        "precision": "bf16" if bf16 else "fp32",
        "attention": model.config._attn_implementation,
        "threads": torch.get_num_threads(),
        **throughput,
    }


# ---------------------------------------------------------------- headstart


def run_headstart(workload: str, work: Path, overrides: list[str]) -> dict[str, Any]:
    from headstart import RunConfig, train
    from headstart.config import apply_overrides

    spec, data = WORKLOADS[workload], LOADERS[workload]()
    cfg = RunConfig()
    cfg.model.max_length = spec["max_length"]
    cfg.train.per_device_train_batch_size = spec["batch"]
    cfg.train.num_train_epochs = spec["epochs"]
    cfg.train.seed = SEED
    cfg.train.output_dir = str(work / f"{workload}-headstart")
    cfg.train.overwrite_output_dir = True
    cfg.train.disable_tqdm = True
    # an ablation of one default (--headstart-set model.attention_dropout=null), or another seed
    apply_overrides(cfg, overrides)
    started = time.perf_counter()
    if workload == "conll":
        cfg.task.type = "token-classification"
        cfg.data.train, cfg.data.validation, cfg.data.test = (
            str(DATA / "conll2003" / f) for f in ("eng.train", "eng.testa", "eng.testb")
        )
        result = train(cfg)
    else:
        result = train(cfg, train=data["train"], validation=data["validation"], test=data["test"])
    total = time.perf_counter() - started
    info = json.loads((result.output_dir / "headstart.json").read_text())
    return {
        "train_seconds": round(result.train_seconds, 1),
        "end_to_end_seconds": round(total, 1),
        "score": round(100 * result.metrics["test"][spec["metric"]], 2),
        "precision": info["precision"],
        "attention": info["attn_implementation"],
        **info["throughput"],
    }


# ---------------------------------------------------------------- driver


def child(workload: str, recipe: str, work: Path, out: Path, overrides: list[str]) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if recipe.startswith("headstart"):
        row = run_headstart(workload, work, overrides if recipe == "headstart-set" else [])
    else:
        row = run_hf(workload, recipe, work)
    row["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    out.write_text(json.dumps(row), encoding="utf-8")


def table(results: dict[str, Any]) -> str:
    # utilisation against the machine's fastest precision: bf16 where the CPU has native bf16, fp32
    # where bf16 is only emulated (and many times slower than fp32)
    peaks = results["matmul_peak_gflops"]
    best = max(peaks, key=peaks.get)
    peak = peaks[best]
    lines = [
        f"matmul peak (2048^3, best of 5; smaller where emulated): fp32 {peaks['fp32']} GFLOP/s, "
        f"bf16 {peaks['bf16']} GFLOP/s; {results['threads']} threads",
        *([f"headstart-set: headstart with {', '.join(results['headstart_set'])}"] if results["headstart_set"] else []),
        "",
        "| workload | recipe | precision / attention | train s | vs seed | vs tuned | real tokens/s | padding "
        f"| test score | peak RSS GB | model GFLOP/s | of {best} peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload, rows in results["workloads"].items():
        seed, tuned = rows.get("seed"), rows.get("tuned")
        for recipe, r in rows.items():
            vs_seed = f"{r['train_seconds'] / seed['train_seconds']:.2f}x" if seed else "-"
            vs_tuned = f"{r['train_seconds'] / tuned['train_seconds']:.2f}x" if tuned else "-"
            metric = WORKLOADS[workload]["metric"]
            lines.append(
                f"| {workload} | {recipe} | {r['precision']} / {r['attention']} | {r['train_seconds']} | {vs_seed} | "
                f"{vs_tuned} | {r['tokens_per_second']:.0f} | {100 * r['padding_fraction']:.1f}% | "
                f"{metric} {r['score']} | {r['peak_rss_gb']} | {r['model_gflops_per_second']} | "
                f"{100 * r['model_gflops_per_second'] / peak:.0f}% |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="imdb,mrpc,conll")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--work", default="runs/bench-train-speed")
    parser.add_argument(
        "--out", default="bench/results/train_speed.json", help="the JSON file (the table goes next to it as .md)"
    )
    parser.add_argument(
        "--headstart-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add a recipe headstart-set: headstart's defaults with these config changes (repeatable)",
    )
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "RECIPE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child[0], args.child[1], work, Path(args.child[2]), args.headstart_set)
        return
    recipes = args.recipes.split(",") + (["headstart-set"] if args.headstart_set else [])
    if args.headstart_set:  # a wrong key or value fails here, before the first recipe runs
        from headstart import RunConfig
        from headstart.config import apply_overrides
        from headstart.errors import ConfigError

        try:
            apply_overrides(RunConfig(), args.headstart_set)
        except ConfigError as exc:
            sys.exit(f"--headstart-set: {exc}")
    if not DATA.is_dir():
        sys.exit(f"needs the shared data at {DATA}")
    # an hour of runs must not end on an unwritable result path: a folder gets the default name
    out_path = Path(args.out)
    if out_path.is_dir():
        out_path = out_path / "train_speed.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    import torch

    from headstart.acceleration.flops import matmul_peak

    results: dict[str, Any] = {
        "command": "bench/train_speed.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": {d: round(matmul_peak(d) / 1e9, 1) for d in ("fp32", "bf16")},
        "workloads": {},
        "headstart_set": args.headstart_set,
    }
    print(f"matmul peak GFLOP/s: {results['matmul_peak_gflops']}", file=sys.stderr, flush=True)
    for workload in args.workloads.split(","):
        results["workloads"][workload] = {}
        for recipe in recipes:
            out = work / f"{workload}-{recipe}.json"
            out.unlink(missing_ok=True)
            started = time.perf_counter()
            sets = [f"--headstart-set={a}" for a in args.headstart_set]
            done = subprocess.run(
                [sys.executable, __file__, "--work", str(work), *sets, "--child", workload, recipe, str(out)],
                stdout=subprocess.DEVNULL,
                stderr=open(work / f"{workload}-{recipe}.log", "w"),
            )
            if done.returncode != 0:
                sys.exit(f"{workload}/{recipe} failed: see {work / f'{workload}-{recipe}.log'}")
            row = json.loads(out.read_text())
            row["process_seconds"] = round(time.perf_counter() - started, 1)
            results["workloads"][workload][recipe] = row
            print(workload, recipe, row, file=sys.stderr, flush=True)
    print(table(results))
    out_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    out_path.with_suffix(".md").write_text(table(results) + "\n", encoding="utf-8")
    print(f"wrote {out_path} and {out_path.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
