"""Behaviour of the instance and region nodes (filters/scatter.py)."""

from __future__ import annotations

import pytest
import torch

from proxymat.nodes.filters import patterns as P
from proxymat.nodes.filters import scatter as SC

pytestmark = pytest.mark.usefixtures("one_thread")


def t(v) -> torch.Tensor:
    return torch.tensor(v)


def test_tile_sampler_places_one_instance_per_cell():
    disc = P.shape("disc", 1, t(0.8), t(0.01), res=64)
    plain = SC.tile_sampler(disc, 4, 4, t(0.5), t(0.0), t(0.0), t(0.0), t(0.0), 0)
    # without randomness: a disc of diameter 0.8 * 0.5 cell in each of the 16 cells (16 px cells)
    expected = P.shape("disc", 4, t(0.4), t(0.01 * 0.5), res=64)
    assert (plain - expected).abs().mean() < 0.02
    varied = SC.tile_sampler(disc, 4, 4, t(0.5), t(0.0), t(0.0), t(0.0), t(0.5), 0)
    centres = varied[0, 0, 8::16, 8::16]
    assert centres.max() <= 1.0 and centres.min() >= 0.5 - 1e-6 and centres.std() > 0.05  # per-cell luminance


def test_flood_fill_random_gives_each_region_one_value():
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 1:7, 1:7] = 1.0
    mask[..., 9:15, 3:13] = 1.0
    mask[..., 0:3, 14:16] = 1.0
    mask[..., 14:16, 14:16] = 1.0  # wraps onto the previous block: one region across the seam
    out = SC.flood_fill_random(mask, t(1.0), t(0.5), 3)
    a, b, c = out[0, 0, 1:7, 1:7], out[0, 0, 9:15, 3:13], out[0, 0, 0:3, 14:16]
    for region in (a, b, c):
        assert torch.allclose(region, region.flatten()[0].expand_as(region))
    assert torch.allclose(out[0, 0, 14:16, 14:16], c[0, 0].expand(2, 2))
    assert len({a[0, 0].item(), b[0, 0].item(), c[0, 0].item()}) == 3
    assert (out[mask == 0] == 0).all()
    shifted = SC.flood_fill_random(torch.roll(mask, (5, 7), (-2, -1)), t(1.0), t(0.5), 3)
    torch.testing.assert_close(shifted, torch.roll(out, (5, 7), (-2, -1)))


def test_cell_random_is_constant_per_id_within_range():
    ids = torch.tensor([0.1, 0.1, 0.5, 0.5, 0.9]).view(1, 1, 1, 5)
    out = SC.cell_random(ids, t(0.2), t(0.6), 1)[0, 0, 0]
    assert out[0] == out[1] and out[2] == out[3] and len({out[0].item(), out[2].item(), out[4].item()}) == 3
    assert out.min() >= 0.2 and out.max() <= 0.6
    assert not torch.equal(out, SC.cell_random(ids, t(0.2), t(0.6), 2)[0, 0, 0])


def test_color_variation_per_region():
    x = torch.full((1, 3, 1, 4), 0.5)
    x[:, 0] = 0.7
    regions = torch.tensor([0.2, 0.2, 0.8, 0.8]).view(1, 1, 1, 4)
    out = SC.color_variation(x, regions, t(0.0), t(0.5), 0)
    torch.testing.assert_close(out[..., 0], out[..., 1])
    ratio = out[0, :, 0, 0] / x[0, :, 0, 0]
    torch.testing.assert_close(ratio, ratio[0].expand(3))  # luminance only scales
    assert not torch.allclose(out[..., 0], out[..., 2])
    torch.testing.assert_close(SC.color_variation(x, regions, t(0.0), t(0.0), 0), x)
