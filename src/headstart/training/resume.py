"""Interrupted runs: one work directory per output, a lock on it, and the checkpoint to resume.

A run trains in ``.NAME.partial`` next to its output directory ``NAME`` and renames it into place
only when everything is saved, so a crash never leaves a directory that looks complete. The
work directory's name is stable, so after a crash (``kill -9``, a lost machine, Ctrl-C) the same
command finds it and continues from its last *complete* checkpoint — model, optimizer,
scheduler, RNG states and the position in the epoch's data order (see ``sampler.py``). A
checkpoint counts as complete once its ``trainer_state.json`` parses: the Trainer writes that
file last. ``run.json`` records what the run was started with, so a changed command is refused
instead of silently continuing a different run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headstart.artifacts import write_json
from headstart.errors import ConfigError, OutputExistsError

try:  # POSIX only; elsewhere two runs on one output directory are not detected
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
CHECKPOINTS = "checkpoints"
ALL_RANKS_SAVED = "all-ranks-saved"  # written by callbacks.CheckpointSchedule once every rank saved
# Settings that change how a run goes, not what it computes: a resumed run may differ in them.
VOLATILE = {
    ("train", "resume"),
    ("train", "overwrite_output_dir"),
    ("train", "disable_tqdm"),
    ("train", "dataloader_num_workers"),
    ("train", "report_to"),
    ("train", "save_minutes"),
    ("train", "ddp_timeout"),
    ("speed", "keep_freed_memory"),
}


@dataclass
class WorkDir:
    path: Path
    _lock: IO[str] | None = field(default=None, repr=False)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def last_checkpoint(self) -> Path | None:
        return last_complete_checkpoint(self.checkpoints)

    def strip(self) -> None:
        """Remove the run's bookkeeping before the directory becomes the saved model."""
        shutil.rmtree(self.checkpoints, ignore_errors=True)
        for name in (RUN_FILE, LOCK_FILE):
            (self.path / name).unlink(missing_ok=True)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None


def open_work_dir(out: Path, lock: bool = True) -> WorkDir:
    """The work directory of ``out``, created or reused, locked against a second concurrent run
    (``lock=False``: the other ranks of a distributed run, whose rank 0 holds the lock)."""
    out = out.resolve()  # checkpoints record absolute paths: a resume from another cwd still finds them
    path = out.parent / f".{out.name}.partial"
    path.mkdir(parents=True, exist_ok=True)
    return WorkDir(path, _lock(path, out) if lock else None)


def _lock(path: Path, out: Path) -> IO[str] | None:
    if fcntl is None:
        return None
    handle = (path / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise OutputExistsError(
            f"no other run writing to {out}",
            found=f"a run (pid {holder}) is training into it now ({path})",
            fix="wait for it to finish, or choose another --output_dir",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The highest-step ``checkpoint-N`` whose trainer state was fully written."""
    if not checkpoints.is_dir():
        return None
    found = []
    for child in checkpoints.iterdir():
        step = child.name.removeprefix("checkpoint-")
        if child.is_dir() and step.isdigit():
            found.append((int(step), child))
    for _, child in sorted(found, reverse=True):
        try:
            json.loads((child / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # killed while this checkpoint was being written
        if (child / "rng_state_0.pth").exists() and not (child / ALL_RANKS_SAVED).exists():
            continue  # a distributed run's: a rank was lost before writing its part
        return child
    return None


def run_identity(config: dict[str, Any], train_data: Any, labels: list[str]) -> dict[str, Any]:
    """What must match for a re-run to continue this run: settings, labels and the training data."""
    settings = {
        section: {k: v for k, v in values.items() if (section, k) not in VOLATILE} for section, values in config.items()
    }
    digest = hashlib.sha256()
    for column in ("input_ids", "labels"):
        if column in train_data.column_names:
            digest.update(json.dumps(list(train_data[column])).encode())
    return {"config": settings, "labels": labels, "train_examples": len(train_data), "train_sha256": digest.hexdigest()}


def resume_point(
    work: WorkDir,
    identity: dict[str, Any],
    required: bool,
    write: bool = True,
    defaults: dict[str, dict[str, Any]] | None = None,
    announce: bool = True,
) -> Path | None:
    """The checkpoint to continue from (None: start afresh); refuses a changed command.
    ``write=False`` (ranks other than 0) reads only: rank 0 cleans up and records the identity.
    ``defaults`` (the settings' default values) stand in for settings a run started by an older
    headstart did not record, so a new setting left at its default does not block resuming it."""
    last = work.last_checkpoint()
    saved_file = work.path / RUN_FILE
    if last is not None:
        try:
            saved = json.loads(saved_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if saved is not None and defaults:
            saved = _with_unrecorded_defaults(saved, defaults)
        if saved != identity:
            raise ConfigError(
                f"the settings and training data of the interrupted run in {work.path} to resume it",
                found="; ".join(_differences(saved or {}, identity)) or f"no readable {RUN_FILE}",
                fix=f"re-run it as it was started (settings in {saved_file}), or delete {work.path} to start over",
            )
        if announce:
            logger.warning("resuming the interrupted run from %s", last)
        return last
    if required:
        raise ConfigError(
            "an interrupted run to continue (--resume)",
            found=f"no complete checkpoint in {work.path}",
            fix="leave out --resume to start training afresh",
        )
    if write:
        shutil.rmtree(work.checkpoints, ignore_errors=True)  # incomplete leftovers: nothing to continue
        write_json(saved_file, identity)
    return None


def _with_unrecorded_defaults(saved: dict[str, Any], defaults: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``saved`` with the settings it lacks (added to headstart after the run started) at their defaults."""
    recorded = saved.get("config")
    if not isinstance(recorded, dict):
        return saved
    config = {}
    for section, values in recorded.items():
        if isinstance(values, dict) and isinstance(defaults.get(section), dict):
            unrecorded = {
                k: v for k, v in defaults[section].items() if k not in values and (section, k) not in VOLATILE
            }
            values = {**values, **unrecorded}
        config[section] = values
    return {**saved, "config": config}


def _differences(before: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(before) | set(now)):
        a, b = before.get(key), now.get(key)
        if key not in before or key not in now:
            shown = "not recorded then" if key not in before else "recorded then, unknown now"
            out.append(f"{prefix}{key}: {shown}")
        elif isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            shown = "changed" if key == "train_sha256" else f"{a!r} then, {b!r} now"
            out.append(f"{prefix}{key}: {shown}")
    return out
