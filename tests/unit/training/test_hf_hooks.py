"""What HeadstartTrainer's overrides of private transformers methods rely on, pinned.

If an upgrade of transformers fails here, re-read the named method in transformers/trainer.py and
adapt the override in headstart/training/trainer.py before relaxing the test.
"""

import inspect

from transformers import Trainer

from headstart.training.trainer import HeadstartTrainer


def _source(name: str) -> str:
    return inspect.getsource(getattr(Trainer, name))


def test_the_train_sampler_hook_feeds_the_train_dataloader():
    assert list(inspect.signature(Trainer._get_train_sampler).parameters) == ["self", "train_dataset"]
    assert "sampler_fn=self._get_train_sampler" in _source("get_train_dataloader")


def test_the_eval_sampler_hook_feeds_the_eval_and_test_dataloaders():
    assert list(inspect.signature(Trainer._get_eval_sampler).parameters) == ["self", "eval_dataset"]
    assert "sampler_fn=self._get_eval_sampler" in _source("get_eval_dataloader")
    assert "sampler_fn=self._get_eval_sampler" in _source("get_test_dataloader")


def test_clipping_is_one_hook_whose_result_is_the_logged_norm():
    assert list(inspect.signature(Trainer._clip_grad_norm).parameters) == ["self", "model"]
    loop = inspect.getsource(Trainer)
    # called once per optimizer step when max_grad_norm > 0; its return value is the pre-clip norm
    assert "grad_norm = self._clip_grad_norm(model)" in loop
    assert "grad_norm = self._get_grad_norm(model, grad_norm=grad_norm)" in loop


def test_the_overrides_keep_the_signatures():
    for name in ("_get_train_sampler", "_get_eval_sampler", "_clip_grad_norm"):
        ours = list(inspect.signature(getattr(HeadstartTrainer, name)).parameters)
        assert ours == list(inspect.signature(getattr(Trainer, name)).parameters), name
