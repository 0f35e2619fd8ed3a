"""Segmenter training on several processes or machines: PyTorch DistributedDataParallel, started
by ``torchrun``.

``radiomark train … --nproc-per-node M [--nnodes N --rdzv-endpoint HOST:PORT]`` re-launches itself
under ``torchrun`` (:func:`launch`); each process then trains on its share of every epoch's
batches (a ``DistributedSampler``; each takes ``batch_size / processes`` samples, so the effective
batch is the recipe's) and DDP averages the gradients, so every process holds the same weights
after every step. Gloo on CPUs, NCCL where every process has a GPU. Only the first process writes
(checkpoints, history, metrics); at the end the processes compare their weights and
``metrics.json`` records ``distributed: {world_size, ranks_identical}``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from radiomark.errors import InputError


def world_size() -> int:
    """Processes training together (``WORLD_SIZE`` set by torchrun; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's number among them (0: the one that writes)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


@contextmanager
def process_group() -> Iterator[None]:
    """The process group of a torchrun launch for the duration of training (nothing on one process)."""
    import torch.distributed as dist

    if world_size() == 1 or dist.is_initialized():
        yield
        return
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` under DDP when several processes train (its weights start from process 0's)."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)


def ranks_identical(model: torch.nn.Module) -> bool:
    """Whether every process holds exactly the weights of process 0 (True on one process)."""
    if world_size() == 1:
        return True
    import torch.distributed as dist

    mine = torch.cat([p.detach().double().flatten() for p in model.state_dict().values() if p.is_floating_point()])
    first = mine.clone()
    dist.broadcast(first, src=0)
    same = torch.tensor([float(torch.equal(mine, first))], dtype=torch.float64)
    dist.all_reduce(same, op=dist.ReduceOp.MIN)
    return bool(same.item() == 1.0)


def launch(arguments: Sequence[str], nproc_per_node: int, nnodes: int = 1, rdzv_endpoint: str | None = None,
           node_rank: int | None = None) -> int:
    """Run ``radiomark ARGUMENTS`` under torchrun; returns its exit code. Several machines need the
    same ``rdzv_endpoint`` (HOST:PORT of one of them) on each."""
    if nproc_per_node < 1 or nnodes < 1:
        raise InputError(None, "--nproc-per-node and --nnodes must be at least 1")
    if nnodes > 1 and not rdzv_endpoint:
        raise InputError(None, "training on several machines needs --rdzv-endpoint HOST:PORT (the same on each)")
    command = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}",
               f"--nproc-per-node={nproc_per_node}"]
    if rdzv_endpoint:
        command += ["--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
    else:
        command += ["--standalone"]
    if node_rank is not None:
        command += [f"--node-rank={node_rank}"]
    return subprocess.call([*command, "-m", "radiomark", *arguments])


def shard(dataset: Any, seed: int) -> Any:
    """This process's share of ``dataset`` (shuffled with ``seed``); None on one process."""
    if world_size() == 1:
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed)
