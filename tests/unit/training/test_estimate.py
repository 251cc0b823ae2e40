"""The warm-up behind the time estimate leaves the run exactly as it was."""

import datasets
import pytest
import torch
from transformers import (
    AutoTokenizer,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from headstart.training.estimate import describe, estimate_run_seconds
from tests_support import SENTIMENT


def test_warmup_changes_no_weight_and_no_random_state(tmp_path, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = BertForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    enc = tokenizer([r["text"] for r in SENTIMENT])
    data = datasets.Dataset.from_dict({**enc, "labels": [int(r["label"] == "pos") for r in SENTIMENT]})
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, report_to="none", use_cpu=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    tokens = sum(len(ids) for ids in enc["input_ids"])
    estimate = estimate_run_seconds(trainer, tokens, eval_tokens=tokens, evaluations=2, epochs=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert estimate["tokens_per_second"] > 0
    assert estimate["train_seconds"] == pytest.approx(3 * tokens / estimate["tokens_per_second"], rel=1e-9)
    assert estimate["total_seconds"] >= estimate["train_seconds"]


def test_describe_picks_a_readable_unit():
    assert [describe(s) for s in (42, 600, 9000)] == ["42 s", "10 min", "2.5 h"]
