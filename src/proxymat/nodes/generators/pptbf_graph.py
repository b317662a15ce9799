"""PPTBF helpers with a graph: the border radii of larp > 0 and the kernel sums, written without
in-place arithmetic so that autograd can differentiate them (the same values as their in-place
counterparts in :mod:`.pptbf_windows`, which call these when a gradient is needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .pptbf_math import NULL_PRIORITY, larp_start, lp_distance, root

if TYPE_CHECKING:
    from .pptbf_windows import FeatureParams


def larp_radius_graph(q: torch.Tensor, ibj: torch.Tensor, ib0: torch.Tensor, ux: torch.Tensor, uy: torch.Tensor,
                       larp: float | torch.Tensor, iters: int) -> torch.Tensor:
    """:func:`~.pptbf_windows.larp_radius` without in-place operations, for autograd."""
    ux, uy, kappa, qx, qy, px, nx, py, ny, s = larp_start(q, ibj, ib0, ux, uy, larp)
    for _ in range(iters):
        zx, zy = s * ux - qx, s * uy - qy
        zn = root(torch.addcmul(zx * zx, zy, zy)).clamp(min=1e-12)
        selx = torch.lerp(nx, px, (zx > 0).to(s.dtype))
        sely = torch.lerp(ny, py, (zy > 0).to(s.dtype))
        ex, ey = zx * selx, zy * sely
        xdom = (ex >= ey).to(s.dtype)
        g = torch.maximum(ex, ey) * larp + zn * (1.0 - larp) - kappa * s
        slope = torch.lerp(uy * sely, ux * selx, xdom) * larp
        dg = (torch.addcmul(zx * ux, zy, uy) / zn * (1.0 - larp) + slope - kappa).clamp(max=-1e-9)
        s = torch.maximum(s, s - g / dg).clamp(max=1e6)
    return s.amin(-1)


def eval_kernels_graph(kt: torch.Tensor, cell: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                fp: FeatureParams) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`~.pptbf_windows.eval_kernels` without in-place operations or pair compaction, for autograd (same values:
    absent kernels add 0, or lose every priority test)."""
    acc = torch.zeros_like(x)
    best = torch.full_like(x, NULL_PRIORITY) if fp.mixture == 3 else None
    power = 1.0 / (fp.thickness + 1e-4)
    for i in range(fp.n_max):
        g = kt[i].index_select(1, cell)
        ddx = torch.addcmul(g[4], g[0], x) + g[1] * y
        ddy = torch.addcmul(g[5], g[2], x) + g[3] * y
        ff = None
        if fp.frequency > 0:
            k2 = fp.curvature * fp.curvature
            arg = ddy.abs() if k2 == 0.0 else root(torch.addcmul(ddy * ddy, ddx, ddx, value=k2))
            ff = ((arg * g[7]).cos() * 0.5 + 0.5).clamp(min=0.0)
            if abs(power - 1.0) >= 1e-3:
                ff = ff * ff if abs(power - 2.0) < 1e-3 else ff.pow(power)
        dist = lp_distance(ddx, ddy, fp.norm)
        if fp.mixture == 3:
            prio = g[6]
            take = (dist < 1.0) & (prio > best)
            env = (-dist).exp()
            if ff is not None:
                take = take & (ff > 0.5)
                env = env * ((ff - 0.5) * 2.0)
            tf = take.to(x.dtype)
            best = torch.lerp(best, prio, tf)
            acc = torch.lerp(acc, env, tf)
            continue
        val = (-dist).exp() * g[6]
        if ff is not None:
            val = val * ff
        acc = torch.maximum(acc, val) if fp.mixture == 4 else acc + val
    return acc, best
