"""Data-parallel training on an existing launcher: ``torchrun`` or ``accelerate launch``.

The HF Trainer does the distributed work itself when the launcher's environment is set (RANK,
WORLD_SIZE, LOCAL_RANK; gloo on CPU, NCCL on GPU): each process trains on its shard, gradients
are averaged, checkpoints are written by the main process. What headstart adds is that only
rank 0 touches the output: the work directory's lock and run identity, the final evaluation, the
saved directory, the report and the log lines; the other ranks train and return.

    torchrun --nproc_per_node 2 -m headstart train --train train.csv -o runs/ddp
    accelerate launch --num_processes 2 -m headstart train --train train.csv -o runs/ddp
"""

from __future__ import annotations

import os


def show_stacks_on_signal() -> None:
    """``kill -USR1 PID`` prints every thread's stack to stderr and the process goes on: how a
    stalled rank (or any stuck headstart command) tells where it waits, without a debugger."""
    import faulthandler
    import signal
    import sys

    if not hasattr(signal, "SIGUSR1"):
        return
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True, chain=False)
    except (AttributeError, ValueError, OSError):  # no real stderr (a pythonw-style embedding)
        pass


def rank() -> int:
    """This process's global rank (0 when not launched by torchrun/accelerate)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def save_minutes(configured: float | None) -> float:
    """Minutes between time-based checkpoints: ``train.save_minutes``, or when null 30 in one
    process and 10 under a launcher (a restart after a lost worker repeats at most that much)."""
    from headstart.config import SAVE_MINUTES_ALONE, SAVE_MINUTES_LAUNCHED

    if configured is not None:
        return configured
    return SAVE_MINUTES_LAUNCHED if world_size() > 1 else SAVE_MINUTES_ALONE


def join(timeout_seconds: float) -> None:
    """Under a launcher on CPUs, open the gloo process group with ``train.ddp_timeout``, before the
    Trainer does. transformers passes its ``ddp_timeout`` to the group only on GPUs (with
    ``use_cpu`` it is dropped), so a stalled peer was waited on for gloo's default 30 minutes;
    accelerate then finds the group open and uses it."""
    import datetime

    import torch
    import torch.distributed as dist

    if world_size() < 2 or torch.cuda.is_available() or not dist.is_available() or dist.is_initialized():
        return
    timeout = datetime.timedelta(seconds=timeout_seconds)
    store = _attempt_store(timeout)
    if store is None:
        dist.init_process_group("gloo", timeout=timeout)
    else:
        dist.init_process_group("gloo", store=store, rank=rank(), world_size=world_size(), timeout=timeout)


def _attempt_store(timeout):
    """The rendezvous store of this attempt, when torchrun may restart the workers.

    torchrun's agent shares its store with the workers and keeps it across restarts, so a restarted
    worker could read a dead worker's gloo address from the attempt before and fail or wait on it
    (pytorch#135712). One node's workers all restart together and agree on the restart count, which
    then names a clean key space; across nodes the counts can differ, so there torch's own
    remedy is named instead."""
    import torch.distributed as dist

    if (
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        or os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0") == "0"
    ):
        return None
    if os.environ.get("GROUP_WORLD_SIZE", "1") != "1":
        if is_main():
            import logging

            logging.getLogger(__name__).warning(
                "torchrun --max-restarts on several nodes: start every node's torchrun with "
                "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1, or a restart may find the failed attempt's "
                "addresses (pytorch#135712)"
            )
        return None
    shared = dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size(), is_master=False, timeout=timeout
    )
    return dist.PrefixStore(f"headstart/attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", shared)


def leave(timeout_seconds: float = 600) -> None:
    """Close the process group on every rank, together, once training is done (rank 0 then
    evaluates and saves alone). A rank that exited with the group open aborted ("terminate called
    without an active exception"), and one that left it while another was still in the Trainer's
    last collective hung that one: so all meet at a barrier first. On gloo it is a monitored one,
    which names a rank that does not arrive within the timeout instead of waiting forever."""
    import datetime

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=timeout_seconds))
        else:
            dist.barrier()
        dist.destroy_process_group()


# What gloo and NCCL say when a peer is gone or silent past the timeout.
_LOST_PEER = (
    "timed out",
    "timeout",
    "monitoredbarrier",
    "connection closed by peer",
    "connection reset by peer",
    "broken pipe",
)


def collective_failure(exc: RuntimeError, timeout_seconds: float) -> BaseException:
    """A training error that means a rank could not reach the others, as a headstart error that
    says so; any other error unchanged."""
    from headstart.errors import DistributedError

    text = str(exc)
    if world_size() < 2 or not any(mark in text.lower() for mark in _LOST_PEER):
        return exc
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    return DistributedError(
        f"every rank of the run to reach each collective within train.ddp_timeout ({timeout_seconds:g} s)",
        found=f"rank {rank()} of {world_size()}: {first}",
        fix="a rank died or stalled (its log says which and why); if one legitimately works alone longer "
        "(saving to slow storage), raise train.ddp_timeout",
    )
