"""How training uses glibc's heap: freed blocks kept for the next step (``keep_freed_memory``) and
free pages given back to the operating system (``ReleaseFreeMemory``)."""

import subprocess
import sys
import textwrap

import pytest

from headstart.training import callbacks
from headstart.training.callbacks import ReleaseFreeMemory, keep_freed_memory, release_free_memory

glibc = pytest.mark.skipif(callbacks._TRIM is None, reason="needs glibc's malloc_trim")
glibc_mallopt = pytest.mark.skipif(callbacks._MALLOPT is None, reason="needs glibc's mallopt")

# Minor page faults of reallocating an embedding-gradient-sized tensor (47 MB) five times once the
# heap has settled (the first rounds may still find a freed block split by small allocations).
_REFAULTS = """
import resource, sys
import torch
from headstart.training.callbacks import keep_freed_memory

if sys.argv[1] == "keep":
    assert keep_freed_memory()
for _ in range(3):  # allocated, filled, freed
    torch.zeros(30522, 384)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.zeros(30522, 384)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@glibc_mallopt
@pytest.mark.slow
def test_a_freed_large_block_is_reused_without_page_faults():
    def faults(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", _REFAULTS, mode], capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])

    assert faults("default") > 25000, "glibc's default maps each 47 MB block afresh: ~11,500 pages each"
    assert faults("keep") < 2000, "kept in the heap, the same pages serve the next allocations"


def test_training_keeps_freed_memory_unless_told_not_to(monkeypatch, tiny_model_dir, tmp_path):
    from headstart import train
    from tests_support import SENTIMENT, tiny_run_config

    calls = []
    monkeypatch.setattr(callbacks, "_MALLOPT", lambda option, value: calls.append((option, value)) or 1)
    for keep in (True, False):
        cfg = tiny_run_config(tiny_model_dir, tmp_path / f"out-{keep}", num_train_epochs=1)
        cfg["speed"]["keep_freed_memory"] = keep
        train(cfg, train=SENTIMENT, validation=SENTIMENT)
        assert bool(calls) is keep
        calls.clear()
    assert keep_freed_memory() and calls == [(-3, 1 << 30), (-1, 1 << 30)], "mmap threshold, then trim threshold"
    monkeypatch.setattr(callbacks, "_MALLOPT", None)
    assert keep_freed_memory() is False, "without glibc there is nothing to ask"


@glibc
@pytest.mark.slow
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


def test_the_callback_trims_where_the_heap_grows(monkeypatch):
    trims, resident = [], iter([100, 150, 400, 390, 700, 800, 2000, 300]).__next__  # MB, one read per call
    monkeypatch.setattr(callbacks, "_TRIM", lambda pad: trims.append(pad))
    monkeypatch.setattr(callbacks, "resident_bytes", lambda: resident() * 2**20)
    callback = ReleaseFreeMemory(steps=0, growth_mb=256)  # base: 100 MB

    class State:
        global_step = 1

    callback.on_step_end(None, State(), None)  # 150: +50
    assert not trims
    callback.on_step_end(None, State(), None)  # 400: +300, trimmed; the new base is read: 390
    assert len(trims) == 1
    callback.on_step_end(None, State(), None)  # 700: +310 over 390, trimmed; base 800
    assert len(trims) == 2
    callback.on_step_end(None, State(), None)  # 2000: +1200 over 800, trimmed; base 300
    assert len(trims) == 3
    monkeypatch.setattr(callbacks, "resident_bytes", lambda: 5 * 2**20)
    callback.on_train_begin(None, State(), None)  # growth counts from the start of training
    assert callback.base == 5 * 2**20
    monkeypatch.setattr(callbacks, "resident_bytes", lambda: None)  # no /proc: only the interval
    quiet = ReleaseFreeMemory(steps=0, growth_mb=1)
    quiet.on_step_end(None, State(), None)
    assert len(trims) == 3


def test_resident_size_is_read():
    size = callbacks.resident_bytes()
    assert size is None or size > 10 * 2**20  # a Python process with torch loaded


@pytest.mark.parametrize("steps", [1, 0])
def test_training_releases_memory_unless_told_not_to(steps, monkeypatch, tiny_model_dir, tmp_path):
    from headstart import train
    from tests_support import SENTIMENT, tiny_run_config

    calls = []
    monkeypatch.setattr(callbacks, "_TRIM", lambda pad: calls.append(pad))
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["speed"]["release_memory_steps"] = steps
    cfg["speed"]["release_memory_growth_mb"] = 0
    train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert (len(calls) > 1) if steps else not calls


def test_growth_alone_still_releases_before_scoring(monkeypatch, tiny_model_dir, tmp_path):
    from headstart import train
    from tests_support import SENTIMENT, tiny_run_config

    calls = []
    monkeypatch.setattr(callbacks, "_TRIM", lambda pad: calls.append(pad))
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["speed"]["release_memory_steps"] = 0  # the tiny model never grows the heap by 512 MB
    train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert calls, "after training, before the final scoring"


def test_a_negative_interval_is_refused():
    from headstart.config import RunConfig
    from headstart.errors import ConfigError

    cfg = RunConfig()
    cfg.speed.release_memory_steps = -1
    cfg.speed.release_memory_growth_mb = -5
    with pytest.raises(ConfigError, match="speed.release_memory_steps must be >= 0, found -1") as raised:
        cfg.validate()
    assert "speed.release_memory_growth_mb must be >= 0, found -5" in str(raised.value)
