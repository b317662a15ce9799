"""Brick generator: a running-bond heightfield of bevelled bricks.

The tile holds ``bricks_y`` rows of ``bricks_x`` bricks. Row r (0 at the top) is
shifted right by ``offset * (r mod 2) + offset_random * U_r`` brick widths (U_r
uniform per row), then split into bricks; brick indices wrap modulo the counts,
so the pattern tiles (with odd ``bricks_y`` and a non-zero offset the bond
repeats one unshifted row pair across the tile border, but pixels still tile).

Each brick cell is inset by half of ``gap_x`` (fraction of the brick width) on
the left and right and half of ``gap_y`` (fraction of the brick height) at top
and bottom. Inside, with d the distance (UV) to the nearest inset-brick edge,
the profile is an analytic bevel: ``t = clamp(d / w, 0, 1)`` with
``w = bevel * min(half brick width, half brick height)`` (at least one pixel,
which anti-aliases hard edges), blended towards ``smoothstep(t)`` by
``bevel_smoothness``. The output is ``profile * (1 - height_random * U_brick)``:
0 in the gaps, each brick's height on its plateau.
"""

from __future__ import annotations

from functools import partial

import torch

from ...params import f, i
from ._grid import Params, evaluate_batched, pixel_centers, smoothstep
from .base import GeneratorSpec
from .hashing import uniform

_S_ROW, _S_HEIGHT = range(2)  # hash streams


def _rows(p: Params, res: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row index (B, H, 1) int64, fraction within the row and horizontal shift in brick widths."""
    by = p["bricks_y"].reshape(-1, 1, 1)
    g = pixel_centers(res, by.device).reshape(1, res, 1) * by
    row = torch.floor(g)
    frac = g - row
    row = row.to(torch.int64)
    shift = p["offset"].reshape(-1, 1, 1) * torch.remainder(row, 2)
    shift = shift + p["offset_random"].reshape(-1, 1, 1) * uniform(row, seed, _S_ROW)
    return row, frac, shift


def _brick_random(col: torch.Tensor, row: torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform per brick, hashed from (col, row, seed) on the small brick grid, gathered per pixel."""
    ncol, nrow = int(col.max().item()) + 1, int(row.max().item()) + 1
    c = torch.arange(ncol, device=col.device, dtype=torch.int64)
    r = torch.arange(nrow, device=col.device, dtype=torch.int64)
    table = uniform(c[None, :], r[:, None], seed, _S_HEIGHT).reshape(-1)
    return table.take(row * ncol + col)


def _bricks_chunk(p: Params, key: tuple[int, ...], res: int, seed: int) -> torch.Tensor:
    bx = p["bricks_x"].reshape(-1, 1, 1)
    by = p["bricks_y"].reshape(-1, 1, 1)
    row, fy, shift = _rows(p, res, seed)
    gx = pixel_centers(res, bx.device).reshape(1, 1, res) * bx + shift  # (B, H, W)
    col = torch.floor(gx)
    fx = gx - col
    col = torch.remainder(col.to(torch.int64), bx.to(torch.int64))
    gap_x = p["gap_x"].reshape(-1, 1, 1)
    gap_y = p["gap_y"].reshape(-1, 1, 1)
    half_w = 0.5 * (1.0 - gap_x) / bx  # half extents of the inset brick, UV
    half_h = 0.5 * (1.0 - gap_y) / by
    dx = half_w - (fx - 0.5).abs() / bx
    dy = half_h - (fy - 0.5).abs() / by
    width = (p["bevel"].reshape(-1, 1, 1) * torch.minimum(half_w, half_h)).clamp_min(1.0 / res)
    t = (torch.minimum(dx, dy) / width).clamp(0.0, 1.0)
    smooth = p["bevel_smoothness"].reshape(-1, 1, 1)
    profile = t + smooth * (smoothstep(t) - t)
    height = 1.0 - p["height_random"].reshape(-1, 1, 1) * _brick_random(col, row, seed)
    return (profile * height).clamp(0.0, 1.0).unsqueeze(1)


def brick_generator(params: Params, res: int, seed: int) -> torch.Tensor:
    """Brick generator function (see module docstring).

    Example::

        {"type": "brick_generator", "params": {"bricks_x": 4, "bricks_y": 8, "gap_x": 0.05, "gap_y": 0.1, "bevel": 0.3}}
    """
    return evaluate_batched(params, res, partial(_bricks_chunk, res=res, seed=seed))


SPECS: tuple[GeneratorSpec, ...] = (
    GeneratorSpec(
        name="brick_generator",
        fn=brick_generator,
        params=(
            i("bricks_x", 4, 1, 64, doc="Bricks per row."),
            i("bricks_y", 8, 1, 64, doc="Rows per tile."),
            f("gap_x", 0.05, doc="Horizontal joint, as a fraction of the brick cell width."),
            f("gap_y", 0.1, doc="Vertical joint, as a fraction of the brick cell height."),
            f("bevel", 0.3, doc="Bevel ramp width, as a fraction of the brick's smaller half extent."),
            f("bevel_smoothness", 0.0, doc="Blend of the linear bevel ramp towards a smoothstep."),
            f("height_random", 0.0, doc="Per-brick height variation: height = 1 - height_random * U."),
            f("offset", 0.5, doc="Shift of every other row, in brick widths."),
            f("offset_random", 0.0, doc="Extra random shift per row, up to this many brick widths."),
        ),
        doc="Running-bond bricks with analytic bevels, gaps at 0.",
        sample_box={"bricks_x": (1, 16), "bricks_y": (2, 32), "gap_x": (0.0, 0.3), "gap_y": (0.0, 0.3)},
        direct=("gap_x", "gap_y", "bevel", "bevel_smoothness", "height_random"),
    ),
)
