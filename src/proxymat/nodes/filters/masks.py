"""Mask and height nodes: soft distance, bevel, height blend, edge wear, dirt, slope mask.

Everything tiles (Fourier-domain convolutions on the torus), distances and
widths are in UV, and every output is gray in [0, 1].
"""

from __future__ import annotations

import math

import torch

from ...params import e, f
from ..spec import NodeSpec, PortSpec, node, pv
from .normals import HEIGHT_SCALE
from .spatial import gaussian_blur, grad_uv

PROFILES = ("linear", "round")
# Soft-min temperature of the distance transform, relative to its width.
_TAU = 1.0 / 6.0
# Height difference (height units) that moves edge_wear / dirt by one unit of score.
WEAR_SCALE = 10.0


# ----------------------------------------------------------------- helpers
def _torus_radius(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """Wrap-around distance (UV) of every pixel to pixel (0, 0), shape (h, w)."""
    dy = torch.arange(h, dtype=like.dtype, device=like.device) / h
    dx = torch.arange(w, dtype=like.dtype, device=like.device) / w
    dy = torch.minimum(dy, 1.0 - dy).view(h, 1)
    dx = torch.minimum(dx, 1.0 - dx).view(1, w)
    return torch.sqrt(dx * dx + dy * dy)


def soft_distance(mask: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """Soft distance (UV) from each pixel to the ``mask`` (gray, 1 = inside), 0 deep inside it.

    ``D = -tau log((m * K) / sum K)`` with ``K = exp(-r / tau)`` on the torus
    and ``tau = width / 6``: a smooth minimum of ``r`` over the mask, accurate
    to about ``tau`` up to the distance ``width`` (beyond it the caller clamps).
    """
    h, w = mask.shape[-2:]
    tau = pv(width, mask).clamp_min(1e-4) * _TAU
    kernel = torch.exp(-_torus_radius(h, w, mask) / tau)
    kernel = kernel / kernel.sum(dim=(-2, -1), keepdim=True)
    conv = torch.fft.irfft2(torch.fft.rfft2(mask) * torch.fft.rfft2(kernel), s=(h, w))
    return -tau * torch.log(conv.clamp_min(1e-30))


def _input_noise(noise: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if noise is None else noise - 0.5


# ------------------------------------------------------------------- nodes
def distance(input: torch.Tensor, width: torch.Tensor | float = 0.05) -> torch.Tensor:
    """1 on the mask, falling linearly to 0 at ``width`` UV from it: ``clamp(1 - D / width)``.

    ``D`` is the soft distance of :func:`soft_distance` (smooth, differentiable
    in the mask and the width; about ``width / 6`` blurred).

    Example::

        {"type": "distance", "inputs": {"input": "cracks"}, "params": {"width": 0.03}}
    """
    d = soft_distance(input, width)
    return (1.0 - d / pv(width, input).clamp_min(1e-4)).clamp(0.0, 1.0)


def bevel(input: torch.Tensor, width: torch.Tensor | float = 0.03, profile: str = "round") -> torch.Tensor:
    """Height that rises from 0 at the edge of the mask to 1 at ``width`` UV inside it.

    ``t = clamp(D_out / width)`` with ``D_out`` the soft distance to the
    outside (``1 - mask``), times the mask; ``round`` shapes it as
    ``t (2 - t)`` (rounded shoulders), ``linear`` keeps a chamfer.

    Example::

        {"type": "bevel", "inputs": {"input": "tiles_mask"}, "params": {"width": 0.02, "profile": "round"}}
    """
    if profile not in PROFILES:
        raise ValueError(f"bevel: unknown profile {profile!r}; expected one of {list(PROFILES)}")
    d = soft_distance(1.0 - input, width)
    t = (d / pv(width, input).clamp_min(1e-4)).clamp(0.0, 1.0)
    if profile == "round":
        t = t * (2.0 - t)
    return t * input.clamp(0.0, 1.0)


def height_blend(
    top: torch.Tensor, bottom: torch.Tensor, offset: torch.Tensor | float = 0.0,
    softness: torch.Tensor | float = 0.05,
) -> dict[str, torch.Tensor]:
    """Lay ``top`` (raised by ``offset``) over ``bottom`` where it is higher.

    ``mask = sigmoid((top + offset - bottom) / softness)`` and
    ``height = lerp(bottom, top + offset, mask)`` clamped to [0, 1]; the mask
    selects the top layer's colour in a following blend.

    Example::

        {"type": "height_blend", "inputs": {"top": "pebbles", "bottom": "sand"}, "params": {"offset": -0.2}}
    """
    raised = top + pv(offset, top)
    mask = torch.sigmoid((raised - bottom) / pv(softness, top).clamp_min(1e-4))
    height = (bottom + mask * (raised - bottom)).clamp(0.0, 1.0)
    return {"height": height, "mask": mask}


def _wear(height: torch.Tensor, noise: torch.Tensor | None, sign: float, amount, width, noise_amount,
          softness) -> torch.Tensor:
    relief = sign * (height - gaussian_blur(height, width)) * WEAR_SCALE
    score = relief + pv(noise_amount, height) * _input_noise(noise, height) + pv(amount, height) - 0.5
    return torch.sigmoid(score / pv(softness, height).clamp_min(1e-4))


def edge_wear(
    height: torch.Tensor, noise: torch.Tensor | None = None, amount: torch.Tensor | float = 0.3,
    width: torch.Tensor | float = 0.01, noise_amount: torch.Tensor | float = 0.5,
    softness: torch.Tensor | float = 0.1,
) -> torch.Tensor:
    """Mask of worn convex edges: where the height stands above its blur (``width`` UV).

    ``score = 10 (h - blur(h)) + noise_amount (noise - 0.5) + amount - 0.5``
    and ``mask = sigmoid(score / softness)``: raise ``amount`` for more wear,
    feed a noise to break the edges up.

    Example::

        {"type": "edge_wear", "inputs": {"height": "tiles", "noise": "clouds"}, "params": {"amount": 0.4}}
    """
    return _wear(height, noise, 1.0, amount, width, noise_amount, softness)


def dirt(
    height: torch.Tensor, noise: torch.Tensor | None = None, amount: torch.Tensor | float = 0.3,
    width: torch.Tensor | float = 0.02, noise_amount: torch.Tensor | float = 0.5,
    softness: torch.Tensor | float = 0.1,
) -> torch.Tensor:
    """Mask of dirt gathered in cavities: where the height lies below its blur (``width`` UV).

    Same score as :func:`edge_wear` with the relief's sign flipped.

    Example::

        {"type": "dirt", "inputs": {"height": "bricks", "noise": "clouds"}, "params": {"amount": 0.35, "width": 0.03}}
    """
    return _wear(height, noise, -1.0, amount, width, noise_amount, softness)


def slope_mask(
    input: torch.Tensor, intensity: torch.Tensor | float = 1.0, threshold: torch.Tensor | float = 0.3,
    softness: torch.Tensor | float = 0.05,
) -> torch.Tensor:
    """Mask of steep areas of a height map: ``sigmoid((s - threshold) / softness)``.

    ``s = |grad h| * intensity / 16`` is the slope :func:`height_to_normal`
    uses; flat areas give ~0 (for snow, dust or rust on flat parts, invert).

    Example::

        {"type": "slope_mask", "inputs": {"input": "rock_height"}, "params": {"intensity": 2.0, "threshold": 0.4}}
    """
    du, dv = grad_uv(input)
    k = pv(intensity, input) * HEIGHT_SCALE
    s = torch.sqrt((k * du) ** 2 + (k * dv) ** 2 + 1e-8)
    return torch.sigmoid((s - pv(threshold, input)) / pv(softness, input).clamp_min(1e-4))


# ------------------------------------------------------------------- specs
_GRAY = (PortSpec("input", "gray"),)
_WEAR_PORTS = (PortSpec("height", "gray"), PortSpec("noise", "gray", optional=True, doc="breaks the mask up"))


def _wear_params(width: float) -> tuple:
    return (
        f("amount", 0.3, doc="more wear / dirt as it grows"),
        f("width", width, 0.001, 0.1, doc="scale of the relief (blur standard deviation, UV)"),
        f("noise_amount", 0.5, 0.0, 2.0, doc="weight of the noise input"),
        f("softness", 0.1, 0.005, 1.0, doc="mask edge softness"),
    )


SPECS: tuple[NodeSpec, ...] = (
    node("distance", distance, _GRAY, (f("width", 0.05, 0.005, 0.3, doc="distance (UV) where the output reaches 0"),),
         out="gray"),
    node(
        "bevel", bevel, _GRAY,
        (
            f("width", 0.03, 0.005, 0.3, doc="bevel width inside the mask (UV)"),
            e("profile", "round", PROFILES, doc="chamfer or rounded shoulder"),
        ),
        out="gray",
    ),
    node(
        "height_blend", height_blend, (PortSpec("top", "gray"), PortSpec("bottom", "gray")),
        (
            f("offset", 0.0, -1.0, 1.0, doc="raises (> 0) or sinks the top layer"),
            f("softness", 0.05, 0.001, 0.5, doc="transition width in height units"),
        ),
        outputs=("height", "mask"), out="gray",
    ),
    node("edge_wear", edge_wear, _WEAR_PORTS, _wear_params(0.01), out="gray"),
    node("dirt", dirt, _WEAR_PORTS, _wear_params(0.02), out="gray"),
    node(
        "slope_mask", slope_mask, _GRAY,
        (
            f("intensity", 1.0, 0.0, 10.0, doc="height scale, as height_to_normal"),
            f("threshold", 0.3, 0.0, 2.0, doc="slope where the mask is 0.5"),
            f("softness", 0.05, 0.001, 1.0, doc="mask edge softness"),
        ),
        out="gray",
    ),
)
