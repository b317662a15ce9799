"""Instance and region nodes: tile sampler, random values per connected region or per cell id,
colour variation per region.

Randomness comes from counter-based hashing of a ``seed`` parameter and of
keys that do not depend on where a region sits (its id value, or its area and
content), so region nodes follow a circular shift of their inputs. Inputs that
carry ids are piecewise constant: they get no gradient (declared in the spec).
"""

from __future__ import annotations

import math

import torch

from ...params import f, i
from ..generators.hashing import uniform
from ..spec import NodeSpec, PortSpec, as_channels, node, pv
from .color import _rotate_hue
from .spatial import sample_periodic

# Distinct ids per unit of a gray id map (values are keyed by round(value * ID_STEPS)).
ID_STEPS = 4095


# ----------------------------------------------------------------- helpers
def _ids(regions: torch.Tensor) -> torch.Tensor:
    """Integer keys of a gray id map."""
    return torch.round(regions.detach().clamp(0.0, 1.0) * ID_STEPS).to(torch.int64)


def connected_regions(mask: torch.Tensor) -> torch.Tensor:
    """Label 4-connected regions of a boolean ``(B, 1, H, W)`` mask on the torus (0 = background).

    Each region gets the largest flat pixel index (+1) it contains, found by
    propagating maxima between neighbours until nothing changes.
    """
    b, _, h, w = mask.shape
    labels = torch.arange(1, b * h * w + 1, device=mask.device).view(b, 1, h, w) * mask
    while True:
        grown = labels
        for shift, dim in ((1, -1), (-1, -1), (1, -2), (-1, -2)):
            grown = torch.maximum(grown, torch.roll(labels, shift, dim))
        grown = grown * mask
        if torch.equal(grown, labels):
            return labels
        labels = grown


def region_random(input: torch.Tensor, threshold: torch.Tensor | float, seed: int) -> torch.Tensor:
    """A uniform random value in [0, 1) per connected region of ``input > threshold`` (0 elsewhere).

    The key of a region is its area and its rounded sum of values, so the
    value does not change when the image is shifted.
    """
    gray = input.detach().mean(1, keepdim=True)
    mask = gray > pv(threshold, gray).detach()
    labels = connected_regions(mask).reshape(-1)
    n = labels.numel() + 1
    area = torch.zeros(n, dtype=torch.int64, device=input.device).index_add_(0, labels, torch.ones_like(labels))
    total = torch.zeros(n, dtype=torch.float64, device=input.device).index_add_(0, labels, gray.reshape(-1).double())
    key_sum = torch.round(total * 1000.0).to(torch.int64)
    value = uniform(area[labels], key_sum[labels], seed).to(input.dtype)
    return (value * mask.reshape(-1)).view_as(gray)


# ------------------------------------------------------------------- nodes
def tile_sampler(
    pattern: torch.Tensor, x_amount: int = 8, y_amount: int = 8, size: torch.Tensor | float = 0.8,
    scale_random: torch.Tensor | float = 0.2, rotation_random: torch.Tensor | float = 0.1,
    position_random: torch.Tensor | float = 0.2, luminance_random: torch.Tensor | float = 0.3, seed: int = 0,
) -> torch.Tensor:
    """Place one copy of ``pattern`` (the whole input image is the instance) in every cell of a grid.

    Each instance is scaled to ``size`` of its cell times ``1 + scale_random r1``,
    rotated by ``rotation_random (r2 - 0.5)`` turns, moved by
    ``position_random (r3 - 0.5, r4 - 0.5)`` cells and darkened by
    ``luminance_random r5`` (``r`` uniform per cell and seed); overlapping
    instances of the 3 x 3 neighbouring cells are merged by their maximum.
    Outside its square an instance fades to 0 over 2 % of its size.

    Example::

        {"type": "tile_sampler", "inputs": {"pattern": "disc"}, "params": {"x_amount": 6, "y_amount": 6, "scale_random": 0.4}}
    """
    x = pattern
    h, w = x.shape[-2:]
    px = (torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, w) + 0.5) / w * x_amount
    py = (torch.arange(h, dtype=x.dtype, device=x.device).view(1, 1, h, 1) + 0.5) / h * y_amount
    cx0, cy0 = torch.floor(px), torch.floor(py)
    best = None
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            cx, cy = cx0 + dx, cy0 + dy
            ix = torch.remainder(cx, x_amount).to(torch.int64)
            iy = torch.remainder(cy, y_amount).to(torch.int64)
            cell = iy * x_amount + ix
            r = [uniform(cell, seed, k).to(x.dtype) for k in range(5)]
            ox = cx + 0.5 + pv(position_random, x) * (r[2] - 0.5)
            oy = cy + 0.5 + pv(position_random, x) * (r[3] - 0.5)
            scale = pv(size, x) * (1.0 + pv(scale_random, x) * r[0])
            a = pv(rotation_random, x) * (r[1] - 0.5) * (2.0 * math.pi)
            c, s = torch.cos(a), torch.sin(a)
            qx, qy = (px - ox) / scale, (py - oy) / scale
            qx, qy = c * qx + s * qy, -s * qx + c * qy  # undo the instance's rotation
            window = ((0.5 - qx.abs()) / 0.02).clamp(0.0, 1.0) * ((0.5 - qy.abs()) / 0.02).clamp(0.0, 1.0)
            inst = sample_periodic(x, (qx + 0.5) * w - 0.5, (qy + 0.5) * h - 0.5)
            inst = inst * window * (1.0 - pv(luminance_random, x) * r[4])
            best = inst if best is None else torch.maximum(best, inst)
    return best


def flood_fill_random(
    input: torch.Tensor, amount: torch.Tensor | float = 0.5, threshold: torch.Tensor | float = 0.1, seed: int = 0
) -> torch.Tensor:
    """Darken each connected region of ``input > threshold`` by its own random factor (flood fill).

    ``out = input * (1 - amount * r)`` with ``r`` uniform per region (4-connected,
    wrapping around the texture) and ``seed``; the background keeps its value.
    Use on a tile or cell mask to vary tiles one by one.

    Example::

        {"type": "flood_fill_random", "inputs": {"input": "tiles"}, "params": {"amount": 0.6, "threshold": 0.2, "seed": 4}}
    """
    return input * (1.0 - pv(amount, input) * region_random(input, threshold, seed))


def cell_random(
    input: torch.Tensor, low: torch.Tensor | float = 0.0, high: torch.Tensor | float = 1.0, seed: int = 0
) -> torch.Tensor:
    """A random gray in [low, high] per id of a gray id map (e.g. a cells generator's per-cell value).

    Example::

        {"type": "cell_random", "inputs": {"input": "cell_ids"}, "params": {"low": 0.3, "high": 0.9, "seed": 2}}
    """
    r = uniform(_ids(input), seed).to(input.dtype)
    lo = pv(low, input)
    return lo + (pv(high, input) - lo) * r


def color_variation(
    input: torch.Tensor, regions: torch.Tensor, hue_random: torch.Tensor | float = 0.05,
    luminance_random: torch.Tensor | float = 0.2, seed: int = 0,
) -> torch.Tensor:
    """Shift hue and lightness region by region: each id of the gray ``regions`` map gets its own offset.

    Hue rotates by ``hue_random (r1 - 0.5)`` turns, colours are scaled by
    ``1 + luminance_random (r2 - 0.5) * 2``; clamped to [0, 1].

    Example::

        {"type": "color_variation", "inputs": {"input": "albedo", "regions": "plank_ids"}, "params": {"hue_random": 0.04}}
    """
    x = as_channels(input, "color")
    ids = _ids(regions)
    r1 = uniform(ids, seed, 1).to(x.dtype)
    r2 = uniform(ids, seed, 2).to(x.dtype)
    out = _rotate_hue(x, pv(hue_random, x) * (r1 - 0.5) * (2.0 * math.pi))
    return (out * (1.0 + pv(luminance_random, x) * (r2 - 0.5) * 2.0)).clamp(0.0, 1.0)


# ------------------------------------------------------------------- specs
_SEED = i("seed", 0, 0, 100000, doc="random stream")

SPECS: tuple[NodeSpec, ...] = (
    node(
        "tile_sampler", tile_sampler, (PortSpec("pattern", "gray", doc="the instance (whole image)"),),
        (
            i("x_amount", 8, 1, 64, doc="cells across"),
            i("y_amount", 8, 1, 64, doc="cells down"),
            f("size", 0.8, 0.05, 2.0, doc="instance size as a fraction of its cell"),
            f("scale_random", 0.2, 0.0, 1.0, doc="random extra scale (fraction)"),
            f("rotation_random", 0.1, 0.0, 1.0, doc="random rotation range (turns)"),
            f("position_random", 0.2, 0.0, 1.0, doc="random offset range (cells)"),
            f("luminance_random", 0.3, 0.0, 1.0, doc="random darkening"),
            _SEED,
        ),
        shift_equivariant=False,
    ),
    node(
        "flood_fill_random", flood_fill_random, (PortSpec("input", "gray", doc="mask of separated regions"),),
        (
            f("amount", 0.5, doc="largest darkening"),
            f("threshold", 0.1, doc="value above which a pixel belongs to a region", optimize=False),
            _SEED,
        ),
        out="gray", piecewise=("threshold",),
    ),
    node(
        "cell_random", cell_random, (PortSpec("input", "gray", doc="id map (constant per cell)"),),
        (f("low", 0.0, doc="lowest value"), f("high", 1.0, doc="highest value"), _SEED),
        out="gray", piecewise=("input",),
    ),
    node(
        "color_variation", color_variation,
        (PortSpec("input", "color"), PortSpec("regions", "gray", doc="id map (constant per region)")),
        (
            f("hue_random", 0.05, 0.0, 0.5, doc="hue offset range (turns)"),
            f("luminance_random", 0.2, 0.0, 1.0, doc="lightness scale range"),
            _SEED,
        ),
        out="color", piecewise=("regions",),
    ),
)
