"""Tile Generator: a grid of shaped tiles with per-tile random variation.

Follows the semantics of Substance's Tile Generator: ``x_amount`` x
``y_amount`` tiles, each a pattern drawn in local coordinates q in [-1, 1]^2,
scaled, shifted, rotated, coloured and composited onto a background. The output is periodic in UV (integer amounts,
wrapped tile indices); per-tile random values are hashed from
(tile i, tile j, seed, stream) so they do not reshuffle when amounts change.

Rendering is a gather: every pixel visits the tiles of a small neighbourhood
of cells around its own (3x3 for ordinary settings, wider when scale,
rotation or jitter let tiles leave their cell) and accumulates their values.
Per-tile attributes are computed once on the tile grid and looked up with one
``index_select`` per neighbour. Hard-edged shapes are box-filtered over one
pixel analytically, so small parameter changes give small image changes.

Autograd differentiates the rendering (``GeneratorSpec(..., grad=True)``);
:data:`DIRECT` lists the parameters whose gradient matches finite
differences. Parameters that move whole tiles (rotation, jitter, row offset)
also get their exact per-pixel derivative (away from kinks), but the
box-filtered edges, the tile borders of the smooth shapes and the max/clamp
compositing kink the image within every pixel, and a finite difference over
a step that moves edges by hundredths to tenths of a pixel often disagrees
with it by more than 5 %: they are not declared. ``random_mask`` only
switches tiles on and off (no gradient).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Mapping

import torch

from ...params import ParamSpec, e, f, i
from .base import GeneratorSpec
from .hashing import signed, uniform

PATTERNS: tuple[str, ...] = (
    "square", "disc", "paraboloid", "bell", "gaussian", "thorn", "pyramid", "brick",
    "gradation", "waves", "half_bell", "ridged_bell", "crescent", "capsule", "cone",
)
BLEND_MODES: tuple[str, ...] = ("add", "max", "add_sub")
# Patterns whose shape depends on ``pattern_var``.
VAR_PATTERNS: frozenset[str] = frozenset({"brick", "capsule", "crescent", "gradation", "half_bell", "waves"})
# Parameters whose autograd gradient matches finite differences (see the module docstring).
DIRECT: tuple[str, ...] = (
    "pattern_var", "interstice_x", "interstice_y", "scale", "scale_random", "luminance", "luminance_random",
    "background",
)
# Parameters that introduce per-tile randomness.
RANDOM_PARAMS: tuple[str, ...] = (
    "scale_random", "position_random", "rotation_random", "luminance_random", "random_mask",
)

MAX_RADIUS = 8  # neighbourhood half-width (cells per axis); larger tiles are clipped
_MAX_PIXELS = 1 << 18  # pixels per chunk: small enough to stay in cache (measured fastest)
_AA_MARGIN = 0.51  # pixels beyond a tile's square that anti-aliasing may touch

# Hash streams of the per-tile random values.
_S_JX, _S_JY, _S_SCALE, _S_ROT, _S_LUM, _S_MASK = range(6)

# Columns of the per-tile attribute table.
_C_JX, _C_JY, _C_A00, _C_A01, _C_A10, _C_A11, _C_W, _C_WU, _C_WV = range(9)
_NCOLS = 9

PARAMS: tuple[ParamSpec, ...] = (
    i("x_amount", 10, 1, 64, doc="Tiles per row."),
    i("y_amount", 10, 1, 64, doc="Tiles per column."),
    e("pattern", "brick", PATTERNS, doc="Tile shape."),
    f("pattern_var", 0.2, doc="Pattern specific variation (brick, capsule, crescent, gradation, half_bell, waves)."),
    f("interstice_x", 0.0, doc="Horizontal gap between tiles, as a fraction of a cell."),
    f("interstice_y", 0.0, doc="Vertical gap between tiles, as a fraction of a cell."),
    f("scale", 1.0, 0.0, 2.0, doc="Global tile scale."),
    f("scale_random", 0.0, doc="Per-tile scale variation (scale times lerp(1, U, scale_random))."),
    f("offset", 0.0, doc="Horizontal shift of row j by j*offset cells."),
    f("position_random", 0.0, doc="Per-tile jitter, up to this fraction of a cell."),
    f("rotation", 0.0, doc="Tile rotation in turns."),
    f("rotation_random", 0.0, doc="Per-tile random rotation, up to +/- this many turns."),
    f("luminance", 1.0, doc="Tile intensity."),
    f("luminance_random", 0.0, doc="Per-tile intensity variation (lerp(luminance, U, luminance_random))."),
    f("random_mask", 0.0, doc="Probability of hiding a tile."),
    e("blending_mode", "add", BLEND_MODES,
      doc="add: sum (clamped); max: maximum; add_sub: tiles brighter than 0.5 add, darker subtract."),
    f("background", 0.0, doc="Background value."),
)

Shape = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------ shapes
# Every shape takes local coords (u, v), the pattern variation (B,1,1) and the
# pixel size in local units along u and v; it is exactly 0 outside the square
# |u|, |v| <= 1 (widened by half a pixel for anti-aliased edges).


def _box_cov(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Fraction of the pixel interval [u - w/2, u + w/2] inside [-1, 1]."""
    h = 0.5 * w
    return ((torch.clamp(u + h, max=1.0) - torch.clamp(u - h, min=-1.0)) / w).clamp_(0.0, 1.0)


def _square_cov(u: torch.Tensor, v: torch.Tensor, wu: torch.Tensor, wv: torch.Tensor) -> torch.Tensor:
    return _box_cov(u, wu).mul_(_box_cov(v, wv))


def _inside(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return ((u.abs() <= 1.0) & (v.abs() <= 1.0)).to(u.dtype)


def _r2(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return u * u + v * v


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    """``torch.sqrt`` whose gradient at x = 0 is 0 instead of NaN (same values; autograd keeps no result of it,
    so callers may change it in place)."""
    if not x.requires_grad:
        return torch.sqrt(x)
    pos = x > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, x, 1.0)), 0.0)


def _bell(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (1.0 - _r2(u, v).clamp_(max=1.0)).pow_(4)


def _smoothstep(a: torch.Tensor) -> torch.Tensor:
    """3a^2 - 2a^3 for a in [0, 1]."""
    return a * a * (3.0 - 2.0 * a)


def _square(u, v, var, wu, wv):
    return _square_cov(u, v, wu, wv)


def _disc(u, v, var, wu, wv):
    r2 = _r2(u, v)
    grad = _sqrt((u * wu).square_() + (v * wv).square_()).clamp_(min=1e-12)  # |d r^2| / 2 per pixel
    edge = ((1.0 - r2) / (2.0 * grad)).add_(0.5).clamp_(0.0, 1.0)
    return torch.minimum(edge, _square_cov(u, v, wu, wv))  # sub-pixel discs stay faint


def _paraboloid(u, v, var, wu, wv):
    return (1.0 - _r2(u, v)).clamp_(min=0.0)


def _bell_shape(u, v, var, wu, wv):
    return _bell(u, v)


def _gaussian(u, v, var, wu, wv):
    return torch.exp(_r2(u, v) * (-1.0 / 0.09)) * _inside(u, v)


def _thorn(u, v, var, wu, wv):
    return (1.0 - _sqrt(_r2(u, v)).clamp_(max=1.0)).pow_(4)


def _pyramid(u, v, var, wu, wv):
    return (1.0 - torch.maximum(u.abs(), v.abs())).clamp_(min=0.0)


def _cone(u, v, var, wu, wv):
    return (1.0 - _sqrt(_r2(u, v))).clamp_(min=0.0)


def _brick(u, v, var, wu, wv):
    """Flat top with a cubic ramp in the band |q| > 1 - var (at least one pixel wide)."""
    au = ((1.0 - u.abs()) / torch.maximum(var, wu)).clamp_(0.0, 1.0)
    av = ((1.0 - v.abs()) / torch.maximum(var, wv)).clamp_(0.0, 1.0)
    return _smoothstep(au).mul_(_smoothstep(av))


def _gradation(u, v, var, wu, wv):
    return ((u + 1.0) * (0.5 * (1.0 - var))).mul_(_square_cov(u, v, wu, wv))


def _waves(u, v, var, wu, wv):
    freq = (3.0 + 12.0 * var) * math.pi
    return _paraboloid(u, v, var, wu, wv).mul_(0.5 + 0.5 * torch.cos(freq * u))


def _half_bell(u, v, var, wu, wv):
    """Bell whose u > 0 half decays cubically to 0 at u = 1 - var."""
    a = (u / (1.0 - var).clamp(min=1e-3)).clamp_(0.0, 1.0)
    return _bell(u, v).mul_(1.0 - _smoothstep(a))


def _ridged_bell(u, v, var, wu, wv):
    return _bell(u, v).mul_((1.0 - u.abs().clamp_(max=1.0)).square_())


def _crescent(u, v, var, wu, wv):
    """Ring 6.75 r^2 (1 - r^2)^2 (peak 1 at r^2 = 1/3) with its u < c side faded out.

    Own design for the cover: c = 1.4 var - 1 and a cubic fade of width 0.5
    centred on c, so var = 0 leaves nearly the whole ring and var = 1 a thin
    crescent on the +u side.
    """
    r2 = _r2(u, v)
    ring = (1.0 - r2).clamp_(min=0.0).square_().mul_(r2).mul_(6.75)
    cover = ((u - (1.4 * var - 1.0)) * 2.0 + 0.5).clamp_(0.0, 1.0)
    return ring.mul_(_smoothstep(cover))


def _capsule(u, v, var, wu, wv):
    t = 0.77 * var
    d = (u.abs() - t).clamp_(min=0.0).square_().add_(v * v)
    return (1.0 - 20.0 * d).clamp_(min=0.0)


SHAPES: dict[str, Shape] = {
    "square": _square, "disc": _disc, "paraboloid": _paraboloid, "bell": _bell_shape,
    "gaussian": _gaussian, "thorn": _thorn, "pyramid": _pyramid, "brick": _brick,
    "gradation": _gradation, "waves": _waves, "half_bell": _half_bell,
    "ridged_bell": _ridged_bell, "crescent": _crescent, "capsule": _capsule, "cone": _cone,
}


# ------------------------------------------------------------- tile table
def _tile_randoms(ny: int, nx: int, seed: int, device: torch.device) -> dict[int, torch.Tensor]:
    """Hashed per-tile random values (ny, nx) for each stream, keyed by (i, j, seed, stream)."""
    jj = torch.arange(ny, device=device).view(ny, 1)
    ii = torch.arange(nx, device=device).view(1, nx)
    out = {s: signed(ii, jj, seed, s) for s in (_S_JX, _S_JY, _S_ROT)}
    out.update({s: uniform(ii, jj, seed, s) for s in (_S_SCALE, _S_LUM, _S_MASK)})
    return out


def _col(p: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    return p[name].view(-1, 1, 1)


def _tile_table(
    p: Mapping[str, torch.Tensor], blend: str, res: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-tile attributes (B, ny, nx, 9) and the half extents (B, ny, nx) of tiles, in cells, along x and y.

    ny, nx are the largest amounts of the batch; rows and columns beyond an
    item's own amounts are never looked up.
    """
    nx, ny = int(p["x_amount"].max()), int(p["y_amount"].max())
    rnd = _tile_randoms(ny, nx, seed, p["x_amount"].device)
    cx, cy = _col(p, "x_amount"), _col(p, "y_amount")
    jit = _col(p, "position_random")
    sc = _col(p, "scale") * (1.0 + (rnd[_S_SCALE] - 1.0) * _col(p, "scale_random"))
    sx = ((1.0 - _col(p, "interstice_x")) * sc).clamp(min=1e-6)  # tile size in cells
    sy = ((1.0 - _col(p, "interstice_y")) * sc).clamp(min=1e-6)
    ang = (2.0 * math.pi) * (_col(p, "rotation") + rnd[_S_ROT] * _col(p, "rotation_random"))
    c, s = torch.cos(ang), torch.sin(ang)
    # q = diag(2/size_uv) R(-angle) (d_cells / amounts): maps a cell-space offset to local coords.
    a00, a01 = 2.0 * c / sx, 2.0 * s * cx / (cy * sx)
    a10, a11 = -2.0 * s * cy / (cx * sy), 2.0 * c / sy
    lum = _col(p, "luminance") + (rnd[_S_LUM] - _col(p, "luminance")) * _col(p, "luminance_random")
    weight = 2.0 * lum - 1.0 if blend == "add_sub" else lum
    weight = weight * (rnd[_S_MASK] >= _col(p, "random_mask")).to(weight.dtype)
    wu, wv = 2.0 * cx / (sx * res), 2.0 * cy / (sy * res)  # one pixel in local units
    cols = (rnd[_S_JX] * jit, rnd[_S_JY] * jit, a00, a01, a10, a11, weight, wu, wv)
    shape = torch.broadcast_shapes(*(t.shape for t in cols))
    table = torch.stack([t.expand(shape) for t in cols], dim=-1)
    # Bounding half extents of the rotated tiles plus jitter, in cells.
    ext_x = (c.abs() * sx + s.abs() * sy * cx / cy) * 0.5 + (rnd[_S_JX] * jit).abs()
    ext_y = (s.abs() * sx * cy / cx + c.abs() * sy) * 0.5 + (rnd[_S_JY] * jit).abs()
    return table, ext_x.expand(shape[:3]), ext_y.expand(shape[:3])


def _radii(ext: torch.Tensor, amount: torch.Tensor, res: int) -> list[int]:
    """Per item: neighbour cells per side that can reach a pixel, max d with d < 0.5 + extent + AA margin."""
    reach = ext.amax(dim=(1, 2)) + _AA_MARGIN * amount / res
    return (torch.ceil(0.5 + reach) - 1.0).clamp(0, MAX_RADIUS).long().tolist()


# ----------------------------------------------------------------- render
def _render(p: Mapping[str, torch.Tensor], pattern: str, blend: str, res: int, seed: int) -> torch.Tensor:
    """Render a batch sharing one pattern and one blend mode -> (B, 1, res, res).

    Items are grouped by neighbourhood size so one large tile does not slow the others.
    """
    table, ext_x, ext_y = _tile_table(p, blend, res, seed)
    radii = list(zip(_radii(ext_x, p["x_amount"], res), _radii(ext_y, p["y_amount"], res)))
    out = torch.empty(table.shape[0], 1, res, res, device=table.device)
    for rx, ry in sorted(set(radii)):
        sel = torch.tensor([k for k, r in enumerate(radii) if r == (rx, ry)], device=table.device)
        out[sel] = _gather(table[sel], _subset(p, sel), SHAPES[pattern], blend, res, rx, ry)
    return out


def _gather(table: torch.Tensor, p: Mapping[str, torch.Tensor], shape_fn: Shape, blend: str,
            res: int, rx: int, ry: int) -> torch.Tensor:
    """Accumulate the tiles of the (2 rx + 1) x (2 ry + 1) cells around each pixel's own cell."""
    batch, ny, nx, _ = table.shape
    flat = table.reshape(batch * ny * nx, _NCOLS)
    cx, cy = _col(p, "x_amount"), _col(p, "y_amount")
    coords = (torch.arange(res, dtype=torch.float32, device=flat.device) + 0.5) / res
    gx, gy = coords.view(1, 1, res) * cx, coords.view(1, res, 1) * cy
    j0 = torch.floor(gy)
    base = (torch.arange(batch, dtype=torch.float32, device=flat.device) * (ny * nx)).view(-1, 1, 1)
    var = _col(p, "pattern_var")
    acc = torch.zeros(batch, res, res, device=flat.device)
    for dj in range(-ry, ry + 1):
        j = j0 + dj
        jw = torch.remainder(j, cy)
        shift = jw * _col(p, "offset")  # row shift in cells (not wrapped: keeps tile labels continuous)
        gxs = gx - shift
        ic0 = torch.floor(gxs)
        ux = (gxs - ic0).sub_(0.5)  # position in own cell, relative to its centre
        uy = gy - j - 0.5
        row_base = base + jw * nx
        for di in range(-rx, rx + 1):
            idx = torch.remainder(ic0 + di, cx).add_(row_base).long().view(-1)
            att = flat.index_select(0, idx).view(batch, res, res, _NCOLS).unbind(-1)
            dx = (ux - di).sub_(att[_C_JX])
            dy = uy - att[_C_JY]
            qu = dx * att[_C_A00] + dy * att[_C_A01]
            qv = dx * att[_C_A10] + dy * att[_C_A11]
            val = shape_fn(qu, qv, var, att[_C_WU], att[_C_WV]).mul_(att[_C_W])
            if blend == "max":
                acc = torch.maximum(acc, val)
            else:
                acc.add_(val)
    bg = _col(p, "background")
    # max: where the tiles are exactly as dark as the background (gaps over a black one) it alone moves them.
    out = torch.where(acc > bg, acc, bg) if blend == "max" else acc.add_(bg)
    return out.clamp_(0.0, 1.0).unsqueeze(1)


def _subset(p: Mapping[str, torch.Tensor], sel: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[sel] for k, v in p.items()}


def tile_generator(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """Tile Generator -> (B, 1, res, res) in [0, 1]; see the module docstring.

    Example::

        {"type": "tile_generator", "params": {"x_amount": 8, "y_amount": 8, "pattern": "disc", "scale_random": 0.3}}
    """
    batch = params["x_amount"].shape[0]
    out = torch.empty(batch, 1, res, res, device=params["x_amount"].device)
    chunk = max(1, _MAX_PIXELS // (res * res))
    keys = params["pattern"].long() * len(BLEND_MODES) + params["blending_mode"].long()
    for key in torch.unique(keys).tolist():
        pattern, blend = PATTERNS[key // len(BLEND_MODES)], BLEND_MODES[key % len(BLEND_MODES)]
        items = torch.nonzero(keys == key).view(-1)
        for start in range(0, items.numel(), chunk):
            sel = items[start:start + chunk]
            out[sel] = _render(_subset(params, sel), pattern, blend, res, seed)
    return out


# ------------------------------------------------------------------ specs
def _fixed_pattern_fn(params: Mapping[str, torch.Tensor], res: int, seed: int, *, pattern: str) -> torch.Tensor:
    """``tile_generator`` with the pattern (and pattern_var when unused) filled in.

    Examples::

        {"type": "tile_paraboloid", "params": {"x_amount": 6, "y_amount": 6, "luminance_random": 0.4}}
        {"type": "tile_disc", "params": {"x_amount": 8, "y_amount": 8, "scale_random": 0.3}}
        {"type": "tile_square", "params": {"x_amount": 6, "y_amount": 12, "interstice_x": 0.1, "interstice_y": 0.1}}
    """
    ref = params["x_amount"]
    full = dict(params)
    full["pattern"] = torch.full_like(ref, float(PATTERNS.index(pattern)))
    full.setdefault("pattern_var", torch.full_like(ref, 0.2))
    return tile_generator(full, res, seed)


def fixed_pattern_spec(pattern: str, sample_box: Mapping[str, tuple[float, float]],
                       fixed: Mapping[str, float] | None = None) -> GeneratorSpec:
    """A ``tile_<pattern>`` spec: the tile generator with one pattern, for proxies.

    The ``pattern`` parameter (and ``pattern_var`` where the shape ignores it)
    is removed. The spec is stochastic when training samples vary any
    per-tile randomness parameter that is not fixed.
    """
    fixed = dict(fixed or {})
    drop = {"pattern"} | (set() if pattern in VAR_PATTERNS else {"pattern_var"})
    params = tuple(q for q in PARAMS if q.name not in drop)
    stochastic = any(
        name not in fixed and sample_box.get(name, (0.0, 1.0))[1] > 0.0 for name in RANDOM_PARAMS
    )
    return GeneratorSpec(
        name=f"tile_{pattern}",
        fn=partial(_fixed_pattern_fn, pattern=pattern),
        params=params,
        doc=f"Tile Generator with {pattern} tiles.",
        sample_box=dict(sample_box),
        fixed=fixed,
        stochastic=stochastic,
        direct=tuple(name for name in DIRECT if name not in drop),
    )


_GRID_BOX: dict[str, tuple[float, float]] = {
    "x_amount": (2, 16), "y_amount": (2, 16),
    "interstice_x": (0.0, 0.5), "interstice_y": (0.0, 0.5),
    "scale": (0.5, 1.5), "offset": (0.0, 1.0), "rotation": (0.0, 1.0),
}
_RANDOM_BOX: dict[str, tuple[float, float]] = {
    "scale_random": (0.0, 0.5), "position_random": (0.0, 0.3), "rotation_random": (0.0, 0.5),
    "luminance_random": (0.0, 1.0), "random_mask": (0.0, 0.5),
}
# Proxy training pins compositing to max over a black background at full intensity.
_PROXY_FIXED: dict[str, float] = {
    "luminance": 1.0, "background": 0.0, "blending_mode": float(BLEND_MODES.index("max")),
}
_NO_RANDOM: dict[str, float] = {name: 0.0 for name in RANDOM_PARAMS}

TILE_GENERATOR = GeneratorSpec(
    name="tile_generator",
    fn=tile_generator,
    params=PARAMS,
    doc="Substance-style Tile Generator: a grid of shaped tiles with per-tile random variation.",
    sample_box={**_GRID_BOX, **_RANDOM_BOX, "x_amount": (1, 16), "y_amount": (1, 16)},
    stochastic=True,
    direct=DIRECT,
)
# The paraboloid proxy covers aligned regular grids (no per-tile randomness, rotation or row
# offset): a first proxy trained with the random parameters learned only the mean, a second one
# with the row offset free learned the rows but not the columns (docs/history/results-log.md, E1).
TILE_PARABOLOID = fixed_pattern_spec(
    "paraboloid", {**_GRID_BOX, "x_amount": (2, 12), "y_amount": (2, 12)},
    {**_PROXY_FIXED, **_NO_RANDOM, "rotation": 0.0, "offset": 0.0},
)
TILE_DISC = fixed_pattern_spec("disc", {**_GRID_BOX, **_RANDOM_BOX}, _PROXY_FIXED)
TILE_SQUARE = fixed_pattern_spec("square", {**_GRID_BOX, "rotation": (0.0, 0.25)}, {**_PROXY_FIXED, **_NO_RANDOM})

SPECS: tuple[GeneratorSpec, ...] = (TILE_GENERATOR, TILE_PARABOLOID, TILE_DISC, TILE_SQUARE)
