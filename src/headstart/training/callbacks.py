"""Trainer callbacks of our own: a checkpoint schedule between evaluations, and how a training
process uses glibc's heap (keeping freed blocks for the next step, giving them back every N steps)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from headstart.training.resume import ALL_RANKS_SAVED


class CheckpointSchedule(TrainerCallback):
    """Ask the Trainer for a resumable checkpoint every ``steps`` steps or ``minutes`` minutes.

    Checkpoints otherwise follow evaluations (once per epoch by default); on a long epoch a crash
    would lose all of it. The Trainer's own rotation (``save_total_limit``) still keeps the best.
    """

    def __init__(self, steps: int | None = None, minutes: float = 0.0) -> None:
        self.steps = steps
        self.seconds = minutes * 60
        self.last = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        due_by_steps = bool(self.steps) and state.global_step % self.steps == 0
        due_by_time = self.seconds > 0 and _everyone_follows_rank_0(
            time.monotonic() - self.last >= self.seconds, args.device
        )
        if due_by_steps or due_by_time:
            control.should_save = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Mark a distributed checkpoint complete once every rank has written its part (each
        writes its own RNG state; rank 0 the rest): a job restarted after a lost worker resumes
        only from a marked one."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.barrier()
            if dist.get_rank() == 0:
                folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
                if folder.is_dir():
                    (folder / ALL_RANKS_SAVED).write_text(str(dist.get_world_size()), encoding="utf-8")
        self.last = time.monotonic()
        return control


def _everyone_follows_rank_0(decision: bool, device: Any) -> bool:
    """Rank 0's decision on every rank of a distributed run (the decision itself where there is
    none). Each rank's clock crosses a time limit at its own step; a checkpoint that some ranks
    write and others do not pairs the Trainer's barrier in saving with another collective, and
    the run hangs. One flag is broadcast per step, a fraction of a millisecond on gloo."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return decision
    flag = torch.tensor([int(decision)], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def _libc(name: str) -> Any:
    """glibc's function ``name``, or None where the C library has none (musl, macOS, Windows)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    return None


_TRIM = _libc("malloc_trim")
_MALLOPT = _libc("mallopt")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
# Blocks up to this size come from the heap and stay there when freed (a 30k-word vocabulary's
# embedding gradient is 47 MB at 384 wide, 94 MB at 768; a 49k-word decoder's at 576, 113 MB).
KEEP_BLOCKS_UP_TO = 1 << 30


def keep_freed_memory() -> bool:
    """Have glibc keep freed blocks of up to ``KEEP_BLOCKS_UP_TO`` in the heap for reuse rather
    than unmapping them; whether there was a glibc that took it.

    Why: glibc serves a block over its mmap threshold (at most 32 MB) with a fresh mapping and
    unmaps it on free, and returns the heap's free top to the system once it passes the trim
    threshold. A training step frees and reallocates the same large buffers every step (above all
    the embedding gradient: its backward builds a dense vocabulary x width tensor), so every step
    page-faulted them in again (tens of thousands of faults a step for minilm; none with this).
    ``ReleaseFreeMemory`` still gives free pages back every N steps, which bounds the resident size.
    The setting is process-wide and stays after training (glibc cannot report the old values).
    """
    if _MALLOPT is None:
        return False
    return bool(_MALLOPT(_M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)) and bool(_MALLOPT(_M_TRIM_THRESHOLD, KEEP_BLOCKS_UP_TO))


def release_free_memory() -> bool:
    """Return the free pages inside glibc's heap to the operating system (``malloc_trim(0)``);
    whether there was a glibc to ask."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class ReleaseFreeMemory(TrainerCallback):
    """``release_free_memory()`` every ``steps`` training steps, after any step that leaves the
    process ``growth_mb`` more resident than after the last release, and after each evaluation.

    Why: torch's CPU tensors come from glibc malloc, and batches of ever-different lengths leave
    the heap fragmented: freed activations stay mapped, so the resident size of a training process
    climbs step after step although its live tensors do not. Trimming returns those pages. A fixed
    interval alone lets long batches climb between trims, and a shorter one costs time (the pages
    fault in again); the growth threshold trims where the heap grows, which short inputs seldom
    make it do. The measurements are on the docs' benchmarks page.
    """

    def __init__(self, steps: int = 16, growth_mb: int = 0) -> None:
        self.steps = steps
        self.growth = growth_mb * 2**20
        self.base = resident_bytes()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.base = resident_bytes()  # growth counts from here, not from the warm-up before training
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        due = bool(self.steps) and state.global_step % self.steps == 0
        if not due and self.growth:
            now = resident_bytes()
            due = now is not None and self.base is not None and now - self.base > self.growth
        if due:
            self._release()
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._release()
        return control

    def _release(self) -> None:
        release_free_memory()
        self.base = resident_bytes()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """This process's resident size (``/proc/self/statm``); None where there is no such file."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    return None
