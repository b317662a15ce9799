"""More normal-map nodes: normal to height (Fourier integration), rotate, normalize.

Same convention as :mod:`proxymat.nodes.filters.normals` (OpenGL, +Y up,
encoded ``n * 0.5 + 0.5``).
"""

from __future__ import annotations

import math

import torch

from ...params import f
from ..spec import NodeSpec, PortSpec, node, pv
from .normals import HEIGHT_SCALE, decode, encode, normalize
from .spatial import frequencies


def normal_to_height(input: torch.Tensor) -> torch.Tensor:
    """Integrate a normal map back to a relative height (the inverse of ``height_to_normal``, up to scale).

    The slopes ``-n_x / n_z`` and ``-n_y / n_z`` are turned into the height
    whose central differences match them best (least squares in the Fourier
    domain, exactly periodic). The result is centred on 0.5 and scaled so its
    largest deviation reaches 0 or 1, like an auto-levelled height.

    Example::

        {"type": "normal_to_height", "inputs": {"input": "normal"}}
    """
    n = decode(input)
    nz = n[:, 2:3].clamp_min(1e-3)
    gu = -n[:, 0:1] / nz / HEIGHT_SCALE  # dh/du at intensity 1
    gv = n[:, 1:2] / nz / HEIGHT_SCALE  # dh/dv, v down
    h, w = input.shape[-2:]
    ky, kx = frequencies(h, w, input)
    du = torch.sin(2.0 * math.pi * kx / w) * w  # central difference transfer (times i)
    dv = torch.sin(2.0 * math.pi * ky / h) * h
    den = du * du + dv * dv
    keep = den > 1e-6
    num = -1j * (du * torch.fft.rfft2(gu) + dv * torch.fft.rfft2(gv))
    spectrum = torch.where(keep, num / torch.where(keep, den, torch.ones_like(den)), torch.zeros_like(num))
    height = torch.fft.irfft2(spectrum, s=(h, w))
    peak = height.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8)
    return 0.5 + 0.5 * height / peak


def normal_rotate(input: torch.Tensor, rotation: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Rotate the normals' tilt by ``rotation`` turns counter-clockwise (after rotating the image itself);
    the normals are made unit length.

    Example::

        {"type": "normal_rotate", "inputs": {"input": "plank_normal"}, "params": {"rotation": 0.25}}
    """
    n = decode(input)
    a = pv(rotation, input) * (2.0 * math.pi)
    c, s = torch.cos(a), torch.sin(a)
    x, y = n[:, 0:1], n[:, 1:2]
    return encode(torch.cat([c * x - s * y, s * x + c * y, n[:, 2:3]], 1))


def normal_normalize(input: torch.Tensor) -> torch.Tensor:
    """Make every normal unit length again (after blurs or blends of normal maps).

    Example::

        {"type": "normal_normalize", "inputs": {"input": "blurred_normal"}}
    """
    return encode(normalize(input * 2.0 - 1.0))


_NORMAL = PortSpec("input", "color", doc="normal map (OpenGL)")

SPECS: tuple[NodeSpec, ...] = (
    node(
        "normal_to_height", normal_to_height, (_NORMAL,), out="gray",
    ),
    node("normal_rotate", normal_rotate, (_NORMAL,), (f("rotation", 0.0, -0.5, 0.5, doc="turns, counter-clockwise"),),
         out="color"),
    node("normal_normalize", normal_normalize, (_NORMAL,), out="color"),
)
