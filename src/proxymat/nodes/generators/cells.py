"""Cells (Worley / Voronoi noise) on a jittered grid.

The tile holds ``scale`` x ``scale`` cells; cell (cx, cy) owns one feature point
at ``centre + disorder * (U - 0.5)`` (U uniform per cell and axis, hashed from
(cx, cy, seed, stream)), so disorder 0 is the regular grid of cell centres and
disorder 1 places points anywhere in their cell. Each pixel visits the 3x3
wrapped neighbour cells (cell indices modulo ``scale``: the pattern tiles) and
keeps a running nearest (F1) and second-nearest (F2) distance and the nearest
cell's id; no (9, B, H, W) stack is built. With disorder near 1 the 3x3 gather
can, rarely, miss the true F2 (standard jittered-grid approximation).

Distances are in cell units and normalized per style:

* ``f1``: F1 / r, with r the centre-to-corner distance of a cell in the chosen
  metric (sqrt(1/2) euclidean, 1 manhattan, 1/2 chebyshev), so the regular
  grid spans [0, 1] (0 at the centres, 1 at the corners);
* ``f2``: F2 (1 at the cell centres of the regular grid);
* ``f2_minus_f1``: F2 - F1 (0 on cell borders, 1 at regular-grid centres);
* ``edges``: 1 - clamp(e / edge_width, 0, 1) with e = (F2 - F1) / 2, which is the
  exact distance to the border on the line between two neighbouring regular
  points: bright lines of width ~edge_width (cell units) on the borders;
* ``cell_random``: a flat uniform value per cell (the nearest point's cell).

Every style is then multiplied by ``1 - luminance_random * U_cell`` (another
per-cell uniform) and clamped to [0, 1].
"""

from __future__ import annotations

import math
from functools import partial

import torch

from ...params import e, f, i
from ._grid import Params, batch_table, cell_table, evaluate_batched, flat_index, lattice_coords
from .base import GeneratorSpec

DISTANCES: tuple[str, ...] = ("euclidean", "manhattan", "chebyshev")
STYLES: tuple[str, ...] = ("f1", "f2", "f2_minus_f1", "edges", "cell_random")
# Centre-to-corner distance of a unit cell per metric (normalizes F1).
CORNER_DISTANCE: tuple[float, ...] = (math.sqrt(0.5), 1.0, 0.5)

_EUCLIDEAN, _MANHATTAN, _CHEBYSHEV = range(3)
_F1, _F2, _F2_MINUS_F1, _EDGES, _CELL_RANDOM = range(5)
_S_JX, _S_JY, _S_RANDOM, _S_LUM = range(4)  # hash streams


def _distance(ox: torch.Tensor, oy: torch.Tensor, metric: int) -> torch.Tensor:
    """Distance of offset (ox, oy); euclidean is returned *squared* (monotone, sqrt later)."""
    if metric == _EUCLIDEAN:
        return ox * ox + oy * oy
    if metric == _MANHATTAN:
        return ox.abs() + oy.abs()
    return torch.maximum(ox.abs(), oy.abs())


def feature_points(size: int, disorder: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature point of every cell, as (x, y) offsets in [0, 1] from the cell's corner.

    Shapes (B, size, size) indexed [b, cy, cx]; ``disorder`` is (B,).
    """
    dis = disorder.reshape(-1, 1, 1)
    jx = 0.5 + dis * (cell_table(size, seed, _S_JX, disorder.device) - 0.5)
    jy = 0.5 + dis * (cell_table(size, seed, _S_JY, disorder.device) - 0.5)
    return jx, jy


def worley(
    n: torch.Tensor, disorder: torch.Tensor, res: int, seed: int, metric: int, need_id: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """F1, F2 (cell units, (B, H, W)) and the flat table index of the nearest cell (or None).

    ``n`` (B,) cells per side, ``disorder`` (B,) in [0, 1]; the index addresses a
    ``(B, N, N)`` table with N = max(n), as built by :func:`_grid.flat_index`.
    """
    batch = n.shape[0]
    size = int(n.max().item())
    ix, fx, iy, fy = lattice_coords(n, res)
    jx, jy = (batch_table(t, batch) for t in feature_points(size, disorder, seed))
    f1 = torch.full((batch, res, res), math.inf, device=n.device)
    f2 = torch.full_like(f1, math.inf)
    best = torch.zeros(batch, res, res, dtype=torch.int64, device=n.device) if need_id else None
    for dy in (-1, 0, 1):
        ry = dy - fy
        for dx in (-1, 0, 1):
            idx = flat_index(ix + dx, iy + dy, n, size)
            d = _distance(jx.take(idx) + (dx - fx), jy.take(idx) + ry, metric)
            if best is not None:
                best = torch.where(d < f1, idx, best)
            f2 = torch.minimum(f2, torch.maximum(f1, d))
            f1 = torch.minimum(f1, d)
    if metric == _EUCLIDEAN:
        f1, f2 = f1.sqrt(), f2.sqrt()
    return f1, f2, best


def cell_lookup(values: torch.Tensor, best: torch.Tensor, n: torch.Tensor, disorder: torch.Tensor, res: int,
                seed: int, metric: int) -> torch.Tensor:
    """``values`` (a flat per-cell table) at each pixel's nearest cell ``best``.

    The value jumps where the border between two cells lies, and the border
    moves with ``disorder``, which a plain lookup does not tell autograd. When
    ``disorder`` needs a gradient, the lookup's gradient is therefore taken
    from a softmax over the 3x3 neighbour cells' distances at a temperature of
    one pixel (in cell units) while its value stays the hard lookup's.
    """
    hard = values.take(best)
    if not (torch.is_grad_enabled() and disorder.requires_grad):
        return hard
    size = int(n.max().item())
    ix, fx, iy, fy = lattice_coords(n, res)
    jx, jy = (batch_table(t, n.shape[0]) for t in feature_points(size, disorder, seed))
    dist, near = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            idx = flat_index(ix + dx, iy + dy, n, size)
            d = _distance(jx.take(idx) + (dx - fx), jy.take(idx) + (dy - fy), metric)
            dist.append(d.clamp_min(1e-12).sqrt() if metric == _EUCLIDEAN else d)
            near.append(values.take(idx))
    tau = (n.to(torch.float32) / res).reshape(-1, 1, 1)
    weights = torch.softmax(-torch.stack(dist) / tau, dim=0)
    soft = (weights * torch.stack(near)).sum(dim=0)
    return hard + (soft - soft.detach())


def _style_value(f1: torch.Tensor, f2: torch.Tensor, style: int, metric: int, edge_width: torch.Tensor) -> torch.Tensor:
    """Map F1/F2 to the output of a distance style."""
    if style == _F1:
        return f1 / CORNER_DISTANCE[metric]
    if style == _F2:
        return f2
    if style == _F2_MINUS_F1:
        return f2 - f1
    width = edge_width.reshape(-1, 1, 1)
    return 1.0 - ((f2 - f1) * 0.5 / width).clamp(0.0, 1.0)


def _cells_group(p: Params, key: tuple[int, ...], res: int, seed: int) -> torch.Tensor:
    """Cells for a sub-batch sharing one (distance, style)."""
    metric, style = key
    n = p["scale"]
    batch = n.shape[0]
    lum = p["luminance_random"].reshape(batch, 1, 1)
    need_id = style == _CELL_RANDOM or bool((lum > 0).any())
    f1, f2, best = worley(n, p["disorder"], res, seed, metric, need_id)
    size = int(n.max().item())
    lookup = partial(cell_lookup, best=best, n=n, disorder=p["disorder"], res=res, seed=seed, metric=metric)
    if style == _CELL_RANDOM:
        out = lookup(batch_table(cell_table(size, seed, _S_RANDOM, n.device), batch))
    else:
        out = _style_value(f1, f2, style, metric, p["edge_width"])
    if best is not None:
        out = out * (1.0 - lum * lookup(batch_table(cell_table(size, seed, _S_LUM, n.device), batch)))
    return out.clamp(0.0, 1.0).unsqueeze(1)


def cells(params: Params, res: int, seed: int) -> torch.Tensor:
    """Cells generator function (see module docstring).

    Example::

        {"type": "cells", "params": {"scale": 6, "disorder": 0.8, "style": "f2_minus_f1"}}
    """
    return evaluate_batched(params, res, partial(_cells_group, res=res, seed=seed), group_by=("distance", "style"))


SPECS: tuple[GeneratorSpec, ...] = (
    GeneratorSpec(
        name="cells",
        fn=cells,
        params=(
            i("scale", 8, 1, 64, doc="Cells per tile side."),
            f("disorder", 0.8, doc="Feature point jitter: 0 = cell centres, 1 = anywhere in the cell."),
            e("distance", "euclidean", DISTANCES, doc="Distance metric."),
            e("style", "f1", STYLES, doc="Output: F1, F2, F2-F1, border lines, or a flat random value per cell."),
            f("edge_width", 0.1, 0.01, 0.5, doc="Half-width of the border lines of style 'edges', in cell units."),
            f("luminance_random", 0.0, doc="Per-cell darkening: output * (1 - luminance_random * U)."),
        ),
        doc="Worley / Voronoi cells on a jittered grid (F1, F2, F2-F1, edges, random per cell).",
        # The shipped proxy models the F2-F1 crease pattern (leather, stone):
        # the style and metric enums switch between unrelated images, so they are pinned.
        sample_box={"scale": (4, 16), "disorder": (0.3, 1.0)},
        fixed={"distance": 0.0, "style": 2.0, "edge_width": 0.1, "luminance_random": 0.0},
        stochastic=True,
        direct=("disorder", "edge_width", "luminance_random"),
    ),
)
