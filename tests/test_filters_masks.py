"""Behaviour of the mask and height nodes (filters/masks.py)."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.nodes.filters import masks as M

pytestmark = pytest.mark.usefixtures("one_thread")
D = torch.float64


def t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=D)


def band(res: int = 128, lo: int = 32, hi: int = 96) -> torch.Tensor:
    """Vertical band mask: columns lo..hi-1 are 1."""
    m = torch.zeros(1, 1, res, res, dtype=D)
    m[..., lo:hi] = 1.0
    return m


def test_soft_distance_approximates_the_distance_to_a_band():
    m = band()
    d = M.soft_distance(m, t(0.1))[0, 0, 0]
    for col in (20, 24, 28):  # outside, 12.5 / 8.5 / 4.5 px from the nearest band pixel centre
        true = (32 - col) / 128
        assert d[col].item() == pytest.approx(true, abs=0.1 / 6 * 1.5)
    assert d[64].item() < 0.01  # deep inside
    assert (d[:32].diff() < 0).all()  # falls toward the band


def test_distance_and_bevel_profiles():
    m = band()
    out = M.distance(m, t(0.1))[0, 0, 0]
    assert out[64] == pytest.approx(1.0, abs=0.03) and out[0] == 0.0
    bev = M.bevel(m, t(0.1), "linear")[0, 0, 0]
    assert bev[0] == 0.0 and bev[64] == pytest.approx(1.0, abs=0.03)
    assert (bev[32:44].diff() > 0).all() and bev[50] == 1.0  # rises over width (12.8 px), then flat
    rnd = M.bevel(m, t(0.1), "round")[0, 0, 0]
    assert (rnd[33:60] >= bev[33:60]).all()  # rounded shoulder lies above the chamfer


def test_height_blend_picks_the_higher_layer():
    top = t([0.2, 0.8]).view(1, 1, 1, 2)
    bottom = t([0.5, 0.5]).view(1, 1, 1, 2)
    out = M.height_blend(top, bottom, t(0.0), t(0.001))
    torch.testing.assert_close(out["mask"], t([0.0, 1.0]).view(1, 1, 1, 2))
    torch.testing.assert_close(out["height"], t([0.5, 0.8]).view(1, 1, 1, 2))
    raised = M.height_blend(top, bottom, t(0.4), t(0.001))
    torch.testing.assert_close(raised["height"], t([0.6, 1.0]).view(1, 1, 1, 2))


def _bumps(res: int = 64) -> torch.Tensor:
    x = (torch.arange(res, dtype=D) + 0.5) / res
    return (0.5 + 0.4 * torch.cos(2 * math.pi * 2 * x)).view(1, 1, 1, res).expand(1, 1, res, res)


def test_edge_wear_on_crests_dirt_in_troughs():
    h = _bumps()
    wear = M.edge_wear(h, None, t(0.5), t(0.03), t(0.0), t(0.05))[0, 0, 0]
    grime = M.dirt(h, None, t(0.5), t(0.03), t(0.0), t(0.05))[0, 0, 0]
    crest, trough = 0, 16  # cos(4 pi x) peaks near x = 0, dips near x = 1/4
    assert wear[crest] > 0.9 and wear[trough] < 0.1
    assert grime[trough] > 0.9 and grime[crest] < 0.1
    noisy = M.edge_wear(h, torch.ones_like(h), t(0.5), t(0.03), t(1.0), t(0.05))
    assert (noisy >= M.edge_wear(h, None, t(0.5), t(0.03), t(1.0), t(0.05))).all()  # bright noise adds wear


def test_slope_mask_marks_steep_flanks():
    h = _bumps()
    out = M.slope_mask(h, t(1.0), t(0.1), t(0.01))[0, 0, 0]
    # slope = 0.4 * 4 pi / 16 ~ 0.31 at the flanks (x = 1/8), 0 at crests
    assert out[8] > 0.99 and out[0] < 0.01
