"""Tileable gradient (Perlin) noise and its fractal sum (clouds).

Perlin noise: the tile is a ``scale`` x ``scale`` lattice; lattice point
(cx, cy) (indices wrapped modulo ``scale``, so the noise tiles) carries a unit
gradient at angle ``2 pi U0 + pi disorder S1`` with U0 uniform in [0, 1) and S1
uniform in [-1, 1), both hashed from (cx, cy, seed, stream). ``disorder`` thus
rotates every gradient smoothly by its own random angle of up to half a turn:
0 gives the base pattern, and small changes give small image changes. A pixel
blends the four corner ramps ``g . (p - corner)`` with the quintic fade, so the
raw noise vanishes at lattice points and lies in [-sqrt(1/2), sqrt(1/2)] (the
bound for unit gradients in 2-D). The output is ``0.5 + raw / sqrt(2)``: exactly
[0, 1], 0.5 at lattice points.

Clouds: octave o (0-based) is Perlin noise at ``scale * 2^o`` with its own
gradients (hash stream per octave; octave 0 is the Perlin noise of the same
seed) and amplitude ``roughness^o``. The sum over the first ``octaves`` octaves is
divided by ``sqrt(sum amplitude^2)`` (octaves are independent, so this keeps the
contrast of a single octave instead of fading to grey as octaves add up), then
mapped like Perlin noise and clamped (rarely active). ``octaves = 1`` (or
``roughness = 0``) reproduces ``perlin_noise``. Octaves whose lattice is finer
than the pixel grid (``scale * 2^o > res``) are skipped (their amplitude still
counts in the normalization), so lower resolutions look like low-passed higher
ones.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from ...params import f, i
from ._grid import Params, batch_table, cell_table, evaluate_batched, fade, flat_index, lattice_coords
from .base import GeneratorSpec

RAW_BOUND = math.sqrt(0.5)  # max |raw Perlin| with unit gradients in 2-D
MAX_OCTAVES = 8


def gradient_angles(size: int, disorder: torch.Tensor, seed: int, octave: int = 0) -> torch.Tensor:
    """Gradient angle (radians) of every lattice point, (B, size, size) indexed [b, cy, cx]."""
    base = cell_table(size, seed, 2 * octave, disorder.device)
    turn = cell_table(size, seed, 2 * octave + 1, disorder.device) * 2.0 - 1.0
    return 2.0 * math.pi * base + math.pi * disorder.reshape(-1, 1, 1) * turn


def perlin_raw(n: torch.Tensor, disorder: torch.Tensor, res: int, seed: int, octave: int = 0) -> torch.Tensor:
    """Raw tileable gradient noise (B, H, W) in [-sqrt(1/2), sqrt(1/2)] for ``n`` (B,) lattice cells per side."""
    batch = n.shape[0]
    size = int(n.max().item())
    ix, fx, iy, fy = lattice_coords(n, res)
    theta = gradient_angles(size, disorder, seed, octave)
    gx, gy = batch_table(torch.cos(theta), batch), batch_table(torch.sin(theta), batch)

    def ramp(dx: int, dy: int) -> torch.Tensor:
        idx = flat_index(ix + dx, iy + dy, n, size)
        return gx.take(idx) * (fx - dx) + gy.take(idx) * (fy - dy)

    sx, sy = fade(fx), fade(fy)
    top = torch.lerp(ramp(0, 0), ramp(1, 0), sx)
    bottom = torch.lerp(ramp(0, 1), ramp(1, 1), sx)
    return torch.lerp(top, bottom, sy)


def _to_unit(raw: torch.Tensor) -> torch.Tensor:
    """Map raw noise in [-RAW_BOUND, RAW_BOUND] to [0, 1] as (B, 1, H, W)."""
    return (0.5 + raw * (0.5 / RAW_BOUND)).clamp(0.0, 1.0).unsqueeze(1)


def _perlin_chunk(p: Params, key: tuple[int, ...], res: int, seed: int) -> torch.Tensor:
    return _to_unit(perlin_raw(p["scale"], p["disorder"], res, seed))


def _clouds_chunk(p: Params, key: tuple[int, ...], res: int, seed: int) -> torch.Tensor:
    scale, octaves, rough = p["scale"], p["octaves"], p["roughness"]
    batch = scale.shape[0]
    total = torch.zeros(batch, res, res, device=scale.device)
    norm = torch.zeros(batch, device=scale.device)
    for o in range(int(octaves.max().item())):
        amp = torch.where(octaves > o, rough.pow(o), torch.zeros_like(rough))
        norm = norm + amp * amp
        n = scale * (2 ** o)
        active = torch.nonzero((amp > 0) & (n <= res)).reshape(-1)
        if active.numel() == 0:
            continue
        raw = perlin_raw(n[active], p["disorder"][active], res, seed, octave=o)
        total[active] += amp[active].reshape(-1, 1, 1) * raw
    return _to_unit(total / norm.sqrt().reshape(batch, 1, 1))


def perlin_noise(params: Params, res: int, seed: int) -> torch.Tensor:
    """Perlin noise generator function (see module docstring).

    Example::

        {"type": "perlin_noise", "params": {"scale": 8, "disorder": 0.3}}
    """
    return evaluate_batched(params, res, partial(_perlin_chunk, res=res, seed=seed))


def clouds(params: Params, res: int, seed: int) -> torch.Tensor:
    """Clouds generator function (see module docstring).

    Example::

        {"type": "clouds", "params": {"scale": 4, "octaves": 6, "roughness": 0.55}}
    """
    return evaluate_batched(params, res, partial(_clouds_chunk, res=res, seed=seed))


_SCALE_DOC = "Lattice cells per tile side."
_DISORDER_DOC = "Rotates each lattice gradient by its own random angle, up to half a turn at 1."

SPECS: tuple[GeneratorSpec, ...] = (
    GeneratorSpec(
        name="perlin_noise",
        fn=perlin_noise,
        params=(
            i("scale", 8, 1, 64, doc=_SCALE_DOC),
            f("disorder", 0.0, doc=_DISORDER_DOC),
        ),
        doc="Tileable Perlin gradient noise, 0.5 at lattice points.",
        sample_box={"scale": (1, 32)},
        stochastic=True,
        direct=("disorder",),
    ),
    GeneratorSpec(
        name="clouds",
        fn=clouds,
        params=(
            i("scale", 4, 1, 64, doc="Lattice cells per tile side of the first octave."),
            i("octaves", 6, 1, MAX_OCTAVES, doc="Number of summed octaves (each twice as fine)."),
            f("roughness", 0.5, doc="Amplitude ratio between successive octaves (persistence)."),
            f("disorder", 0.0, doc=_DISORDER_DOC),
        ),
        doc="Fractal sum of tileable Perlin octaves, normalized to the contrast of one octave.",
        sample_box={"scale": (2, 8), "octaves": (3, 8)},
        stochastic=True,
        direct=("roughness", "disorder"),
    ),
)
