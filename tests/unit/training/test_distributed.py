"""Data-parallel training with 2 local CPU processes (torchrun, gloo) against 1 process at the
same global batch size; only rank 0 writes the output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from headstart import Predictor
from tests_support import NEGATIVE, POSITIVE, tiny_run_config

ROWS = [{"text": t, "label": "pos"} for t in POSITIVE * 2] + [{"text": t, "label": "neg"} for t in NEGATIVE * 2]
# Tolerance: the two runs see the examples in different batches (each process gets its shard of
# every global batch), so their weights differ slightly; both must separate the classes and
# their log-loss on the data must agree within this. 20 epochs: after 10, the different batch
# order alone left 0.40 against 0.50 on a Zen 1 EPYC (both at accuracy 1.0).
LOSS_TOLERANCE = 0.1


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def _flags(model_dir, data, out, batch_size):
    cfg = tiny_run_config(model_dir, out, per_device_train_batch_size=batch_size, num_train_epochs=20)
    flags = ["--model", str(model_dir), "--train", str(data), "--validation", str(data), "-o", str(out)]
    flags += ["--max_length", "32", "--set", "train.train_sampling_strategy=random"]
    for key, value in cfg["train"].items():
        if key != "output_dir":
            flags += ["--set", f"train.{key}={value}"]
    return flags


LAUNCHERS = {
    "torchrun": ["torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    # on a machine without GPUs, --multi_gpu is what makes accelerate start 2 processes (--cpu
    # alone starts one); headstart then puts them on gloo
    "accelerate": ["accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", "0"],
}


# Behind the slow marker for now: under pytest the torchrun run hung in about 1 of 4 runs (rank 0
# waiting on a futex after rank 1 left), while 6 of 6 direct torchrun runs of the same command
# finished; not yet understood, and a hang must not reach the default test run. On a 2-core AMX
# Xeon (2026-12-04) 12 pytest runs of both launchers in a row all passed (31-39 s each).
@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_processes_match_one_at_the_same_global_batch(launcher, tiny_model_dir, tmp_path):
    data = _data(tmp_path)
    single = tmp_path / "single"
    cmd = [sys.executable, "-m", "headstart", "train", *_flags(tiny_model_dir, data, single, 8)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    ddp = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", *LAUNCHERS[launcher], "-m", "headstart", "train", *_flags(tiny_model_dir, data, ddp, 4)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = json.loads((single / "metrics.json").read_text())
    two = json.loads((ddp / "metrics.json").read_text())
    steps = lambda m: [h["step"] for h in m["history"] if "loss" in h]  # noqa: E731
    assert max(steps(one) + [0]) == max(steps(two) + [0]), "same optimizer steps: the global batch is 8 in both"
    assert one["validation"]["accuracy"] == two["validation"]["accuracy"] == 1.0
    texts = [r["text"] for r in ROWS]
    gold = [0 if r["label"] == "neg" else 1 for r in ROWS]  # label2id: neg, pos
    losses = []
    for model in (single, ddp):
        probs = Predictor.load(model).probabilities(texts)
        losses.append(float(-np.log(probs[np.arange(len(gold)), gold]).mean()))
    assert abs(losses[0] - losses[1]) < LOSS_TOLERANCE, losses
    # rank 0 alone wrote: one saved directory, no leftovers, one set of score lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single", "train.jsonl"]
    assert proc.stdout.count("validation:") == 1
    assert Predictor.load(ddp).predict(["great movie loved it"])[0]["label"] == "pos"


def test_mean_losses_are_divided_by_accumulation_and_not_scaled_by_processes(tiny_model_dir, tmp_path):
    """transformers#47688: a head whose forward takes **kwargs but averages its own loss would get
    gradients gradient_accumulation_steps (or world size) times too large."""
    import torch
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from headstart.training.trainer import HeadstartTrainer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    args = TrainingArguments(output_dir=str(tmp_path), gradient_accumulation_steps=2, report_to=[], use_cpu=True)
    trainer = HeadstartTrainer(model=model, args=args)
    trainer.current_gradient_accumulation_steps = 2
    inputs = {"input_ids": torch.tensor([[2, 11, 12, 3], [2, 13, 14, 3]]), "labels": torch.tensor([0, 1])}
    trainer.training_step(model, dict(inputs), num_items_in_batch=torch.tensor(4))
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    (model(**inputs).loss / 2).backward()  # the batch's mean loss, half of the accumulated step
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours, [p.grad for p in model.parameters()]))
