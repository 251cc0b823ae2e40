"""Gradient clipping folded into the fused optimizer's step gives the Trainer's own clipping."""

import pytest
import torch
from accelerate import Accelerator
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from headstart.acceleration.clipping import clip_in_step, fused_optimizer, gradients, plain_gradients, total_norm
from headstart.training.trainer import HeadstartTrainer
from tests_support import SENTIMENT


class StockClipping(HeadstartTrainer):
    _clip_grad_norm = Trainer._clip_grad_norm  # HF's: clip_grad_norm_ multiplies every gradient


def _train(trainer_class, model_dir, tmp_path, max_grad_norm, optim="adamw_torch_fused"):
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    enc = tokenizer([r["text"] for r in SENTIMENT], padding=True)
    data = Dataset.from_dict({**enc, "labels": [int(r["label"] == "pos") for r in SENTIMENT]})
    args = TrainingArguments(
        output_dir=str(tmp_path / trainer_class.__name__),
        per_device_train_batch_size=4,
        num_train_epochs=3,
        learning_rate=1e-2,  # large steps: the two clippings must agree step after step
        max_grad_norm=max_grad_norm,
        optim=optim,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    trainer = trainer_class(model=model, args=args, train_dataset=data)
    trainer.train()
    norms = [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]
    return trainer, model, norms


def test_clipping_in_the_step_matches_the_trainers_clipping(tiny_model_dir, tmp_path):
    ours, model, norms = _train(HeadstartTrainer, tiny_model_dir, tmp_path, max_grad_norm=0.05)
    _, reference, stock_norms = _train(StockClipping, tiny_model_dir, tmp_path, max_grad_norm=0.05)
    assert sum(n > 0.05 for n in norms) > len(norms) // 2, "the test must clip most steps"
    assert norms == pytest.approx(stock_norms, rel=1e-4)  # the logged norms are the pre-clip ones
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        # a key bias's true gradient is 0 (softmax ignores a shift shared by all keys): its
        # gradient is rounding noise, which Adam's normalisation turns into steps of any size
        if not name.endswith("key.bias"):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    inner = fused_optimizer(ours.optimizer)
    assert inner is not None and inner._headstart_clears_grad_scale  # our path ran
    assert not hasattr(inner, "grad_scale"), "the factor belongs to one step"


def test_without_clipping_the_step_is_unchanged_bit_for_bit(tiny_model_dir, tmp_path):
    _, model, _ = _train(HeadstartTrainer, tiny_model_dir, tmp_path, max_grad_norm=1e6)
    _, reference, _ = _train(StockClipping, tiny_model_dir, tmp_path, max_grad_norm=1e6)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))


def test_other_optimizers_keep_the_trainers_clipping(tiny_model_dir, tmp_path):
    trainer, _, norms = _train(HeadstartTrainer, tiny_model_dir, tmp_path, max_grad_norm=0.05, optim="adamw_torch")
    assert fused_optimizer(trainer.optimizer) is None and norms


def test_which_optimizers_clip_in_their_step():
    p = [torch.nn.Parameter(torch.ones(3))]
    fused = torch.optim.AdamW(p, fused=True)
    assert fused_optimizer(fused) is fused
    assert fused_optimizer(Accelerator(cpu=True).prepare_optimizer(torch.optim.Adam(p, fused=True))) is not None
    assert fused_optimizer(torch.optim.AdamW(p, fused=False)) is None
    assert fused_optimizer(torch.optim.SGD(p, lr=0.1)) is None


def test_the_norm_and_the_factor_are_clip_grad_norm_s():
    torch.manual_seed(0)
    a, b = torch.nn.Parameter(torch.randn(50)), torch.nn.Parameter(torch.randn(4, 5))
    a.grad, b.grad = torch.randn(50) * 3, torch.randn(4, 5)
    expected = torch.linalg.vector_norm(torch.cat([a.grad.flatten(), b.grad.flatten()]))
    step = torch.optim.AdamW([a, b], fused=True)
    norm = clip_in_step(gradients([a, b]), 2.0, step)
    assert torch.allclose(norm, expected) and torch.allclose(total_norm([a.grad, b.grad]), expected)
    assert torch.allclose(step.grad_scale, (expected + 1e-6) / 2.0)  # 1 / clip_grad_norm_'s factor
    step.step()
    assert not hasattr(step, "grad_scale")
    assert torch.allclose(torch.cat([a.grad.flatten(), b.grad.flatten()]).norm(), torch.tensor(2.0))  # clipped
    clip_in_step(gradients([a, b]), 100.0, step)
    assert step.grad_scale == 1.0  # below max_norm: divided by exactly 1


def test_only_plain_dense_gradients_clip_in_the_step():
    dense, sparse = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    dense.grad, sparse.grad = torch.ones(3), torch.ones(3).to_sparse()
    assert plain_gradients(gradients([dense])) and not plain_gradients(gradients([dense, sparse]))
