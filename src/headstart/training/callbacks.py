"""Trainer callbacks of our own: a checkpoint schedule between evaluations."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback


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
        due_by_time = self.seconds > 0 and time.monotonic() - self.last >= self.seconds
        if due_by_steps or due_by_time:
            control.should_save = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.last = time.monotonic()
        return control
