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


@pytest.mark.parametrize("bf16", [True, False])
def test_warmup_runs_in_the_precision_of_the_run(tmp_path, tiny_model_dir, bf16):
    """transformers 5.x applies autocast through accelerate when training wraps the model: the
    warm-up, which runs before that, must ask for it itself (a bf16 run was timed in fp32)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = BertForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    enc = tokenizer([r["text"] for r in SENTIMENT])
    data = datasets.Dataset.from_dict({**enc, "labels": [int(r["label"] == "pos") for r in SENTIMENT]})
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, report_to="none", use_cpu=True, bf16=bf16
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
    seen = []
    model.classifier.register_forward_hook(lambda m, a, out: seen.append(out.dtype))  # a Linear: bf16 under autocast
    tokens = sum(len(ids) for ids in enc["input_ids"])
    assert estimate_run_seconds(trainer, tokens, eval_tokens=0, evaluations=0, epochs=1) is not None
    assert seen and set(seen) == {torch.bfloat16 if bf16 else torch.float32}


def test_describe_picks_a_readable_unit():
    assert [describe(s) for s in (42, 600, 9000)] == ["42 s", "10 min", "2.5 h"]
