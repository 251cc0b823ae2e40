"""Giving freed heap memory back to the operating system during training (``ReleaseFreeMemory``)."""

import subprocess
import sys
import textwrap

import pytest

from headstart.training import callbacks
from headstart.training.callbacks import ReleaseFreeMemory, release_free_memory

glibc = pytest.mark.skipif(callbacks._TRIM is None, reason="needs glibc's malloc_trim")


@glibc
def test_a_fragmented_heap_is_given_back():
    """Tensors freed in the middle of the heap stay resident until trimmed (run in a fresh process)."""
    probe = textwrap.dedent(
        """
        import torch
        from headstart.training.callbacks import release_free_memory

        def rss():
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * 4096 / 2**20

        tensors = [torch.ones(16 * 1024) for _ in range(4000)]  # 64 KB each: from the heap, not mmap
        kept = tensors[::10]  # every tenth stays alive, so the freed ones cannot leave from the top
        del tensors
        before = rss()
        assert release_free_memory()
        print(before - rss(), len(kept))
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) > 100, f"only {out[0]} MB of the ~225 MB freed came back"


def test_the_callback_trims_every_n_steps_and_after_evaluation(monkeypatch):
    calls = []
    monkeypatch.setattr(callbacks, "_TRIM", lambda pad: calls.append(pad))
    callback = ReleaseFreeMemory(steps=4)

    class State:
        global_step = 0

    state = State()
    for step in range(1, 13):
        state.global_step = step
        callback.on_step_end(None, state, None)
    assert calls == [0, 0, 0], "steps 4, 8 and 12"
    callback.on_evaluate(None, state, None)
    assert len(calls) == 4
    monkeypatch.setattr(callbacks, "_TRIM", None)
    assert release_free_memory() is False, "without glibc there is nothing to ask"


@pytest.mark.parametrize("steps", [1, 0])
def test_training_releases_memory_unless_told_not_to(steps, monkeypatch, tiny_model_dir, tmp_path):
    from headstart import train
    from tests_support import SENTIMENT, tiny_run_config

    calls = []
    monkeypatch.setattr(callbacks, "_TRIM", lambda pad: calls.append(pad))
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["train"]["release_memory_steps"] = steps
    train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert (len(calls) > 1) if steps else not calls


def test_a_negative_interval_is_refused():
    from headstart.config import RunConfig
    from headstart.errors import ConfigError

    cfg = RunConfig()
    cfg.train.release_memory_steps = -1
    with pytest.raises(ConfigError, match="train.release_memory_steps must be >= 0, found -1"):
        cfg.validate()
