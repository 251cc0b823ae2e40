"""headstart's cheaper training dropout (``headstart.acceleration.dropout``) against ``nn.Dropout``."""

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from headstart.acceleration.dropout import (
    LeanDropout,
    draw_seed,
    drop_mask,
    dropout,
    dropout_of,
    keep_mask,
    use_lean_dropout,
    use_torch_dropout,
)


def test_drops_at_the_rate_scales_the_rest_and_follows_torch_seed():
    x = torch.rand(200, 500) + 0.5  # no zeros of its own
    torch.manual_seed(3)
    out = dropout(x, 0.1)
    dropped = out == 0
    assert abs(dropped.float().mean().item() - 0.1) < 0.005
    assert torch.allclose(out[~dropped], x[~dropped] / 0.9)
    torch.manual_seed(3)
    assert torch.equal(out, dropout(x, 0.1)), "torch.manual_seed decides the mask"
    assert not torch.equal(out, dropout(x, 0.1)), "the next call draws another"


def test_the_gradient_passes_where_kept_and_scaled():
    x = (torch.rand(64, 32, dtype=torch.float64) + 0.5).requires_grad_()
    weights = torch.rand(64, 32, dtype=torch.float64)
    out = dropout(x, 0.3)
    (out * weights).sum().backward()
    kept = out.detach() != 0
    assert torch.allclose(x.grad, torch.where(kept, weights / 0.7, 0))

    seed = 11

    def fixed(t):  # one mask for every evaluation, so gradcheck sees a linear function
        from headstart.acceleration.dropout import _Dropout

        return _Dropout.apply(t, 0.3, seed)

    assert torch.autograd.gradcheck(fixed, (torch.rand(5, 7, dtype=torch.float64, requires_grad=True),))


def test_bf16_keeps_its_dtype():
    x = torch.randn(4, 6, 8, dtype=torch.bfloat16, requires_grad=True)
    out = dropout(x, 0.5)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad.dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_the_keep_mask_is_the_drop_masks_complement_in_the_inputs_dtype(dtype):
    keep = keep_mask((7, 33), 0.25, 5, dtype, torch.device("cpu"))
    drop = drop_mask((7, 33), 0.25, 5, torch.device("cpu"))
    assert keep.dtype == dtype and keep.shape == (7, 33)
    assert torch.equal(keep == 0, drop)
    assert torch.equal(keep[~drop], torch.ones(int((~drop).sum()), dtype=dtype))
    assert 0.15 < drop.float().mean().item() < 0.35


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_multiplying_by_the_mask_gives_the_masked_fill_values_bit_for_bit(dtype):
    # the output and gradient the module had when it zeroed with masked_fill: only the kernel changed
    x = torch.randn(16, 9, 24, dtype=dtype, requires_grad=True)
    grad = torch.randn(16, 9, 24, dtype=dtype)
    torch.manual_seed(8)
    out = dropout(x, 0.1)
    out.backward(grad)
    torch.manual_seed(8)
    drop = drop_mask(x.shape, 0.1, draw_seed(), x.device)
    assert torch.equal(out, x.detach().masked_fill(drop, 0).mul_(1 / 0.9))
    assert torch.equal(x.grad, grad.masked_fill(drop, 0).mul_(1 / 0.9))


def test_a_nan_stays_nan_where_dropped_as_in_torch():
    x = torch.full((50, 50), float("nan"))
    assert torch.isnan(dropout(x, 0.5)).all()
    assert torch.isnan(torch.nn.functional.dropout(x, 0.5)).all()


def test_evaluation_rate_zero_and_rate_one():
    x = torch.randn(3, 4)
    assert dropout(x, 0.1, training=False) is x
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros(3, 4))
    module = LeanDropout(0.2).eval()
    assert module(x) is x
    assert isinstance(module, torch.nn.Dropout) and module.p == 0.2


def test_the_swap_reaches_every_dropout_and_changes_no_weights(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    plain = [m for m in model.modules() if type(m) is torch.nn.Dropout]
    assert plain and dropout_of(model) == "torch"
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    model.eval()
    before = model(input_ids=ids).logits

    assert use_lean_dropout(model) == len(plain)
    assert dropout_of(model) == "headstart"
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
    assert [m.p for m in model.modules() if isinstance(m, LeanDropout)] == [m.p for m in plain]
    assert model.state_dict().keys() == state.keys()
    assert torch.equal(model(input_ids=ids).logits, before), "evaluation is unchanged"
    model.train()
    assert not torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits), "training drops"

    assert use_torch_dropout(model) == len(plain)
    assert dropout_of(model) == "torch"


@pytest.mark.parametrize(("asked", "used"), [(None, "headstart"), ("torch", "torch")])
def test_training_on_cpu_uses_the_cheaper_dropout_unless_told(asked, used, tiny_model_dir, tmp_path):
    from headstart import train
    from tests_support import SENTIMENT, tiny_run_config

    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=2)
    cfg["speed"]["dropout_implementation"] = asked
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["dropout_implementation"] == used
    # the saved directory holds plain transformers modules and weights either way
    reloaded = AutoModelForSequenceClassification.from_pretrained(result.output_dir)
    assert dropout_of(reloaded) == "torch"
