"""PPTBF window and feature functions, as pure tensor helpers.

* classic window: clamped Gaussian / triangle / box of an Lp distance;
* cellular window: ``1 - |x - p0| / border`` where the border of the closest
  cell is a polygon with ``2^arity`` sectors, optionally corner-cut or
  Bézier-smoothed; border radii come from a per-cell table (:func:`cell_radii`)
  computed in closed form (larp = 0) or by Newton iterations (larp > 0);
* feature kernels: per-cell tables of random stringed-Gabor kernels
  (:func:`kernel_tables`), evaluated per (pixel, cell) pair (:func:`eval_kernels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .hashing import signed, uniform
from .pptbf_math import NULL_PRIORITY, larp_start, lp_distance, root
from .pptbf_tilings import S_COUNT, S_KERNEL, CellTable, neighbour_cells

FOOTPRINTS = (1.5, 1.0, 1.0, 1.0)  # classic window support per shape


# --------------------------------------------------------------------------- distances & windows
def classic_window(d: torch.Tensor, shape: int, footprint: float) -> torch.Tensor:
    """Classic window of distance ``d``: 0/1 clamped Gaussian, 2 triangle, 3 box; in [0, 1]."""
    if shape in (0, 1):
        floor = math.exp(-2.0 * footprint)
        w = (torch.exp(-2.0 * d) - floor) / (1.0 - floor)
    elif shape == 2:
        w = 1.0 - d / footprint
    else:
        w = (d <= footprint).to(d.dtype)
    return w.clamp(0.0, 1.0)


def cellular_weight(cv: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Map the cellular value cv in [0, 1] to (e^{(cv-1) sigma} - e^{-sigma}) / (1 - e^{-sigma})."""
    floor = torch.exp(-sigma) if isinstance(sigma, torch.Tensor) else math.exp(-sigma)
    return (torch.exp((cv - 1.0) * sigma) - floor) / (1.0 - floor)


# --------------------------------------------------------------------------- cell border radii
def _cross(ax: torch.Tensor, ay: torch.Tensor, bx: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    return ax * by - ay * bx


def voronoi_radius(qx: torch.Tensor, qy: torch.Tensor, ux: torch.Tensor, uy: torch.Tensor) -> torch.Tensor:
    """Euclidean Voronoi border distance from p0 along unit ``u`` given neighbours ``q = p_j - p0``.

    ``r = min_j |q_j|^2 / (2 q_j . u)`` over neighbours in front (q_j . u > 0); the
    last dimension of ``q`` enumerates neighbours (use inf for absent ones).
    """
    qu = (qx * ux + qy * uy).clamp_(min=1e-9)  # neighbours behind: a crossing "at infinity"
    return ((qx * qx + qy * qy) / (2.0 * qu)).amin(-1)


def larp_radius(
    q: torch.Tensor,
    ibj: torch.Tensor,
    ib0: torch.Tensor,
    ux: torch.Tensor,
    uy: torch.Tensor,
    larp: float | torch.Tensor,
    iters: int = 5,
) -> torch.Tensor:
    """Border distance along ``u`` under the ordering distance with norm 2 and ``larp`` > 0.

    ``dist(y, p) = (1 - larp) |y - p| + larp max(e_x, e_y)`` with e_x = |y - p|_x over
    the distance from p to its cell border on y's side. ``q`` (…, C, 2) holds the
    competitors relative to p0; ``ibj`` (…, C, 4) and ``ib0`` (…, 4) the reciprocal
    border distances (1/b+x, -1/b-x, 1/b+y, -1/b-y) of the competitors and of p0.
    Along the ray the distance to p0 is linear in s (slope kappa), so each
    competitor's first crossing is the first root of the convex function
    g(s) = dist(p0 + s u, p_j) - kappa s, found by Newton's method from s = 0
    (monotone, never overshoots; no root: s runs off to 1e6); the radius is the
    smallest crossing. A tensor ``larp`` (or competitors that carry a gradient) keeps the graph
    through the iterations (out-of-place arithmetic, same values).
    """
    if isinstance(larp, torch.Tensor) or q.requires_grad or ibj.requires_grad:
        from .pptbf_graph import larp_radius_graph

        return larp_radius_graph(q, ibj, ib0, ux, uy, larp, iters)
    ux, uy, kappa, qx, qy, px, nx, py, ny, s = larp_start(q, ibj, ib0, ux, uy, larp)
    for _ in range(iters):
        zx, zy = (s * ux).sub_(qx), (s * uy).sub_(qy)  # y - p_j
        zn = (zx * zx).addcmul_(zy, zy).sqrt_().clamp_(min=1e-12)
        selx = torch.lerp(nx, px, (zx > 0).to(s.dtype))  # 1 / border distance on z's side (signed)
        sely = torch.lerp(ny, py, (zy > 0).to(s.dtype))
        ex, ey = zx * selx, zy * sely
        xdom = (ex >= ey).to(s.dtype)
        g = torch.maximum(ex, ey).mul_(larp).add_(zn, alpha=1.0 - larp).sub_(kappa * s)
        slope = torch.lerp(uy * sely, ux * selx, xdom).mul_(larp)
        dg = (zx * ux).addcmul_(zy, uy).div_(zn).mul_(1.0 - larp).add_(slope).sub_(kappa)
        s = torch.maximum(s, s - g / dg.clamp_(max=-1e-9)).clamp_(max=1e6)
    return s.amin(-1)


def cell_radii(
    table: CellTable, nbrs: torch.Tensor, larp: float, n_angles: int, rot: torch.Tensor, max_competitors: int = 16
) -> torch.Tensor:
    """Border radii (N, n_angles) of every cell at angles ``rot + a 2 pi / n_angles``.

    Competitors are the cells of the tile's neighbour block (``nbrs``, see
    :func:`~.pptbf_tilings.tile_neighbours`), pruned to the nearest ones.
    Radii are capped at 4 times the cell's largest half-size.
    """
    cells, ok, off = neighbour_cells(table, nbrs)  # (T, C) per tile
    s = table.slots
    vid = table.valid.nonzero()[:, 0]  # only valid cells need radii
    tile, c = vid // s, cells.shape[1]
    q = table.point[cells[tile]] + off[tile] - table.point[vid, None]  # (V, C, 2)
    own = (torch.arange(c)[None, :] == (vid % s)[:, None]) | ~ok[tile]  # the cell itself, absent cells
    d2 = (q * q).sum(-1).masked_fill(own, float("inf"))
    comp = cells[tile]
    if c > max_competitors:
        d2, idx = torch.topk(d2, max_competitors, dim=-1, largest=False)
        q = torch.gather(q, 1, idx[..., None].expand(-1, -1, 2))
        comp = torch.gather(comp, 1, idx)
    q = q.masked_fill(~torch.isfinite(d2)[..., None], 1e6)[:, None]  # (V, 1, C, 2)
    angle = rot[vid, None] + torch.arange(n_angles) * (2.0 * math.pi / n_angles)  # (V, A)
    ux, uy = torch.cos(angle), torch.sin(angle)
    if larp <= 0.0:
        r = voronoi_radius(q[..., 0], q[..., 1], ux[..., None], uy[..., None])
    else:
        inv = inverse_borders(table)
        r = larp_radius(q, inv[comp][:, None], inv[vid, None], ux, uy, larp)
    out = torch.ones(table.size, n_angles)
    out[vid] = torch.minimum(r, 4.0 * table.half[vid].amax(-1, keepdim=True))
    return out


def inverse_borders(table: CellTable) -> torch.Tensor:
    """(N, 4) reciprocal distances from each point to its cell border: (1/b+x, -1/b-x, 1/b+y, -1/b-y).

    With these, |z| / b_side(z) = max(z * t0, z * t1) needs no branch.
    """
    lo = table.centre - table.half
    hi = table.centre + table.half
    p = table.point
    d = torch.stack([hi[:, 0] - p[:, 0], p[:, 0] - lo[:, 0], hi[:, 1] - p[:, 1], p[:, 1] - lo[:, 1]], -1)
    return 1.0 / d.clamp(min=1e-6) * torch.tensor([1.0, -1.0, 1.0, -1.0])


# --------------------------------------------------------------------------- cellular value
def sector_of(rx: torch.Tensor, ry: torch.Tensor, rot: torch.Tensor, n_sectors: int) -> torch.Tensor:
    """Index (int64) of the sector ``[rot + k da, rot + (k+1) da)`` holding direction (rx, ry)."""
    da = 2.0 * math.pi / n_sectors
    pa = torch.remainder(torch.atan2(ry, rx) - rot, 2.0 * math.pi)
    return torch.floor(pa / da).to(torch.int64).clamp(0, n_sectors - 1)


Point = tuple[torch.Tensor, torch.Tensor]


def _ray_hit(ux: torch.Tensor, uy: torch.Tensor, s: Point, e: Point) -> torch.Tensor:
    """Distance along the unit ray (origin, u) to the line through s and e (inf if parallel/behind)."""
    ex, ey = e[0] - s[0], e[1] - s[1]
    den = _cross(ux, uy, ex, ey)
    lam = _cross(s[0], s[1], ex, ey) / den
    return torch.where((den.abs() > 1e-12) & (lam > 0), lam, torch.full_like(lam, float("inf")))


def polygon_value(
    rx: torch.Tensor,
    ry: torch.Tensor,
    verts: tuple[Point, ...],
    upper: torch.Tensor,
    smooth: float,
) -> torch.Tensor:
    """Cellular value 1 - d / border of the point r = x - p0 inside a polygonal cell.

    ``verts`` = (V_{k-1}, V_k, V_{k+1}, V_{k+2}) relative to p0, the pixel lying in
    the sector [V_k, V_{k+1}]; ``upper`` says it lies beyond the ray through the
    midpoint of that edge (then the corner V_{k+1} is smoothed, else V_k).
    ``smooth`` 0: polygon; 1: corners cut at edge midpoints; 2: quadratic Bézier
    through (midpoint, corner, midpoint); in between: linear blends. Clamped to [0, 1].
    """
    d = root(rx * rx + ry * ry)
    dn = d.clamp(min=1e-12)
    ux, uy = rx / dn, ry / dn
    vp, v0, v1, v2 = verts
    cv0 = 1.0 - d / _ray_hit(ux, uy, v0, v1)
    if smooth <= 0.0:
        cv = cv0
    else:
        mid = lambda a, b: ((a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5)  # noqa: E731
        m01 = mid(v0, v1)
        sm = tuple(torch.where(upper, a, b) for a, b in zip(m01, mid(vp, v0)))
        em = tuple(torch.where(upper, a, b) for a, b in zip(mid(v1, v2), m01))
        vc = tuple(torch.where(upper, a, b) for a, b in zip(v1, v0))
        lam = _ray_hit(ux, uy, sm, em)
        cv1 = 1.0 - d / lam
        if smooth < 1.0:
            cv = (1.0 - smooth) * cv0 + smooth * cv1
        else:
            bx, by = torch.nan_to_num(lam * ux, posinf=0.0), torch.nan_to_num(lam * uy, posinf=0.0)
            span = root((em[0] - sm[0]) ** 2 + (em[1] - sm[1]) ** 2).clamp(min=1e-12)
            ts = (root((bx - sm[0]) ** 2 + (by - sm[1]) ** 2) / span).clamp(0.0, 1.0)
            w0, w1, w2 = (1.0 - ts) ** 2, 2.0 * ts * (1.0 - ts), ts * ts
            qx = w0 * sm[0] + w1 * vc[0] + w2 * em[0]
            qy = w0 * sm[1] + w1 * vc[1] + w2 * em[1]
            cv2 = 1.0 - d / root(qx * qx + qy * qy).clamp(min=1e-12)
            cv = (2.0 - smooth) * cv1 + (smooth - 1.0) * cv2
    cv = torch.where(d < 1e-6, torch.ones_like(cv), cv)
    return torch.nan_to_num(cv, nan=0.0).clamp(0.0, 1.0)


def cellular_value(
    rx: torch.Tensor, ry: torch.Tensor, rot: torch.Tensor, radius_at, n_sectors: int, smooth: float
) -> torch.Tensor:
    """Cellular value of pixels at r = x - p0 in their closest cell.

    ``radius_at(m)`` returns the border radius of each pixel's cell at the sector
    angle ``rot + m 2pi / n_sectors`` for an int64 tensor ``m`` (taken modulo n).
    """
    k = sector_of(rx, ry, rot, n_sectors)
    da = 2.0 * math.pi / n_sectors

    def vertex(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = torch.remainder(m, n_sectors)
        r = radius_at(m)
        ang = rot + m.to(rot.dtype) * da
        return r * torch.cos(ang), r * torch.sin(ang)

    v0, v1 = vertex(k), vertex(k + 1)
    upper = _cross((v0[0] + v1[0]) * 0.5, (v0[1] + v1[1]) * 0.5, rx, ry) > 0
    if smooth > 0.0:
        third = vertex(torch.where(upper, k + 2, k - 1))
        vp = third
        v2 = third
    else:
        vp = v2 = v0
    return polygon_value(rx, ry, (vp, v0, v1, v2), upper, smooth)


# --------------------------------------------------------------------------- feature kernels
@dataclass(frozen=True)
class FeatureParams:
    """Feature-function parameters in shader units."""

    mixture: int
    norm: float
    correlation: float
    anisotropy: float
    np_min: int
    np_max: int
    sigcos: float
    sigcos_var: float
    frequency: int
    phase: float  # radians
    thickness: float
    curvature: float
    orientation: float  # radians (max kernel angle)

    @property
    def n_max(self) -> int:
        return max(self.np_min, self.np_max)


def kernel_counts(key: torch.Tensor, fp: FeatureParams) -> torch.Tensor:
    """Number of kernels of each cell: np_min + trunc((np_max - np_min) U)."""
    span = (fp.np_max - fp.np_min) * uniform(key, S_COUNT)
    return fp.np_min + torch.trunc(span).to(torch.int64)


def kernel_tables(table: CellTable, fp: FeatureParams, footprint: float) -> torch.Tensor:
    """(n_max, F, N + 1) kernel parameters per cell; column N is an empty 'null' cell.

    Kernel i of a cell: centre mu = lerp(c + 0.99 h S2, p, correlation), angle
    theta = orientation S, scale sigma = sigcos (1 + sigcos_var U). With
    A = diag(1, 2^-aniso) R(theta) diag(1 / h), the pixel at r = x - p (relative
    to the feature point) gives the kernel coordinates (ddx, ddy) = A (r - (mu - p));
    the envelope is e^{-s |(ddx, ddy)|_p}
    with s = sigma / footprint and the stripes use pi f |(k ddx, ddy)|. Since the
    norms are homogeneous, s is folded into the map. Fields (F = 8, 7 without
    stripes): s a11, s a12, s a21, s a22, s b1, s b2 (b = -A (mu - p)), then the
    amplitude (mixtures 1, 2, 4; 0 for absent kernels) or the priority (mixture
    3; -2 for absent kernels), then pi f / s.
    """
    nk = fp.n_max
    i = torch.arange(nk)[:, None]
    key = table.key[None, :]
    base = S_KERNEL + 8 * i
    sign_amp = signed(key, base)
    mx = table.centre[:, 0] + 0.99 * table.half[:, 0] * signed(key, base + 2)
    my = table.centre[:, 1] + 0.99 * table.half[:, 1] * signed(key, base + 3)
    mx = (1.0 - fp.correlation) * (mx - table.point[:, 0])  # centre relative to the feature point
    my = (1.0 - fp.correlation) * (my - table.point[:, 1])
    theta = fp.orientation * signed(key, base + 4)
    scale = (fp.sigcos * (1.0 + uniform(key, base + 5) * fp.sigcos_var) / footprint).clamp(min=1e-6)
    cs, sn = torch.cos(theta), torch.sin(theta)
    ihx = scale / table.half[:, 0].clamp(min=1e-6)
    ihy = scale / table.half[:, 1].clamp(min=1e-6)
    squash = 2.0 ** (-fp.anisotropy)
    a11, a12 = cs * ihx, -sn * ihy
    a21, a22 = squash * sn * ihx, squash * cs * ihy
    b1 = -(a11 * mx + a12 * my)
    b2 = -(a21 * mx + a22 * my)
    on = ((i < kernel_counts(table.key, fp)[None, :]) & table.valid[None, :]).to(scale.dtype)
    if fp.mixture == 3:
        tag = on * uniform(key, base + 1) + (1.0 - on) * NULL_PRIORITY
        null_tag = NULL_PRIORITY
    else:
        tag = on * (torch.sign(sign_amp) * (0.25 + 0.75 * sign_amp.abs()) if fp.mixture == 1 else 1.0)
        null_tag = 0.0
    fields = [a11, a12, a21, a22, b1, b2, tag]
    if fp.frequency > 0:
        fields.append((math.pi * fp.frequency) / scale)
    out = torch.stack(fields, 1)  # (nk, F, N)
    null = torch.zeros(nk, len(fields), 1)
    null[:, 6] = null_tag
    return torch.cat([out, null], 2).contiguous()


def _stripes(ddx: torch.Tensor, ddy: torch.Tensor, factor: torch.Tensor, fp: FeatureParams) -> torch.Tensor:
    """Stripe profile (0.5 + 0.5 cos(factor |(k ddx, ddy)|))^(1 / thickness)."""
    k2 = fp.curvature * fp.curvature
    arg = ddy.abs() if k2 == 0.0 else torch.addcmul(ddy * ddy, ddx, ddx, value=k2).sqrt_()
    ff = arg.mul_(factor).cos_().mul_(0.5).add_(0.5).clamp_(min=0.0)
    power = 1.0 / (fp.thickness + 1e-4)
    if abs(power - 1.0) < 1e-3:
        return ff
    return ff.mul_(ff) if abs(power - 2.0) < 1e-3 else ff.pow_(power)


_COMPACT_BELOW = 0.7  # drop pairs without further kernels once they are 30% of the batch
_KERNEL_BLOCK = 1 << 16  # pairs per block: keeps the temporaries in cache


def eval_kernels(
    kt: torch.Tensor,
    cell: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    fp: FeatureParams,
    counts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Evaluate the kernels of ``cell`` (A,) at positions (x, y) (A,) relative to the cell's feature point.

    Returns, per pair: mixtures 1/2 the kernel sum and None; mixture 3 the value
    of the highest-priority kernel covering the point and that priority (-2 if
    none); mixture 4 the largest kernel value and None. With ``counts`` (kernels
    per cell, (N + 1,)), pairs whose cell has no kernel left are dropped from the
    loop (cells have ``np_min..np_max`` kernels, absent cells none).
    """
    if x.requires_grad or y.requires_grad or kt.requires_grad:
        from .pptbf_graph import eval_kernels_graph

        return eval_kernels_graph(kt, cell, x, y, fp)
    if x.shape[0] <= _KERNEL_BLOCK:
        return _eval_block(kt, cell, x, y, fp, counts)
    parts = [
        _eval_block(kt, cell[k : k + _KERNEL_BLOCK], x[k : k + _KERNEL_BLOCK], y[k : k + _KERNEL_BLOCK], fp, counts)
        for k in range(0, x.shape[0], _KERNEL_BLOCK)
    ]
    best = torch.cat([b for _, b in parts]) if fp.mixture == 3 else None
    return torch.cat([a for a, _ in parts]), best


def _eval_block(
    kt: torch.Tensor,
    cell: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    fp: FeatureParams,
    counts: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    acc = acc_full = torch.zeros_like(x)
    best = best_full = torch.full_like(x, NULL_PRIORITY) if fp.mixture == 3 else None
    sel = None  # indices of the pairs still in the loop (None: all)
    left = counts.index_select(0, cell) if counts is not None else None
    for i in range(fp.n_max):
        if left is not None:
            live = left > i
            n_live = int(live.sum())
            if n_live == 0:
                break
            if n_live <= _COMPACT_BELOW * live.shape[0]:
                idx = live.nonzero()[:, 0]
                acc_full = acc if sel is None else acc_full.index_copy_(0, sel, acc)
                if best is not None:
                    best_full = best if sel is None else best_full.index_copy_(0, sel, best)
                sel = idx if sel is None else sel[idx]
                acc = acc_full.index_select(0, sel)
                best = best_full.index_select(0, sel) if best is not None else None
                cell, x, y, left = (t.index_select(0, idx) for t in (cell, x, y, left))
        g = kt[i].index_select(1, cell)
        ddx = torch.addcmul(g[4], g[0], x).addcmul_(g[1], y)
        ddy = torch.addcmul(g[5], g[2], x).addcmul_(g[3], y)
        ff = _stripes(ddx, ddy, g[7], fp) if fp.frequency > 0 else None
        dist = lp_distance(ddx, ddy, fp.norm)
        if fp.mixture == 3:
            prio = g[6]
            take = (dist < 1.0) & (prio > best)
            env = dist.neg_().exp_()
            if ff is not None:
                take &= ff > 0.5
                env.mul_(ff.sub_(0.5).mul_(2.0))
            tf = take.to(x.dtype)
            best = torch.lerp(best, prio, tf)
            acc = torch.lerp(acc, env, tf)
            continue
        val = dist.neg_().exp_().mul_(g[6])
        if ff is not None:
            val.mul_(ff)
        acc = torch.maximum(acc, val) if fp.mixture == 4 else acc.add_(val)
    if sel is None:
        return acc, best
    if best is not None:
        best_full.index_copy_(0, sel, best)
    return acc_full.index_copy_(0, sel, acc), best_full if best is not None else None

