"""Normal-map filters: height to normal, blend, intensity, invert, emboss, curvature.

Normal maps are ``(B, 3, H, W)`` in [0, 1] encoding ``n * 0.5 + 0.5`` in the
**OpenGL** convention: +X right (increasing column), +Y up (toward row 0),
+Z out of the surface; a flat normal is (0.5, 0.5, 1.0). Derivatives are per
UV, so results do not depend on the resolution. Light and blend angles are in
turns, counter-clockwise from +X with +Y up.
"""

from __future__ import annotations

import math

import torch

from ...params import e, f
from ..spec import NodeSpec, PortSpec, node, pv
from .spatial import grad_uv

# Slope of height_to_normal per unit of intensity and of height gradient per UV.
HEIGHT_SCALE = 1.0 / 16.0
# Divergence of the normal (per UV) that moves curvature by tanh(1)/2.
CURVATURE_SCALE = 1.0 / 64.0
# Light elevation of emboss (radians above the surface).
EMBOSS_ELEVATION = math.pi / 4.0
_NORM_EPS = 1e-12
BLEND_MODES = ("reoriented", "whiteout")


# ----------------------------------------------------------------- helpers
def normalize(n: torch.Tensor) -> torch.Tensor:
    """Unit vectors along dim 1 (safe at 0)."""
    return n * torch.rsqrt((n * n).sum(1, keepdim=True) + _NORM_EPS)


def decode(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] normal map -> unit vectors in [-1, 1]."""
    return normalize(x * 2.0 - 1.0)


def encode(n: torch.Tensor) -> torch.Tensor:
    """Vectors in [-1, 1] -> [0, 1] normal map."""
    return n * 0.5 + 0.5


def height_slopes(height: torch.Tensor, intensity: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled height slopes ``(ds/dx, ds/dy)`` per UV with +Y up (toward row 0)."""
    du, dv = grad_uv(height)
    k = pv(intensity, height) * HEIGHT_SCALE
    return k * du, -k * dv


def normal_from_height(height: torch.Tensor, intensity: torch.Tensor | float) -> torch.Tensor:
    """Unit normals ``normalize(-sx, -sy, 1)`` of a gray height (see :func:`height_to_normal`)."""
    sx, sy = height_slopes(height, intensity)
    return normalize(torch.cat([-sx, -sy, torch.ones_like(sx)], dim=1))


# ------------------------------------------------------------------- nodes
def height_to_normal(input: torch.Tensor, intensity: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Gray height -> OpenGL normal map.

    Slope ``s = intensity * grad(h) / 16`` (central differences per UV) and
    ``n = normalize(-s_x, -s_y, 1)`` with y up: a height rising to the right
    gives ``n_x < 0`` (the surface faces left), rising upward gives ``n_y < 0``.

    Example::

        {"type": "height_to_normal", "inputs": {"input": "height"}, "params": {"intensity": 2.0}}
    """
    return encode(normal_from_height(input, intensity))


def normal_blend(
    base: torch.Tensor,
    detail: torch.Tensor,
    mask: torch.Tensor | None = None,
    opacity: torch.Tensor | float = 1.0,
    mode: str = "reoriented",
) -> torch.Tensor:
    """Add the relief of ``detail`` onto ``base``.

    The detail is first faded toward flat by ``opacity * mask``; then
    ``reoriented`` normal mapping (the detail is rotated to follow the base) or
    ``whiteout`` (xy added, z multiplied) combines them. A flat detail returns
    the base; with ``reoriented`` a flat base returns the detail.

    Example::

        {"type": "normal_blend", "inputs": {"base": "tiles_normal", "detail": "grain_normal"}, "params": {"opacity": 0.5}}
    """
    if mode not in BLEND_MODES:
        raise ValueError(f"normal_blend: unknown mode {mode!r}, expected one of {list(BLEND_MODES)}")
    nb, nd = decode(base), decode(detail)
    weight = pv(opacity, base) if mask is None else pv(opacity, base) * mask
    flat = torch.zeros_like(nd)
    flat[:, 2] = 1.0
    nd = normalize(flat + weight * (nd - flat))
    if mode == "whiteout":
        out = torch.cat([nb[:, :2] + nd[:, :2], nb[:, 2:] * nd[:, 2:]], dim=1)
    else:
        t = nb + flat
        u = nd * torch.tensor([-1.0, -1.0, 1.0], dtype=nd.dtype, device=nd.device).view(1, 3, 1, 1)
        tz = t[:, 2:].clamp_min(1e-6)
        out = t * (t * u).sum(1, keepdim=True) / tz - u
    return encode(normalize(out))


def normal_intensity(input: torch.Tensor, intensity: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Scale the x and y of the normals by ``intensity`` and renormalize (0 = flat, 1 = unchanged).

    Example::

        {"type": "normal_intensity", "inputs": {"input": "normal"}, "params": {"intensity": 0.5}}
    """
    n = decode(input)
    k = pv(intensity, input)
    return encode(normalize(torch.cat([n[:, :2] * k, n[:, 2:]], dim=1)))


def normal_invert(input: torch.Tensor) -> torch.Tensor:
    """Flip the green channel: OpenGL <-> DirectX.

    Example::

        {"type": "normal_invert", "inputs": {"input": "normal"}}
    """
    return torch.cat([input[:, :1], 1.0 - input[:, 1:2], input[:, 2:]], dim=1)


def emboss(
    input: torch.Tensor,
    height: torch.Tensor,
    intensity: torch.Tensor | float = 1.0,
    light_angle: torch.Tensor | float = 0.125,
) -> torch.Tensor:
    """Light ``input`` with the relief of ``height``: ``input + dot(n, L) - L_z`` (not clamped).

    ``n`` is the normal of :func:`height_to_normal` at ``intensity``; the light
    comes from ``light_angle`` (turns, 0 = from the right, 0.25 = from the top)
    at 45 degrees elevation. Flat areas keep their colour; slopes facing the
    light brighten, the others darken.

    Example::

        {"type": "emboss", "inputs": {"input": "albedo", "height": "height"}, "params": {"intensity": 2.0, "light_angle": 0.25}}
    """
    n = normal_from_height(height, intensity)
    a = pv(light_angle, input) * (2.0 * math.pi)
    ce, se = math.cos(EMBOSS_ELEVATION), math.sin(EMBOSS_ELEVATION)
    shade = (n[:, :1] * torch.cos(a) + n[:, 1:2] * torch.sin(a)) * ce + (n[:, 2:] - 1.0) * se
    return input + shade


def curvature(input: torch.Tensor, intensity: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Curvature of a normal map, gray around 0.5: convex (bumps) > 0.5, concave (pits) < 0.5.

    ``0.5 + 0.5 * tanh(intensity * div / 64)`` where ``div = dn_x/dx + dn_y/dy``
    (central differences per UV, +Y up). For a height map, feed it through
    ``height_to_normal`` first.

    Example::

        {"type": "curvature", "inputs": {"input": "normal"}, "params": {"intensity": 3.0}}
    """
    n = decode(input)
    dxx, _ = grad_uv(n[:, :1])
    _, dyy_down = grad_uv(n[:, 1:2])
    div = dxx - dyy_down
    return 0.5 + 0.5 * torch.tanh(pv(intensity, input) * CURVATURE_SCALE * div)


# ------------------------------------------------------------------- specs
_NORMAL = PortSpec("input", "color", doc="normal map (OpenGL)")

SPECS: tuple[NodeSpec, ...] = (
    node(
        "height_to_normal",
        height_to_normal,
        (PortSpec("input", "gray", doc="height"),),
        (f("intensity", 1.0, 0.0, 10.0, doc="slope = intensity * gradient(UV) / 16"),),
        out="color",
    ),
    node(
        "normal_blend",
        normal_blend,
        (
            PortSpec("base", "color", doc="normal map receiving the detail"),
            PortSpec("detail", "color", doc="normal map added on top"),
            PortSpec("mask", "gray", optional=True, doc="where the detail applies (default everywhere)"),
        ),
        (
            f("opacity", 1.0, 0.0, 1.0, doc="strength of the detail"),
            e("mode", "reoriented", BLEND_MODES, doc="reoriented normal mapping or whiteout"),
        ),
        out="color",
    ),
    node(
        "normal_intensity",
        normal_intensity,
        (_NORMAL,),
        (f("intensity", 1.0, 0.0, 10.0, doc="factor on x and y (0 = flat, 1 = unchanged)"),),
        out="color",
    ),
    node("normal_invert", normal_invert, (_NORMAL,), out="color"),
    node(
        "emboss",
        emboss,
        (PortSpec("input", "color", doc="color to light"), PortSpec("height", "gray", doc="relief")),
        (
            f("intensity", 1.0, 0.0, 10.0, doc="relief strength (as height_to_normal)"),
            f("light_angle", 0.125, 0.0, 1.0, doc="light direction, turns from +X (right), +Y up"),
        ),
        out="color",
        bounded=False,
    ),
    node(
        "curvature",
        curvature,
        (_NORMAL,),
        (f("intensity", 1.0, 0.0, 10.0, doc="gain on the divergence of the normals"),),
        out="gray",
    ),
)
