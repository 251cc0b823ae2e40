"""Which attention implementation and dtype are fastest here, for training and for prediction.

The measurement behind ``modeling/speed.py``'s table: for minilm (the default backbone), one
training step (forward, backward, AdamW step; batch of B x T tokens, all real) and one inference
forward, in fp32 and in bf16 autocast, with each attention implementation transformers offers
for BERT (``eager``, ``sdpa``). Also the machine's matmul peak in both dtypes (a 2048^3 matmul,
best of 5; smaller where bf16 is emulated), so the tokens/s can be read as a share of it. Median
of ``--repeats`` timed steps after 2 warm-up steps. bf16 runs only where the CPU has native bf16
(``--dtypes`` to force it).

    .venv/bin/python bench/attention_speed.py            # ~3 min on 2 cores
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from headstart.acceleration.flops import matmul_peak, training_flops_per_token
from headstart.acceleration.hardware import bf16_fast
from headstart.models import resolve_model


def _autocast(dtype: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()


def measure(attn: str, dtype: str, batch: int, length: int, repeats: int, train: bool) -> float:
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model("minilm"), num_labels=2, attn_implementation=attn
    )
    ids = torch.randint(1000, 20000, (batch, length))
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train(train)
    times = []
    for step in range(repeats + 2):
        started = time.perf_counter()
        if train:
            with _autocast(dtype):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            with torch.inference_mode(), _autocast(dtype):
                model(input_ids=ids, attention_mask=mask)
        if step >= 2:
            times.append(time.perf_counter() - started)
    return batch * length / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/attention_speed.json")
    parser.add_argument(
        "--dtypes",
        default=None,
        help="fp32,bf16 (default: both where the CPU has native bf16, else fp32 only: emulated bf16 "
        "steps run many times slower than fp32 and would take hours)",
    )
    args = parser.parse_args()
    dtypes = args.dtypes.split(",") if args.dtypes else ["fp32", *(["bf16"] if bf16_fast("cpu") else [])]
    if not set(dtypes) <= {"fp32", "bf16"}:
        parser.error(f"--dtypes takes fp32, bf16 or fp32,bf16; found {args.dtypes!r}")
    peak = {dtype: matmul_peak(dtype) for dtype in ("fp32", "bf16")}
    print(f"matmul peak GFLOP/s: fp32 {peak['fp32'] / 1e9:.0f}, bf16 {peak['bf16'] / 1e9:.0f}", file=sys.stderr)
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model("minilm"), num_labels=2)
    rows = []
    for mode in ("train", "predict"):
        for batch, length in ((16, 128), (8, 512)):
            for dtype in dtypes:
                for attn in ("eager", "sdpa"):
                    tps = measure(attn, dtype, batch, length, args.repeats, train=mode == "train")
                    flops = training_flops_per_token(model.config, length) / (1 if mode == "train" else 3)
                    rows.append(
                        {
                            "mode": mode,
                            "shape": f"{batch}x{length}",
                            "dtype": dtype,
                            "attention": attn,
                            "tokens_per_s": round(tps),
                            "share_of_bf16_peak": round(tps * flops / peak["bf16"], 3),
                            "share_of_own_peak": round(tps * flops / peak[dtype], 3),
                        }
                    )
                    print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        "| mode | batch x tokens | dtype | attention | tokens/s | model FLOPs / bf16 peak | / own dtype's peak |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['shape']} | {r['dtype']} | {r['attention']} | {r['tokens_per_s']} | "
            f"{100 * r['share_of_bf16_peak']:.0f}% | {100 * r['share_of_own_peak']:.0f}% |"
        )
    print("\n".join(lines))
    result = {
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": {k: round(v / 1e9, 1) for k, v in peak.items()},
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
