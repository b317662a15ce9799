"""Behaviour of the input-less pattern nodes (filters/patterns.py)."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.nodes.filters import patterns as P

pytestmark = pytest.mark.usefixtures("one_thread")


def t(v: float) -> torch.Tensor:
    return torch.tensor(v)


def test_linear_gradient_is_a_mirrored_ramp():
    out = P.linear_gradient(1, "horizontal", t(0.0), res=8)
    u = (torch.arange(8) + 0.5) / 8
    torch.testing.assert_close(out[0, 0, 3], 1 - (2 * u - 1).abs())
    vert = P.linear_gradient(2, "vertical", t(0.25), res=8)
    torch.testing.assert_close(vert[0, 0, :, 0], 1 - (2 * torch.remainder(2 * u + 0.25, 1.0) - 1).abs())


def test_radial_gradient_wraps_around():
    out = P.radial_gradient(torch.tensor([0.0, 0.0]), t(0.5), res=16)
    # pixel (0, 0) and pixel (15, 15) are both half a pixel diagonal from the corner centre
    d = math.sqrt(2) * 0.5 / 16
    assert out[0, 0, 0, 0].item() == pytest.approx(1 - d / 0.5, abs=1e-5)
    assert out[0, 0, 15, 15].item() == pytest.approx(out[0, 0, 0, 0].item(), abs=1e-6)
    assert out[0, 0, 8, 8].item() == 0.0  # 0.707 UV away, beyond the radius


@pytest.mark.parametrize(
    "kind, extra, area",
    [("disc", {}, math.pi * 0.25**2), ("square", {}, 0.25), ("polygon", {"sides": 4}, 0.25),
     ("ring", {"thickness": t(0.1)}, math.pi * (0.3**2 - 0.2**2))],
)
def test_shape_areas(kind, extra, area):
    out = P.shape(kind, 2, t(0.5), t(0.001), res=128, **extra)
    assert out.mean().item() == pytest.approx(area, abs=0.01)
    torch.testing.assert_close(out, torch.roll(out, 64, -1))  # two cells across


def test_stripes_width_is_the_white_fraction():
    out = P.stripes(4, "horizontal", t(0.3), t(0.001), t(0.0), res=1024)
    assert out.mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.allclose(out[0, 0, 0], out[0, 0, 100])  # constant along v


def test_checker_alternates():
    out = P.checker(2, t(0.01), res=64)
    assert out.mean().item() == pytest.approx(0.5, abs=1e-3)
    assert out[0, 0, 8, 8] > 0.99 and out[0, 0, 8, 24] < 0.01 and out[0, 0, 24, 24] > 0.99


def test_plain_weave_alternates_and_twill_steps():
    plain = P.weave(4, "plain", t(0.8), t(0.02), res=64)[0, 0]
    # cell centres (16 px cells): the top thread's crown is about 1; warp over weft where (row + col) is even
    c = lambda k: 16 * k + 8  # noqa: E731
    assert plain[c(0), c(0)] > 0.9 and plain[c(1), c(0)] > 0.9
    torch.testing.assert_close(plain, torch.roll(plain, (32, 32), (0, 1)))
    # between two threads (cell corner) the surface is low
    assert plain[0, 0] < 0.3
    # plain: the warp is on top at (0, 0): along a warp thread the height dips where it goes under
    along_warp = plain[:, c(0)]
    assert along_warp[c(0)] > along_warp[c(0) + 8] - 0.5
    twill = P.weave(4, "twill", t(0.8), t(0.02), res=64)[0, 0]
    assert not torch.allclose(twill, plain, atol=1e-3)
    torch.testing.assert_close(twill, torch.roll(twill, (16, 16), (0, 1)))  # diagonal ribs


def test_spectral_noise_streaks_follow_the_angle():
    out = P.spectral_noise(1, t(0.01), t(0.9), t(0.0), res=128)[0, 0]
    du = (out - torch.roll(out, 1, 1)).abs().mean()
    dv = (out - torch.roll(out, 1, 0)).abs().mean()
    assert dv > 3 * du  # streaks run along u
    rot = P.spectral_noise(1, t(0.01), t(0.9), t(0.25), res=128)[0, 0]
    assert (rot - torch.roll(rot, 1, 1)).abs().mean() > 3 * (rot - torch.roll(rot, 1, 0)).abs().mean()
    assert abs(out.mean().item() - 0.5) < 0.02
    assert not torch.equal(out, P.spectral_noise(2, t(0.01), t(0.9), t(0.0), res=128)[0, 0])
