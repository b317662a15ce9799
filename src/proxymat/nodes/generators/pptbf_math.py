"""Small PPTBF distance helpers shared by the window evaluation (:mod:`.pptbf_windows`) and its
autograd variants (:mod:`.pptbf_graph`)."""

from __future__ import annotations

import torch

NULL_PRIORITY = -2.0


def root(x: torch.Tensor, power: float | torch.Tensor = 0.5) -> torch.Tensor:
    """``x ** power`` of x >= 0 (square root by default); with a graph, the same values and gradient 0
    instead of NaN at x = 0 (where the power's derivative is infinite)."""
    if not (x.requires_grad or isinstance(power, torch.Tensor) and power.requires_grad):
        return torch.sqrt(x) if isinstance(power, float) and power == 0.5 else x.pow(power)
    pos = x > 0
    safe = torch.where(pos, x, torch.ones_like(x))
    return torch.where(pos, safe.sqrt() if isinstance(power, float) and power == 0.5 else safe.pow(power),
                       torch.zeros_like(x))


def lp_distance(dx: torch.Tensor, dy: torch.Tensor, norm: float | torch.Tensor) -> torch.Tensor:
    """Lp length of (dx, dy); above p = 2 it blends linearly towards L-infinity (p = 3 is L-inf)."""
    if norm == 2.0:
        return root(dx * dx + dy * dy)
    ax, ay = dx.abs(), dy.abs()
    if norm == 1.0:
        return ax + ay
    if norm >= 3.0:
        return torch.maximum(ax, ay)
    d = root(ax.pow(norm) + ay.pow(norm), 1.0 / norm)
    if norm > 2.0:
        d = (norm - 2.0) * torch.maximum(ax, ay) + (3.0 - norm) * d
    return d


def side_max(z: torch.Tensor, ib_pos: torch.Tensor, ib_neg: torch.Tensor) -> torch.Tensor:
    """|z| / b where b is the border distance on z's side, given 1/b+ and -1/b- (no branches)."""
    return torch.maximum(z * ib_pos, z * ib_neg)


def larp_start(q: torch.Tensor, ibj: torch.Tensor, ib0: torch.Tensor, ux: torch.Tensor, uy: torch.Tensor,
               larp: float | torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The set-up of the Newton search of :func:`~.pptbf_windows.larp_radius` (and its graph variant):
    ``(ux, uy, kappa, qx, qy, px, nx, py, ny, s0)`` with the ray broadcast over competitors, the slope
    ``kappa`` of the distance to p0 along the ray, the competitors' offsets and signed inverse border
    distances, and the start ``s0 = 0``."""
    ux, uy = ux[..., None], uy[..., None]  # broadcast over competitors
    kappa = (1.0 - larp) + larp * torch.maximum(
        side_max(ux, ib0[..., None, 0], ib0[..., None, 1]), side_max(uy, ib0[..., None, 2], ib0[..., None, 3])
    )
    qx, qy = q[..., 0], q[..., 1]
    px, nx, py, ny = ibj.unbind(-1)
    s = torch.zeros(torch.broadcast_shapes(qx.shape, ux.shape), dtype=q.dtype)
    return ux, uy, kappa, qx, qy, px, nx, py, ny, s
