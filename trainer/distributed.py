"""DDP through torchrun's environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

Without those variables training runs in one process. Every rank evaluates the whole (small) validation
set itself, so early-stopping decisions agree without communication; only rank 0 writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group when torchrun's variables are set (nccl on CUDA, gloo otherwise)."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return DistInfo()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    log.info("distributed: rank %d of %d (%s)", rank, world, backend)
    return DistInfo(rank, world, local, True)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def shard_indices(n: int, epoch: int, seed: int, info: DistInfo) -> torch.Tensor:
    """This rank's shuffled share of ``range(n)`` (padded to equal shares, as DistributedSampler does)."""
    g = torch.Generator().manual_seed(seed + epoch)
    perm = torch.randperm(n, generator=g)
    per_rank = -(-n // info.world_size)
    if per_rank * info.world_size > n:
        perm = torch.cat([perm, perm[: per_rank * info.world_size - n]])
    return perm[info.rank :: info.world_size]
