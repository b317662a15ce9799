"""Blur and warp variants: non-uniform, anisotropic and morphological blurs; vector and
multi-directional warps; mirror and safe transform.

Conventions of :mod:`proxymat.nodes.filters.spatial`: periodic (Fourier)
convolutions, distances in UV, angles in turns counter-clockwise from +X with
+Y up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...params import e, f, i, vec2
from ..spec import NodeSpec, PortSpec, node, pv, vec_parts
from .spatial import (
    WARP_SCALE, direction, displace, fourier_filter, frequencies, gaussian_blur, grad_uv, pixel_grid, sample_periodic,
)

# Fractions of ``radius`` blended by non_uniform_blur as the amount goes 0 -> 1.
BLUR_LEVELS = (0.0, 0.25, 0.5, 1.0)
MORPH_MODES = ("dilate", "erode")
MIRROR_AXES = ("horizontal", "vertical", "both")
ROTATIONS = ("0", "90", "180", "270")


def non_uniform_blur(
    input: torch.Tensor, amount: torch.Tensor, radius: torch.Tensor | float = 0.02
) -> torch.Tensor:
    """Blur whose strength follows a gray map: ``amount`` 0 keeps the pixel, 1 blurs it by ``radius``.

    The input is blurred at ``radius * (0, 1/4, 1/2, 1)`` and each pixel
    interpolates linearly between the two levels around its amount.

    Example::

        {"type": "non_uniform_blur", "inputs": {"input": "albedo", "amount": "wetness"}, "params": {"radius": 0.03}}
    """
    a = amount.clamp(0.0, 1.0) * (len(BLUR_LEVELS) - 1)
    r = torch.as_tensor(radius, dtype=input.dtype, device=input.device)
    out = torch.zeros_like(input * a)
    for k, level in enumerate(BLUR_LEVELS):
        hat = (1.0 - (a - k).abs()).clamp_min(0.0)
        out = out + hat * (input if level == 0.0 else gaussian_blur(input, r * level))
    return out


def anisotropic_blur(
    input: torch.Tensor, radius: torch.Tensor | float = 0.02, anisotropy: torch.Tensor | float = 0.5,
    angle: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Elliptical Gaussian blur: standard deviation ``radius`` along ``angle``, ``radius (1 - anisotropy)`` across.

    Example::

        {"type": "anisotropic_blur", "inputs": {"input": "noise"}, "params": {"radius": 0.05, "anisotropy": 0.9}}
    """
    h, w = input.shape[-2:]
    ky, kx = frequencies(h, w, input)
    a = pv(angle, input) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    along = kx * c - ky * s
    across = kx * s + ky * c
    r = pv(radius, input)
    r2 = r * (1.0 - pv(anisotropy, input))
    return fourier_filter(input, torch.exp(-2.0 * math.pi**2 * (r * r * along * along + r2 * r2 * across * across)))


def local_blur(x: torch.Tensor, radius: torch.Tensor | float) -> torch.Tensor:
    """Periodic Gaussian blur (standard deviation ``radius`` UV) in real space, separable, 3 sigma wide.

    Unlike the Fourier blur it adds no round-off floor, so tiny positive values
    (the exponentials of :func:`morphology`) stay positive and exact.
    """
    b, c, h, w = x.shape
    r = torch.as_tensor(radius, dtype=x.dtype, device=x.device).reshape(-1).clamp_min(1e-6)
    if r.numel() == 1:
        r = r.expand(b)
    r = r.repeat_interleave(c)  # one sigma per (item, channel) group
    out = x.reshape(1, b * c, h, w)
    for dim, n in ((-1, w), (-2, h)):
        half = min(int(math.ceil(3.0 * float(r.max().detach()) * n)), (n - 1) // 2)
        if half == 0:
            continue
        taps = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device) / n
        kernel = torch.exp(-0.5 * (taps.view(1, -1) / r.view(-1, 1)) ** 2)
        kernel = kernel / kernel.sum(-1, keepdim=True)
        if dim == -1:
            out = F.conv2d(F.pad(out, (half, half, 0, 0), mode="circular"), kernel.view(-1, 1, 1, 2 * half + 1),
                           groups=b * c)
        else:
            out = F.conv2d(F.pad(out, (0, 0, half, half), mode="circular"), kernel.view(-1, 1, 2 * half + 1, 1),
                           groups=b * c)
    return out.reshape(b, c, h, w)


def morphology(
    input: torch.Tensor, radius: torch.Tensor | float = 0.03, mode: str = "dilate",
    softness: torch.Tensor | float = 0.05,
) -> torch.Tensor:
    """Soft dilation (grow bright areas) or erosion over a Gaussian neighbourhood of ``radius`` UV.

    ``dilate = s log(blur(exp(x / s)))`` (a smooth maximum, temperature
    ``softness``, with a real-space Gaussian 3 sigma wide); erode is its
    mirror. Stays within the input's range.

    Example::

        {"type": "morphology", "inputs": {"input": "mask"}, "params": {"radius": 0.01, "mode": "erode"}}
    """
    if mode not in MORPH_MODES:
        raise ValueError(f"morphology: unknown mode {mode!r}; expected one of {list(MORPH_MODES)}")
    sign = 1.0 if mode == "dilate" else -1.0
    x = sign * input
    top = x.amax(dim=(-2, -1), keepdim=True)
    bottom = x.amin(dim=(-2, -1), keepdim=True)
    s = pv(softness, input).clamp_min(1e-3)
    pooled = local_blur(torch.exp((x - top) / s), radius)
    pooled = torch.maximum(pooled, torch.exp((bottom - top) / s))
    return sign * (top + s * torch.log(pooled))


def vector_warp(
    input: torch.Tensor, vector: torch.Tensor, intensity: torch.Tensor | float = 0.05
) -> torch.Tensor:
    """Displace by a vector map: ``out(p) = input(p + intensity * (2r - 1, 2g - 1))`` with g toward +Y (up).

    Mid gray (0.5, 0.5) leaves the pixel in place.

    Example::

        {"type": "vector_warp", "inputs": {"input": "grain", "vector": "flow"}, "params": {"intensity": 0.02}}
    """
    k = pv(intensity, input)
    return displace(input, k * (2.0 * vector[:, 0:1] - 1.0), -k * (2.0 * vector[:, 1:2] - 1.0))


def multi_directional_warp(
    input: torch.Tensor, intensity_input: torch.Tensor, intensity: torch.Tensor | float = 0.02,
    angle: torch.Tensor | float = 0.0, directions: int = 4,
) -> torch.Tensor:
    """Average of ``directions`` directional warps at evenly spaced angles from ``angle`` (turns).

    Each moves content by ``intensity * g`` UV (g the gray input), so texture
    spreads without a dominant direction (cracks, rust creep).

    Example::

        {"type": "multi_directional_warp", "inputs": {"input": "cracks", "intensity_input": "clouds"}, "params": {"intensity": 0.01}}
    """
    if directions < 1:
        raise ValueError(f"multi_directional_warp: directions must be >= 1, got {directions}")
    s = pv(intensity, input) * intensity_input
    acc = torch.zeros_like(input * s)
    for k in range(directions):
        ex, ey = direction(torch.as_tensor(angle) + k / directions, input)
        acc = acc + displace(input, -s * ex, -s * ey)
    return acc / directions


def slope_blur_extrema(
    input: torch.Tensor, slope: torch.Tensor, intensity: torch.Tensor | float = 1.0, mode: str = "max",
    softness: torch.Tensor | float = 0.05, samples: int = 8,
) -> torch.Tensor:
    """Slope blur that keeps the brightest (``max``) or darkest (``min``) lookup instead of the mean.

    The lookups are those of ``slope_blur`` (``samples`` points along
    ``intensity / 256 * grad(slope)``), merged by a smooth maximum or minimum
    of temperature ``softness``: bright features smear into streaks without
    fading (rust runs, dripping dirt, eroded edges).

    Example::

        {"type": "slope_blur_extrema", "inputs": {"input": "spots", "slope": "clouds"}, "params": {"intensity": 6.0, "mode": "max"}}
    """
    if mode not in ("max", "min"):
        raise ValueError(f"slope_blur_extrema: unknown mode {mode!r}; expected 'max' or 'min'")
    if samples < 1:
        raise ValueError(f"slope_blur_extrema: samples must be >= 1, got {samples}")
    gu, gv = grad_uv(slope)
    k = pv(intensity, input) * WARP_SCALE
    sign = 1.0 if mode == "max" else -1.0
    looks = torch.stack([displace(input, (j + 0.5) / samples * k * gu, (j + 0.5) / samples * k * gv)
                         for j in range(samples)])
    s = pv(softness, input).clamp_min(1e-3)
    merged = s * torch.logsumexp(sign * looks / s, dim=0) - s * math.log(samples)
    return (sign * merged).clamp(0.0, 1.0)


def mirror(input: torch.Tensor, axis: str = "horizontal") -> torch.Tensor:
    """Mirror the left half onto the right (``horizontal``), the top onto the bottom, or both.

    The result is symmetric and still tiles.

    Example::

        {"type": "mirror", "inputs": {"input": "wood"}, "params": {"axis": "both"}}
    """
    if axis not in MIRROR_AXES:
        raise ValueError(f"mirror: unknown axis {axis!r}; expected one of {list(MIRROR_AXES)}")
    out = input
    for dim, name in ((-1, "horizontal"), (-2, "vertical")):
        if axis in (name, "both"):
            n = out.shape[dim]
            idx = torch.arange(n, device=out.device)
            idx = torch.where(idx < n // 2, idx, n - 1 - idx)
            out = out.index_select(dim, idx)
    return out


def safe_transform(
    input: torch.Tensor, tiles: int = 1, rotation: str = "0",
    offset: torch.Tensor | tuple[float, float] = (0.0, 0.0),
) -> torch.Tensor:
    """Transform that always tiles: repeat ``tiles x tiles`` times, rotate by a multiple of 90 degrees
    (counter-clockwise), then translate by ``offset`` UV (x right, y down; bilinear).

    Example::

        {"type": "safe_transform", "inputs": {"input": "planks"}, "params": {"tiles": 2, "rotation": "90", "offset": [0.5, 0.0]}}
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"safe_transform: unknown rotation {rotation!r}; expected one of {list(ROTATIONS)}")
    h, w = input.shape[-2:]
    px, py = pixel_grid(input)
    ox, oy = vec_parts(torch.as_tensor(offset), input)
    x = (px + 0.5) / w - ox
    y = (py + 0.5) / h - oy
    for _ in range(ROTATIONS.index(rotation)):  # undo a quarter turn counter-clockwise on screen
        x, y = 1.0 - y, x
    return sample_periodic(input, x * tiles * w - 0.5, y * tiles * h - 0.5)


# ------------------------------------------------------------------- specs
_IN = PortSpec("input", "any")
_ANGLE = "turns, counter-clockwise from +X (right), +Y up"

SPECS: tuple[NodeSpec, ...] = (
    node(
        "non_uniform_blur", non_uniform_blur, (_IN, PortSpec("amount", "gray", doc="blur strength per pixel")),
        (f("radius", 0.02, 0.0, 0.2, doc="blur standard deviation (UV) where the amount is 1"),),
    ),
    node(
        "anisotropic_blur", anisotropic_blur, (_IN,),
        (
            f("radius", 0.02, 0.0, 0.2, doc="standard deviation along the angle (UV)"),
            f("anisotropy", 0.5, 0.0, 1.0, doc="0 = round, 1 = a line"),
            f("angle", 0.0, 0.0, 1.0, doc=f"blur direction, {_ANGLE}"),
        ),
    ),
    node(
        "morphology", morphology, (_IN,),
        (
            f("radius", 0.03, 0.0, 0.1, doc="neighbourhood standard deviation (UV)"),
            e("mode", "dilate", MORPH_MODES, doc="grow (dilate) or shrink (erode) bright areas"),
            f("softness", 0.05, 0.005, 0.5, doc="temperature of the smooth maximum"),
        ),
    ),
    node(
        "vector_warp", vector_warp, (_IN, PortSpec("vector", "color", doc="displacement in r (x) and g (y up)")),
        (f("intensity", 0.05, 0.0, 0.5, doc="displacement (UV) for a full-scale vector"),),
    ),
    node(
        "multi_directional_warp", multi_directional_warp,
        (_IN, PortSpec("intensity_input", "gray", doc="gray image scaling the displacement")),
        (
            f("intensity", 0.02, 0.0, 0.2, doc="displacement in UV where the gray input is 1"),
            f("angle", 0.0, 0.0, 1.0, doc=f"first direction, {_ANGLE}"),
            i("directions", 4, 1, 16, doc="number of evenly spaced directions"),
        ),
    ),
    node(
        "slope_blur_extrema", slope_blur_extrema,
        (_IN, PortSpec("slope", "gray", doc="gray image whose gradient gives the smear direction")),
        (
            f("intensity", 1.0, -10.0, 10.0, doc="smear length = intensity/256 * gradient (UV); < 0 goes downhill"),
            e("mode", "max", ("max", "min"), doc="keep the brightest or the darkest lookup"),
            f("softness", 0.05, 0.005, 0.5, doc="temperature of the smooth max/min"),
            i("samples", 8, 1, 32, doc="number of lookups along the smear"),
        ),
    ),
    node("mirror", mirror, (_IN,), (e("axis", "horizontal", MIRROR_AXES, doc="which half is mirrored"),),
         shift_equivariant=False),
    node(
        "safe_transform", safe_transform, (_IN,),
        (
            i("tiles", 1, 1, 16, doc="repetitions across the texture"),
            e("rotation", "0", ROTATIONS, doc="quarter turns, counter-clockwise"),
            vec2("offset", (0.0, 0.0), -1.0, 1.0, doc="translation in UV (x right, y down)"),
        ),
        shift_equivariant=False,
    ),
)
