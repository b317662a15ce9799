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
