"""Spatial filters: blurs, sharpen, highpass, warps, 2-D transform, edges, slope blur, AO.

Conventions shared by every node here:

* everything tiles: convolutions are done in the Fourier domain (exactly
  periodic) and resampling wraps coordinates around the texture;
* distances are in UV units (the texture spans 1.0), so a graph looks the same
  at any resolution; derivatives are taken with respect to UV;
* angles are in turns (1.0 = full circle), measured counter-clockwise from +X
  (right) with +Y pointing up (toward row 0), like the OpenGL normal maps;
* blurs are Gaussian with a closed-form Fourier transform, so they are
  differentiable with respect to their radius at any size, even one wider than
  the image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...params import f, i, vec2
from ..spec import NodeSpec, PortSpec, node, pv, vec_parts

# Displacement (UV) per unit of intensity and of UV gradient in warp and slope_blur.
WARP_SCALE = 1.0 / 256.0
# Occlusion depth (height units) to darkening exponent in ambient_occlusion.
AO_SCALE = 4.0
# Radii of ambient_occlusion relative to its ``radius`` parameter.
AO_RADII = (1.0, 0.5, 0.25)
# Softening of the gradient magnitude in edge_detect (dimensionless).
_EDGE_EPS = 1e-3


# ----------------------------------------------------------------- helpers
def frequencies(h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer frequencies (cycles per UV) of an ``rfft2`` spectrum: ``ky (h, 1)`` along rows, ``kx (1, w//2+1)``."""
    ky = torch.fft.fftfreq(h, d=1.0 / h, dtype=like.dtype, device=like.device).view(h, 1)
    kx = torch.fft.rfftfreq(w, d=1.0 / w, dtype=like.dtype, device=like.device).view(1, -1)
    return ky, kx


def fourier_filter(x: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """Periodic convolution: multiply the ``rfft2`` spectrum of ``x`` by a real ``response``."""
    h, w = x.shape[-2:]
    spectrum = torch.fft.rfft2(x)
    return torch.fft.irfft2(spectrum * response, s=(h, w))


def gaussian_response(x: torch.Tensor, radius: torch.Tensor | float) -> torch.Tensor:
    """Fourier response of an isotropic Gaussian of standard deviation ``radius`` (UV)."""
    ky, kx = frequencies(x.shape[-2], x.shape[-1], x)
    r = pv(radius, x)
    return torch.exp(-2.0 * math.pi**2 * r * r * (kx * kx + ky * ky))


def gaussian_blur(x: torch.Tensor, radius: torch.Tensor | float) -> torch.Tensor:
    """Periodic Gaussian blur; ``radius`` is the standard deviation in UV (0 = identity)."""
    return fourier_filter(x, gaussian_response(x, radius))


def _nyquist_signs(k: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors (1, -1 at the Nyquist frequency of an even size ``n``, else 1) for ``k``."""
    flip = torch.where(k.abs() == n / 2, -1.0, 1.0).to(k.dtype)
    return torch.ones_like(k), flip


def pixel_grid(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column and row indices as float grids ``(1, 1, 1, W)`` and ``(1, 1, H, 1)``."""
    h, w = like.shape[-2:]
    px = torch.arange(w, dtype=like.dtype, device=like.device).view(1, 1, 1, w)
    py = torch.arange(h, dtype=like.dtype, device=like.device).view(1, 1, h, 1)
    return px, py


def sample_periodic(x: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of ``x`` at pixel coordinates ``(px, py)`` with wrap-around.

    Pixel centres lie at integer coordinates (column ``px``, row ``py``). The
    coordinate tensors broadcast to ``(B, 1, H', W')``; gradients flow to ``x``
    and to the coordinates. Coordinates are wrapped into one period and looked
    up in the image padded circularly by one pixel, so ``grid_sample`` never
    reads outside it.
    """
    px, py = torch.broadcast_tensors(px, py)
    b = max(x.shape[0], px.shape[0])
    c, h, w = x.shape[1:]
    px = torch.remainder(px, w).expand(b, 1, *px.shape[2:])
    py = torch.remainder(py, h).expand(b, 1, *py.shape[2:])
    padded = F.pad(x.expand(b, c, h, w), (0, 1, 0, 1), mode="circular")
    # align_corners=True: -1 and 1 are the centres of padded pixels 0 and w (h).
    grid = torch.stack([px[:, 0] * (2.0 / w) - 1.0, py[:, 0] * (2.0 / h) - 1.0], dim=-1)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=True)


def displace(x: torch.Tensor, du: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
    """``out(p) = x(p + d)`` for a displacement ``d = (du, dv)`` in UV (v down, image rows)."""
    h, w = x.shape[-2:]
    px, py = pixel_grid(x)
    return sample_periodic(x, px + du * w, py + dv * h)


def grad_uv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central-difference derivatives ``(d/du, d/dv)`` per UV; v points down (increasing row)."""
    h, w = x.shape[-2:]
    du = (torch.roll(x, -1, -1) - torch.roll(x, 1, -1)) * (0.5 * w)
    dv = (torch.roll(x, -1, -2) - torch.roll(x, 1, -2)) * (0.5 * h)
    return du, dv


def sobel_uv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives ``(d/du, d/dv)`` per UV (central differences smoothed 1-2-1 across)."""
    du, dv = grad_uv(x)
    du = (torch.roll(du, 1, -2) + 2.0 * du + torch.roll(du, -1, -2)) * 0.25
    dv = (torch.roll(dv, 1, -1) + 2.0 * dv + torch.roll(dv, -1, -1)) * 0.25
    return du, dv


def direction(angle: torch.Tensor | float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit vector of ``angle`` (turns, +Y up) as ``(du, dv)`` in image UV (v down)."""
    a = pv(angle, like) * (2.0 * math.pi)
    return torch.cos(a), -torch.sin(a)


# ------------------------------------------------------------------- nodes
def blur(input: torch.Tensor, radius: torch.Tensor | float = 0.01) -> torch.Tensor:
    """Gaussian blur; ``radius`` is the standard deviation in UV (0 = identity).

    Done in the Fourier domain: tiles exactly, keeps the mean, and any radius
    (even wider than the texture) has a gradient.

    Example::

        {"type": "blur", "inputs": {"input": "noise"}, "params": {"radius": 0.02}}
    """
    return gaussian_blur(input, radius)


def sharpen(
    input: torch.Tensor, amount: torch.Tensor | float = 1.0, radius: torch.Tensor | float = 0.005
) -> torch.Tensor:
    """Unsharp mask: ``x + amount * (x - blur(x, radius))`` (not clamped).

    Example::

        {"type": "sharpen", "inputs": {"input": "albedo"}, "params": {"amount": 0.5}}
    """
    return input + pv(amount, input) * (input - gaussian_blur(input, radius))


def highpass(input: torch.Tensor, radius: torch.Tensor | float = 0.02) -> torch.Tensor:
    """``x - blur(x, radius) + 0.5``: detail above the scale ``radius`` around mid gray.

    Example::

        {"type": "highpass", "inputs": {"input": "height"}, "params": {"radius": 0.05}}
    """
    return input - gaussian_blur(input, radius) + 0.5


def directional_blur(
    input: torch.Tensor, angle: torch.Tensor | float = 0.0, length: torch.Tensor | float = 0.05
) -> torch.Tensor:
    """Blur along one direction (motion blur), symmetric around each pixel.

    The kernel is a 1-D Gaussian along ``angle`` (turns) with the spread of a
    box of ``length`` UV (standard deviation ``length / sqrt(12)``); a Gaussian
    avoids the ringing of a hard box. ``angle`` and ``angle + 0.5`` agree.

    Example::

        {"type": "directional_blur", "inputs": {"input": "noise"}, "params": {"angle": 0.0, "length": 0.2}}
    """
    h, w = input.shape[-2:]
    ky, kx = frequencies(h, w, input)
    a = pv(angle, input) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    var = 2.0 * math.pi**2 * (pv(length, input) / math.sqrt(12.0)) ** 2
    # The Nyquist frequency of an even size is both +N/2 and -N/2; averaging the
    # response over both signs keeps the filter real and symmetric.
    response = 0.0
    for sy in _nyquist_signs(ky, h):
        for sx in _nyquist_signs(kx, w):
            # Rows grow downward, so the +Y (up) component of the frequency is -ky.
            k_along = kx * sx * c - ky * sy * s
            response = response + torch.exp(-var * k_along * k_along)
    return fourier_filter(input, response / 4.0)


def warp(
    input: torch.Tensor, intensity_input: torch.Tensor, intensity: torch.Tensor | float = 1.0
) -> torch.Tensor:
    """Displace ``input`` by the gradient of ``intensity_input``.

    ``out(p) = input(p + intensity * WARP_SCALE * grad(g)(p))`` with the
    gradient per UV (u right, v down) and WARP_SCALE = 1/256: a gray ramp rising
    by 1 across the texture shifts by ``intensity / 256`` UV.

    Example::

        {"type": "warp", "inputs": {"input": "tiles", "intensity_input": "clouds"}, "params": {"intensity": 2.0}}
    """
    du, dv = grad_uv(intensity_input)
    k = pv(intensity, input) * WARP_SCALE
    return displace(input, k * du, k * dv)


def directional_warp(
    input: torch.Tensor,
    intensity_input: torch.Tensor,
    intensity: torch.Tensor | float = 0.05,
    angle: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Move content by ``intensity * g`` UV along ``angle`` (turns, +Y up), ``g`` the gray input.

    ``out(p) = input(p - intensity * g(p) * dir(angle))``: with g = 1 and angle 0
    the image slides right by ``intensity``.

    Example::

        {"type": "directional_warp", "inputs": {"input": "grain", "intensity_input": "clouds"}, "params": {"intensity": 0.03, "angle": 0.25}}
    """
    ex, ey = direction(angle, input)
    s = pv(intensity, input) * intensity_input
    return displace(input, -s * ex, -s * ey)


def _scale_parts(scale: torch.Tensor | float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A vec2 scale ``(2,)``/``(B, 2)``, or a single number used for both axes."""
    t = torch.as_tensor(scale, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        return t, t
    return vec_parts(t, like)


def transform_2d(
    input: torch.Tensor,
    offset: torch.Tensor | tuple[float, float] = (0.0, 0.0),
    rotation: torch.Tensor | float = 0.0,
    scale: torch.Tensor | tuple[float, float] | float = (1.0, 1.0),
) -> torch.Tensor:
    """Scale, rotate (about the centre), then translate the image; resampled bilinearly with wrap.

    * ``offset`` (UV, x right and y down as image rows) moves the content:
      offset (0.25, 0) at 8 px equals ``torch.roll(x, 2, -1)``;
    * ``rotation`` in turns, counter-clockwise as seen on screen: 0.25 equals
      ``torch.rot90(x, 1, (-2, -1))`` on a square image;
    * ``scale`` per axis (a single number for both), > 1 enlarges the content.

    Outside the texture the input repeats, so the output always tiles for any
    offset. After a rotation or scaling it tiles exactly only when the
    transformed lattice maps onto itself, e.g. rotation a multiple of 0.25 turns
    and 1/scale an integer (scale 0.5 shows 2x2 copies); otherwise seams appear,
    as in Substance's Transform 2D. Non-integer pixel offsets blur slightly
    (bilinear resampling).

    Example::

        {"type": "transform_2d", "inputs": {"input": "tiles"}, "params": {"offset": [0.5, 0.0], "rotation": 0.25}}
    """
    h, w = input.shape[-2:]
    ox, oy = vec_parts(torch.as_tensor(offset), input)
    sx, sy = _scale_parts(scale, input)
    a = pv(rotation, input) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    px, py = pixel_grid(input)
    # Output point relative to the centre, with the translation removed.
    dx = (px + 0.5) / w - 0.5 - ox
    dy = (py + 0.5) / h - 0.5 - oy
    # Undo a counter-clockwise (on screen, rows down) rotation, then the scale.
    qx = (c * dx - s * dy) / sx
    qy = (s * dx + c * dy) / sy
    return sample_periodic(input, (qx + 0.5) * w - 0.5, (qy + 0.5) * h - 0.5)


def edge_detect(
    input: torch.Tensor, width: torch.Tensor | float = 0.005, contrast: torch.Tensor | float = 2.0
) -> torch.Tensor:
    """Soft edge magnitude in [0, 1): ``tanh(contrast * m)``.

    ``m = sqrt(2 pi) * width * |sobel(blur(x, width))|`` is about 1 on a unit
    step blurred over ``width`` UV (so edges grow ~``width`` wide at every
    resolution); the magnitude is softened near 0 to stay differentiable.

    Example::

        {"type": "edge_detect", "inputs": {"input": "tiles"}, "params": {"width": 0.01}}
    """
    du, dv = sobel_uv(gaussian_blur(input, width))
    k = math.sqrt(2.0 * math.pi) * pv(width, input)
    mag = torch.sqrt((k * du) ** 2 + (k * dv) ** 2 + _EDGE_EPS**2) - _EDGE_EPS
    return torch.tanh(pv(contrast, input) * mag)


def slope_blur(
    input: torch.Tensor,
    slope: torch.Tensor,
    intensity: torch.Tensor | float = 1.0,
    samples: int = 8,
) -> torch.Tensor:
    """Smear ``input`` along the gradient of the gray ``slope`` input.

    Averages ``samples`` lookups at ``p + t * v`` for ``t = (k + 0.5) / samples``,
    ``v = intensity * WARP_SCALE * grad(slope)`` (UV, uphill); negative
    intensity smears downhill. Flat areas of ``slope`` stay sharp.

    Example::

        {"type": "slope_blur", "inputs": {"input": "rust", "slope": "clouds"}, "params": {"intensity": 4.0, "samples": 8}}
    """
    if samples < 1:
        raise ValueError(f"slope_blur: samples must be >= 1, got {samples}")
    gu, gv = grad_uv(slope)
    k = pv(intensity, input) * WARP_SCALE
    vu, vv = k * gu, k * gv
    acc = None
    for j in range(samples):
        t = (j + 0.5) / samples
        s = displace(input, t * vu, t * vv)
        acc = s if acc is None else acc + s
    return acc / samples


def ambient_occlusion(
    input: torch.Tensor, radius: torch.Tensor | float = 0.05, intensity: torch.Tensor | float = 1.0
) -> torch.Tensor:
    """Approximate ambient occlusion from a height map, in (0, 1] (1 = open).

    The depth of each pixel below its blurred surroundings at radii
    ``radius * (1, 1/2, 1/4)`` is averaged (only positive depths occlude) and
    mapped through ``exp(-AO_SCALE * intensity * depth)``. Flat height gives 1.

    Example::

        {"type": "ambient_occlusion", "inputs": {"input": "height"}, "params": {"radius": 0.03}}
    """
    r = torch.as_tensor(radius, dtype=input.dtype, device=input.device)
    depth = sum(torch.relu(gaussian_blur(input, r * k) - input) for k in AO_RADII) / len(AO_RADII)
    return torch.exp(-AO_SCALE * pv(intensity, input) * depth)


# ------------------------------------------------------------------- specs
_IN = PortSpec("input", "any")
_GRAY = PortSpec("input", "gray")
_ANGLE = "turns, counter-clockwise from +X (right), +Y up"

SPECS: tuple[NodeSpec, ...] = (
    node("blur", blur, (_IN,), (f("radius", 0.01, 0.0, 0.1, doc="Gaussian standard deviation in UV"),)),
    node(
        "sharpen",
        sharpen,
        (_IN,),
        (
            f("amount", 1.0, 0.0, 10.0, doc="strength of the unsharp mask (0 = identity)"),
            f("radius", 0.005, 0.0, 0.05, doc="blur standard deviation in UV"),
        ),
        bounded=False,
    ),
    node(
        "highpass", highpass, (_IN,), (f("radius", 0.02, 0.0, 0.2, doc="blur standard deviation in UV"),), bounded=False
    ),
    node(
        "directional_blur",
        directional_blur,
        (_IN,),
        (
            f("angle", 0.0, 0.0, 1.0, doc=f"blur direction, {_ANGLE}"),
            f("length", 0.05, 0.0, 0.5, doc="length of the smear in UV (std length/sqrt(12))"),
        ),
    ),
    node(
        "warp",
        warp,
        (_IN, PortSpec("intensity_input", "gray", doc="gray image whose gradient displaces")),
        (f("intensity", 1.0, 0.0, 10.0, doc="displacement = intensity/256 * gradient (UV)"),),
    ),
    node(
        "directional_warp",
        directional_warp,
        (_IN, PortSpec("intensity_input", "gray", doc="gray image scaling the displacement")),
        (
            f("intensity", 0.05, 0.0, 0.5, doc="displacement in UV where the gray input is 1"),
            f("angle", 0.0, 0.0, 1.0, doc=f"direction the content moves, {_ANGLE}"),
        ),
    ),
    node(
        "transform_2d",
        transform_2d,
        (_IN,),
        (
            vec2("offset", (0.0, 0.0), -1.0, 1.0, doc="translation in UV (x right, y down)"),
            f("rotation", 0.0, -0.5, 0.5, doc="turns, counter-clockwise on screen"),
            vec2("scale", (1.0, 1.0), 0.1, 10.0, doc="per-axis scale (> 1 enlarges; tiles when 1/scale is an integer)"),
        ),
        shift_equivariant=False,
    ),
    node(
        "edge_detect",
        edge_detect,
        (_GRAY,),
        (
            f("width", 0.005, 0.001, 0.05, doc="edge width (blur standard deviation) in UV"),
            f("contrast", 2.0, 0.0, 10.0, doc="gain before tanh (higher = harder, whiter edges)"),
        ),
        out="gray",
    ),
    node(
        "slope_blur",
        slope_blur,
        (_IN, PortSpec("slope", "gray", doc="gray image whose gradient gives the smear direction")),
        (
            f("intensity", 1.0, -10.0, 10.0, doc="smear length = intensity/256 * gradient (UV); < 0 goes downhill"),
            i("samples", 8, 1, 32, doc="number of lookups along the smear"),
        ),
    ),
    node(
        "ambient_occlusion",
        ambient_occlusion,
        (_GRAY,),
        (
            f("radius", 0.05, 0.005, 0.2, doc="largest neighbourhood (blur standard deviation) in UV"),
            f("intensity", 1.0, 0.0, 10.0, doc="darkening per unit of depth"),
        ),
        out="gray",
    ),
)
