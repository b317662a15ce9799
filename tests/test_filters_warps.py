"""Behaviour of the blur and warp variants (filters/warps.py)."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.nodes.filters import spatial as S
from proxymat.nodes.filters import warps as W

pytestmark = pytest.mark.usefixtures("one_thread")
D = torch.float64


def t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=D)


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


def test_non_uniform_blur_interpolates_blur_levels():
    x = rand(1, 1, 16, 16)
    torch.testing.assert_close(W.non_uniform_blur(x, torch.zeros_like(x), t(0.05)), x)
    torch.testing.assert_close(W.non_uniform_blur(x, torch.ones_like(x), t(0.05)), S.blur(x, t(0.05)))
    half = W.non_uniform_blur(x, torch.full_like(x, 0.5), t(0.05))  # between levels 1/4 and 1/2
    torch.testing.assert_close(half, 0.5 * S.blur(x, t(0.0125)) + 0.5 * S.blur(x, t(0.025)))


def test_anisotropic_blur_only_along_its_angle():
    res = 32
    u = (torch.arange(res, dtype=D) + 0.5) / res
    across = torch.cos(2 * math.pi * 3 * u).view(1, 1, 1, res).expand(1, 1, res, res)  # varies along u
    kept = W.anisotropic_blur(across, t(0.05), t(1.0), t(0.25))  # blur along v only
    torch.testing.assert_close(kept, across)
    gone = W.anisotropic_blur(across, t(0.05), t(1.0), t(0.0))
    factor = math.exp(-2 * math.pi**2 * 0.05**2 * 9)
    torch.testing.assert_close(gone, across * factor)


def test_morphology_dilates_and_erodes_a_dot():
    x = torch.zeros(1, 1, 32, 32, dtype=D)
    x[..., 16, 16] = 1.0
    grown = W.morphology(x, t(0.05), "dilate", t(0.02))
    assert grown[0, 0, 16, 18] > 0.7 and grown[0, 0, 0, 0] < 0.05 and grown.max() <= 1.0
    shrunk = W.morphology(1.0 - x, t(0.05), "erode", t(0.02))
    torch.testing.assert_close(shrunk, 1.0 - grown)


def test_vector_warp_mid_gray_is_identity_and_red_shifts():
    x = rand(1, 3, 8, 8)
    torch.testing.assert_close(W.vector_warp(x, torch.full((1, 3, 8, 8), 0.5, dtype=D), t(0.1)), x)
    vec = torch.full((1, 3, 8, 8), 0.5, dtype=D)
    vec[:, 0] = 1.0  # +x: out(p) = x(p + 1/8) -> content moves left by one pixel
    torch.testing.assert_close(W.vector_warp(x, vec, t(0.125)), torch.roll(x, -1, -1))


def test_multi_directional_warp_averages_opposite_shifts():
    x = rand(1, 1, 8, 8)
    g = torch.ones(1, 1, 8, 8, dtype=D)
    out = W.multi_directional_warp(x, g, t(0.125), t(0.0), 2)
    torch.testing.assert_close(out, 0.5 * (torch.roll(x, 1, -1) + torch.roll(x, -1, -1)))


def test_mirror_halves():
    x = rand(1, 1, 6, 6)
    out = W.mirror(x, "horizontal")
    torch.testing.assert_close(out[..., :3], x[..., :3])
    torch.testing.assert_close(out[..., 3:], x[..., :3].flip(-1))
    both = W.mirror(x, "both")
    torch.testing.assert_close(both, both.flip(-1))
    torch.testing.assert_close(both, both.flip(-2))


def test_safe_transform_tiles_rotates_and_offsets():
    x = rand(1, 1, 8, 8)
    torch.testing.assert_close(W.safe_transform(x, 1, "90", t([0.0, 0.0])), torch.rot90(x, 1, (-2, -1)))
    torch.testing.assert_close(W.safe_transform(x, 1, "0", t([0.25, 0.0])), torch.roll(x, 2, -1))
    two = W.safe_transform(x, 2, "0", t([0.0, 0.0]))
    torch.testing.assert_close(two, torch.roll(two, 4, -1))  # two copies across


def test_slope_blur_extrema_keeps_the_brightest_lookup():
    x = torch.zeros(1, 1, 8, 8, dtype=D)
    x[..., 4] = 1.0  # a bright column
    ramp = (torch.arange(8, dtype=D) / 8).view(1, 1, 1, 8).expand(1, 1, 8, 8)  # grad u = 1 (except the seam)
    out = W.slope_blur_extrema(x, ramp, t(128.0), "max", t(0.01), 2)  # smear 128 / 256 = 0.5 UV
    # lookups at p + 1/8 and p + 3/8 UV (one and three pixels right); the max of the two
    expected = torch.maximum(torch.roll(x, -1, -1), torch.roll(x, -3, -1))
    inner = slice(1, 5)  # columns whose lookups stay away from the ramp's seam
    torch.testing.assert_close(out[..., inner], expected[..., inner], atol=0.01, rtol=0)
    low = W.slope_blur_extrema(x, ramp, t(128.0), "min", t(0.01), 2)
    assert (low <= out + 1e-9).all()
