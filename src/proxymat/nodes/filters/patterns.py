"""Pattern nodes without image inputs: gradients, shapes, stripes, checker, weave, spectral noise.

Each receives ``res``, ``batch`` and ``device`` (see :mod:`proxymat.nodes.spec`)
and returns a gray ``(B, 1, res, res)`` image in [0, 1] that tiles: every
pattern is a function of UV with integer periods. The batch is the largest of
``batch`` and the batch of the float parameters. Angles are in turns.
"""

from __future__ import annotations

import math

import torch

from ...params import e, f, i, vec2
from ..generators.hashing import uniform
from ..spec import NodeSpec, node, pv, vec_parts
from .spatial import fourier_filter, frequencies

DIRECTIONS = ("horizontal", "vertical", "diagonal", "anti_diagonal")
SHAPES = ("disc", "square", "ring", "polygon")
WEAVES = ("plain", "twill")
_EPS = 1e-9


# ----------------------------------------------------------------- helpers
def uv_grid(res: int, like: torch.Tensor | float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre UV coordinates ``u (1, 1, 1, res)``, ``v (1, 1, res, 1)`` in the dtype of ``like``."""
    t = torch.as_tensor(like)
    dtype = t.dtype if t.is_floating_point() else torch.float32
    c = (torch.arange(res, dtype=dtype, device=device or t.device) + 0.5) / res
    return c.view(1, 1, 1, res), c.view(1, 1, res, 1)


def finish(img: torch.Tensor, res: int, batch: int) -> torch.Tensor:
    """Broadcast a pattern to ``(max(batch, B), 1, res, res)``."""
    b = max(int(batch), img.shape[0])
    return img.expand(b, 1, res, res).contiguous()


def projection(u: torch.Tensor, v: torch.Tensor, direction: str) -> torch.Tensor:
    """Coordinate along one of the tiling directions (integer steps, so periodic in UV)."""
    if direction == "horizontal":
        return u + 0.0 * v
    if direction == "vertical":
        return v + 0.0 * u
    if direction == "diagonal":
        return u + v
    if direction == "anti_diagonal":
        return u - v
    raise ValueError(f"unknown direction {direction!r}; expected one of {list(DIRECTIONS)}")


def soft_step(x: torch.Tensor, softness: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``sigmoid(x / softness)`` with the softness kept above 1e-4."""
    return torch.sigmoid(x / pv(softness, like).clamp_min(1e-4))


def rotate(x: torch.Tensor, y: torch.Tensor, turns: torch.Tensor | float, like: torch.Tensor):
    """Rotate the point (x, y) counter-clockwise by ``turns``."""
    a = pv(turns, like) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    return c * x - s * y, s * x + c * y


# ------------------------------------------------------------------- nodes
def linear_gradient(
    repeats: int = 1, direction: str = "horizontal", offset: torch.Tensor | float = 0.0,
    *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """Mirrored ramp 0 -> 1 -> 0, ``repeats`` times across the texture along ``direction``.

    ``t = frac(repeats * p + offset)`` and ``out = 1 - |2 t - 1|`` with ``p`` the
    coordinate along the direction (u, v, u + v or u - v), so it always tiles.

    Example::

        {"type": "linear_gradient", "params": {"repeats": 2, "direction": "vertical", "offset": 0.25}}
    """
    u, v = uv_grid(res, offset, device)
    t = torch.remainder(repeats * projection(u, v, direction) + pv(offset, u), 1.0)
    return finish(1.0 - (2.0 * t - 1.0).abs(), res, batch)


def torus_delta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Shortest signed difference ``a - b`` on the unit circle, in [-0.5, 0.5]."""
    d = a - b
    return d - torch.round(d).detach()


def radial_gradient(
    center: torch.Tensor | tuple[float, float] = (0.5, 0.5), radius: torch.Tensor | float = 0.5,
    *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """``clamp(1 - d / radius, 0, 1)`` with ``d`` the wrap-around distance to ``center`` (UV).

    Example::

        {"type": "radial_gradient", "params": {"center": [0.5, 0.5], "radius": 0.4}}
    """
    u, v = uv_grid(res, radius, device)
    cx, cy = vec_parts(torch.as_tensor(center, dtype=u.dtype), u)
    d = torch.sqrt(torus_delta(u, cx) ** 2 + torus_delta(v, cy) ** 2 + _EPS)
    return finish((1.0 - d / pv(radius, u).clamp_min(1e-4)).clamp(0.0, 1.0), res, batch)


def shape_distance(qx: torch.Tensor, qy: torch.Tensor, kind: str, size, thickness, sides: int) -> torch.Tensor:
    """Signed distance (UV of one cell, < 0 inside) of a centred shape of diameter ``size``."""
    r = torch.sqrt(qx * qx + qy * qy + _EPS)
    if kind == "disc":
        return r - 0.5 * size
    if kind == "square":
        return torch.maximum(qx.abs(), qy.abs()) - 0.5 * size
    if kind == "ring":
        return (r - 0.5 * size).abs() - 0.5 * thickness
    if kind == "polygon":
        sector = 2.0 * math.pi / sides
        a = torch.remainder(torch.atan2(qy, qx), sector) - 0.5 * sector
        return r * torch.cos(a) - 0.5 * size
    raise ValueError(f"unknown shape {kind!r}; expected one of {list(SHAPES)}")


def shape(
    kind: str = "disc", tiles: int = 1, size: torch.Tensor | float = 0.6, softness: torch.Tensor | float = 0.01,
    rotation: torch.Tensor | float = 0.0, thickness: torch.Tensor | float = 0.1, sides: int = 6,
    *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """A soft-edged shape repeated on a ``tiles x tiles`` grid: disc, square, ring or regular polygon.

    In each cell (coordinates in [-0.5, 0.5), rotated by ``rotation`` turns)
    the output is ``sigmoid(-sd / softness)`` of the shape's signed distance:
    a disc or polygon of diameter (inradius x 2) ``size``, a square of side
    ``size``, a ring of diameter ``size`` and width ``thickness``.

    Example::

        {"type": "shape", "params": {"kind": "ring", "tiles": 4, "size": 0.7, "thickness": 0.15}}
    """
    u, v = uv_grid(res, size, device)
    qx = torch.remainder(u * tiles, 1.0) - 0.5
    qy = torch.remainder(v * tiles, 1.0) - 0.5
    qx, qy = rotate(qx, qy, rotation, u)
    sd = shape_distance(qx, qy, kind, pv(size, u), pv(thickness, u), sides)
    return finish(soft_step(-sd, softness, u), res, batch)


def stripes(
    count: int = 8, direction: str = "horizontal", width: torch.Tensor | float = 0.5,
    softness: torch.Tensor | float = 0.1, offset: torch.Tensor | float = 0.0,
    *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """``count`` soft stripes across the texture; ``width`` is the white fraction of each period.

    ``s = cos(2 pi (count * p + offset))`` and ``out = sigmoid((s - cos(pi width)) / softness)``,
    ``p`` the coordinate along ``direction`` (stripes run across it).

    Example::

        {"type": "stripes", "params": {"count": 12, "direction": "vertical", "width": 0.3}}
    """
    u, v = uv_grid(res, width, device)
    s = torch.cos(2.0 * math.pi * (count * projection(u, v, direction) + pv(offset, u)))
    return finish(soft_step(s - torch.cos(math.pi * pv(width, u)), softness, u), res, batch)


def checker(tiles: int = 4, softness: torch.Tensor | float = 0.05, *, res: int, batch: int = 1,
            device=None) -> torch.Tensor:
    """Soft checkerboard of ``2 tiles x 2 tiles`` squares: ``sigmoid(sin(2 pi n u) sin(2 pi n v) / softness)``.

    Example::

        {"type": "checker", "params": {"tiles": 4, "softness": 0.02}}
    """
    u, v = uv_grid(res, softness, device)
    p = torch.sin(2.0 * math.pi * tiles * u) * torch.sin(2.0 * math.pi * tiles * v)
    return finish(soft_step(p, softness, u), res, batch)


def _thread(cross: torch.Tensor, along: torch.Tensor, width: torch.Tensor, period: int, phase: float,
            sign: float) -> torch.Tensor:
    """Height of the threads running along ``along``: a round profile across, rising where they pass over."""
    k = torch.floor(cross).detach()
    x = (cross - k - 0.5) / (0.5 * width)
    lift = 0.5 + 0.5 * sign * torch.cos(2.0 * math.pi * (along - 0.5 - k) / period - sign * phase)
    return torch.exp(-2.0 * x * x) * (0.35 + 0.65 * lift)


def weave(
    threads: int = 8, pattern: str = "plain", thread_width: torch.Tensor | float = 0.8,
    softness: torch.Tensor | float = 0.05, *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """Woven fabric height: ``threads`` warp (vertical) and weft (horizontal) threads interlaced.

    Plain weave goes over one, under one; twill over two, under two, stepping
    one thread per row (diagonal ribs). Each thread has a Gaussian profile
    ``thread_width`` (fraction of its cell) wide and rises where it passes
    over; the two layers are merged by a soft maximum of temperature
    ``softness``. The thread count is rounded up to a multiple of the pattern
    period so the weave tiles.

    Example::

        {"type": "weave", "params": {"threads": 12, "pattern": "twill", "thread_width": 0.7}}
    """
    if pattern not in WEAVES:
        raise ValueError(f"weave: unknown pattern {pattern!r}; expected one of {list(WEAVES)}")
    period, phase = (2, 0.0) if pattern == "plain" else (4, math.pi / 4.0)
    n = -(-threads // period) * period
    u, v = uv_grid(res, thread_width, device)
    cu, cv = u * n + 0.0 * v, v * n + 0.0 * u
    w = pv(thread_width, u)
    warp = _thread(cu, cv, w, period, phase, 1.0)
    weft = _thread(cv, cu, w, period, phase, -1.0)
    t = pv(softness, u).clamp_min(1e-3)
    height = t * torch.logaddexp(warp / t, weft / t) - t * math.log(2.0)
    return finish(height.clamp(0.0, 1.0), res, batch)


def spectral_noise(
    seed: int = 0, scale: torch.Tensor | float = 0.05, anisotropy: torch.Tensor | float = 0.0,
    angle: torch.Tensor | float = 0.0, *, res: int, batch: int = 1, device=None,
) -> torch.Tensor:
    """Tileable Gaussian noise with an (anisotropic) feature size, differentiable in its shape.

    White noise fixed by ``seed`` is filtered in the Fourier domain by a
    Gaussian of standard deviation ``scale`` UV across ``angle`` (turns) and
    ``scale / (1 - anisotropy)`` along it (streaks for brushed metal, grain),
    standardized per image to ``z`` and mapped to ``0.5 + 0.5 tanh(z / 2)``.

    Example::

        {"type": "spectral_noise", "params": {"seed": 3, "scale": 0.01, "anisotropy": 0.9, "angle": 0.0}}
    """
    u, _ = uv_grid(res, scale, device)
    idx = torch.arange(res * res, device=u.device).view(1, 1, res, res)
    white = (uniform(idx, seed, 7) - 0.5).to(u.dtype)
    ky, kx = frequencies(res, res, u)
    a = pv(angle, u) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    k_along = kx * c - ky * s
    k_across = kx * s + ky * c
    sig = pv(scale, u)
    sig_along = sig / (1.0 - pv(anisotropy, u).clamp(0.0, 0.99))
    response = torch.exp(-2.0 * math.pi**2 * (sig_along**2 * k_along**2 + sig**2 * k_across**2))
    noise = fourier_filter(white, response)
    noise = noise - noise.mean(dim=(-2, -1), keepdim=True)
    z = noise / torch.sqrt(noise.pow(2).mean(dim=(-2, -1), keepdim=True) + 1e-12)
    return finish(0.5 + 0.5 * torch.tanh(0.5 * z), res, batch)


# ------------------------------------------------------------------- specs
_DIR = e("direction", "horizontal", DIRECTIONS, doc="u, v, u + v or u - v (integer directions tile)")

SPECS: tuple[NodeSpec, ...] = (
    node(
        "linear_gradient", linear_gradient, (),
        (
            i("repeats", 1, 1, 64, doc="ramps across the texture"),
            _DIR,
            f("offset", 0.0, 0.0, 1.0, doc="phase shift in periods"),
        ),
        out="gray",
    ),
    node(
        "radial_gradient", radial_gradient, (),
        (
            vec2("center", (0.5, 0.5), 0.0, 1.0, doc="centre in UV"),
            f("radius", 0.5, 0.01, 1.0, doc="distance (UV) where the gradient reaches 0"),
        ),
        out="gray",
    ),
    node(
        "shape", shape, (),
        (
            e("kind", "disc", SHAPES, doc="shape drawn in every cell"),
            i("tiles", 1, 1, 64, doc="cells across the texture"),
            f("size", 0.6, 0.0, 1.5, doc="diameter (side for square) as a fraction of the cell"),
            f("softness", 0.01, 0.001, 0.5, doc="edge width (cell units)"),
            f("rotation", 0.0, -0.5, 0.5, doc="turns, counter-clockwise"),
            f("thickness", 0.1, 0.0, 1.0, doc="ring width (cell units)"),
            i("sides", 6, 3, 16, doc="polygon sides"),
        ),
        out="gray",
    ),
    node(
        "stripes", stripes, (),
        (
            i("count", 8, 1, 256, doc="stripes across the texture"),
            _DIR,
            f("width", 0.5, 0.0, 1.0, doc="white fraction of each period"),
            f("softness", 0.1, 0.001, 1.0, doc="edge softness"),
            f("offset", 0.0, 0.0, 1.0, doc="phase shift in periods"),
        ),
        out="gray",
    ),
    node(
        "checker", checker, (),
        (
            i("tiles", 4, 1, 64, doc="pairs of squares across the texture"),
            f("softness", 0.05, 0.001, 1.0, doc="edge softness"),
        ),
        out="gray",
    ),
    node(
        "weave", weave, (),
        (
            i("threads", 8, 2, 128, doc="threads across the texture, each way (rounded to the pattern period)"),
            e("pattern", "plain", WEAVES, doc="over-under order"),
            f("thread_width", 0.8, 0.1, 1.5, doc="thread width as a fraction of its cell"),
            f("softness", 0.05, 0.001, 0.5, doc="smoothness where warp and weft meet"),
        ),
        out="gray",
    ),
    node(
        "spectral_noise", spectral_noise, (),
        (
            i("seed", 0, 0, 100000, doc="random phases"),
            f("scale", 0.05, 0.002, 0.5, doc="feature size (Gaussian standard deviation) in UV, across the streaks"),
            f("anisotropy", 0.0, 0.0, 0.98, doc="stretch along angle: scale / (1 - anisotropy)"),
            f("angle", 0.0, 0.0, 1.0, doc="streak direction, turns"),
        ),
        out="gray",
    ),
)
