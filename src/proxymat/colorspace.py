"""Colour-space conversions on image tensors (differentiable, batched).

Images follow the package contract: float tensors ``(B, 3, H, W)`` holding
display-encoded (sRGB) values in [0, 1]. CIE Lab uses the D65 white point;
L lies in [0, 100], a and b roughly in [-128, 127].

>>> lab = srgb_to_lab(torch.ones(1, 3, 4, 4))   # white: L = 100, a = b = 0
"""

from __future__ import annotations

import torch

# sRGB (linear, D65) -> CIE XYZ, rows X, Y, Z.
_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_EPS = 216.0 / 24389.0  # CIE epsilon: (6/29)^3
_KAPPA = 24389.0 / 27.0


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Exact sRGB decoding (piecewise: linear toe, 2.4 power), input clamped to [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)


def linear_to_xyz(rgb: torch.Tensor) -> torch.Tensor:
    """Linear sRGB ``(B, 3, H, W)`` -> CIE XYZ ``(B, 3, H, W)``."""
    m = torch.tensor(_RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("ij,bjhw->bihw", m, rgb)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    # Cube root above epsilon, linear segment below; clamp keeps the cube root's gradient finite.
    return torch.where(t > _EPS, t.clamp_min(_EPS) ** (1.0 / 3.0), (_KAPPA * t + 16.0) / 116.0)


def srgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded ``(B, 3, H, W)`` in [0, 1] -> CIE Lab (D65) ``(B, 3, H, W)``; grey input keeps a = b = 0."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"srgb_to_lab expects (B, 3, H, W) images, got shape {tuple(x.shape)}")
    xyz = linear_to_xyz(srgb_to_linear(x))
    white = torch.tensor(_WHITE_D65, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    fx, fy, fz = _lab_f(xyz / white).unbind(1)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)
