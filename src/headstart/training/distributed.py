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


def rank() -> int:
    """This process's global rank (0 when not launched by torchrun/accelerate)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def leave() -> None:
    """Close the process group on every rank, together, once training is done (rank 0 then
    evaluates and saves alone). A rank that exited with the group open aborted ("terminate called
    without an active exception"), and one that left it while another was still in the Trainer's
    last collective hung that one (1 run in 3): so all meet at a barrier first."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
