"""Private helpers for the lattice generators (cells, noise, bricks, arc pavement).

* pixel-centre coordinates and per-item integer lattices (cell index + fraction),
  kept separable as ``(B, 1, W)`` / ``(B, H, 1)`` tensors until they must meet;
* periodic lattice tables: hashed per-cell values computed once on the small
  ``(N, N)`` lattice and gathered per pixel with one flat ``take``;
* batch splitting: by equal values of discrete parameters (enums that pick a
  code path) and into chunks that bound memory.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from .hashing import uniform

Params = Mapping[str, torch.Tensor]

MAX_PIXELS = 1 << 18  # pixels per evaluated chunk: ~16 MB per float32 map


def pixel_centers(res: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """UV coordinates ``(k + 0.5) / res`` of the pixel centres, shape (res,)."""
    return (torch.arange(res, device=device, dtype=torch.float32) + 0.5) / res


def lattice_coords(n: torch.Tensor, res: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer cell index and fraction for a lattice of ``n`` (B,) cells per side.

    Returns ``(ix, fx, iy, fy)``: ``ix``/``fx`` of shape (B, 1, W) for columns,
    ``iy``/``fy`` of shape (B, H, 1) for rows; ``ix`` is int64 in [0, n).
    """
    uv = pixel_centers(res, n.device)
    g = uv[None, :] * n[:, None].to(torch.float32)  # (B, res)
    idx = torch.floor(g)
    frac = g - idx
    idx = idx.to(torch.int64)
    return idx[:, None, :], frac[:, None, :], idx[:, :, None], frac[:, :, None]


def wrap(idx: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """``idx mod n`` with ``n`` (B,) broadcast over the trailing dims of ``idx``."""
    shape = (-1,) + (1,) * (idx.dim() - 1)
    return torch.remainder(idx, n.to(torch.int64).reshape(shape))


def cell_table(size: int, seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Uniform [0, 1) values of lattice cells, shape (size, size) indexed [cy, cx].

    Keyed by (cx, cy, seed, stream) only, so a cell keeps its value whatever the
    lattice size or batch.
    """
    r = torch.arange(size, device=device, dtype=torch.int64)
    return uniform(r[None, :], r[:, None], seed, stream)


def flat_index(ix: torch.Tensor, iy: torch.Tensor, n: torch.Tensor, size: int) -> torch.Tensor:
    """Flat index into a batched ``(B, size, size)`` table of the wrapped cell (ix, iy).

    ``ix`` (B, 1, W) and ``iy`` (B, H, 1) may lie outside [0, n); the result is
    (B, H, W) int64.
    """
    batch = n.shape[0]
    base = (torch.arange(batch, device=n.device, dtype=torch.int64) * (size * size)).reshape(batch, 1, 1)
    return (base + wrap(iy, n) * size) + wrap(ix, n)


def batch_table(table: torch.Tensor, batch: int) -> torch.Tensor:
    """Flatten a per-item ``(B, size, size)`` table, or repeat a shared ``(size, size)`` one."""
    if table.dim() == 2:
        table = table.expand(batch, -1, -1)
    return table.reshape(-1)


def fade(t: torch.Tensor) -> torch.Tensor:
    """Quintic fade 6t^5 - 15t^4 + 10t^3 (C2 at the lattice)."""
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def smoothstep(t: torch.Tensor) -> torch.Tensor:
    """Cubic 3t^2 - 2t^3 of ``t`` clamped to [0, 1]."""
    t = t.clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def select(params: Params, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sub-batch of every parameter tensor."""
    return {k: v[index] for k, v in params.items()}


def evaluate_batched(
    params: Params,
    res: int,
    fn: Callable[[Params, tuple[int, ...]], torch.Tensor],
    group_by: Sequence[str] = (),
) -> torch.Tensor:
    """Evaluate ``fn(sub_params, key)`` per group of equal ``group_by`` values, in memory-bounded chunks.

    ``key`` holds the (integer) values of the ``group_by`` parameters of the
    group; ``fn`` returns (b, 1, res, res). Results are reassembled in batch order.
    """
    first = next(iter(params.values()))
    batch, device = int(first.shape[0]), first.device
    out = torch.empty(batch, 1, res, res, device=device, dtype=torch.float32)
    chunk = max(1, MAX_PIXELS // (res * res))
    if group_by:
        keys = torch.stack([params[k].round().to(torch.int64) for k in group_by], dim=1)
        groups = torch.unique(keys, dim=0)
    else:
        keys = torch.zeros(batch, 1, dtype=torch.int64, device=device)
        groups = keys[:1]
    for g in groups:
        members = torch.nonzero((keys == g).all(dim=1)).reshape(-1)
        key = tuple(int(v) for v in g.tolist()) if group_by else ()
        for start in range(0, members.shape[0], chunk):
            index = members[start:start + chunk]
            out[index] = fn(select(params, index), key)
    return out
