"""Multi-process data-parallel proxy training (``torchrun`` + ``torch.distributed``).

Under ``torchrun`` every process sees ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``. Each rank trains on its own parameter stream (sampler seed
:func:`rank_seed`), gradients are averaged by ``DistributedDataParallel``, so
the effective batch is ``batch * world_size``. Rank 0 keeps exactly the
single-process data stream and alone writes logs, checkpoints and weights.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
from torch import nn

# Rank r > 0 draws from seed + r * RANK_SEED_STRIDE; never equal to the validation offset (1_000_003).
RANK_SEED_STRIDE = 2_000_029


@dataclass(frozen=True)
class DistContext:
    """This process's place in a (possibly single-process) training job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_context(env: Mapping[str, str] | None = None) -> DistContext:
    """Rank, world size and local rank from the ``torchrun`` environment (single process when unset)."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise ValueError(f"bad torchrun environment (WORLD_SIZE/RANK/LOCAL_RANK): {err}") from None
    if world <= 1:
        return DistContext()
    if not 0 <= rank < world or local < 0:
        raise ValueError(f"bad torchrun environment: RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={world}")
    return DistContext(rank=rank, world_size=world, local_rank=local)


def rank_seed(seed: int, rank: int) -> int:
    """Sampler seed of ``rank``: rank 0 keeps ``seed`` (the single-process stream)."""
    return seed if rank == 0 else seed + RANK_SEED_STRIDE * rank


def rank_device(device: str, ctx: DistContext) -> str:
    """``cuda:LOCAL_RANK`` for a CUDA device in a multi-process job, else ``device`` unchanged."""
    if ctx.enabled and str(device).startswith("cuda"):
        return f"cuda:{ctx.local_rank}"
    return str(device)


def backend_for(device: str) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if str(device).startswith("cuda") else "gloo"


@contextmanager
def process_group(ctx: DistContext, device: str) -> Iterator[None]:
    """Initialise the default process group for ``ctx`` (if needed) and destroy it on exit.

    A group that already exists is used as is and left alone.
    """
    import torch.distributed as dist

    owned = ctx.enabled and not dist.is_initialized()
    if owned:
        if str(device).startswith("cuda"):
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(backend_for(device), rank=ctx.rank, world_size=ctx.world_size)
    try:
        yield
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if ctx.enabled:
        import torch.distributed as dist

        dist.barrier()


def gather_tensor(t: torch.Tensor, ctx: DistContext, device: str) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped CPU tensor, indexed by rank (``[t]`` in a single process)."""
    if not ctx.enabled:
        return [t]
    import torch.distributed as dist

    comm = t.to(device if backend_for(device) == "nccl" else "cpu")
    out = [torch.empty_like(comm) for _ in range(ctx.world_size)]
    dist.all_gather(out, comm)
    return [o.cpu() for o in out]


class RawForward(nn.Module):
    """Adapter whose ``forward`` is ``net.forward_raw`` (so DDP sees the training forward)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.net.forward_raw(p)


def wrap_ddp(module: nn.Module, device: str) -> nn.Module:
    """``module`` in ``DistributedDataParallel`` (parameters are shared, not copied)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if str(device).startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=ids)
