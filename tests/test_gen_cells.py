"""Cells (Worley / Voronoi) generator: formulas, gather correctness, tiling, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.nodes.generators.cells import DISTANCES, STYLES, feature_points, worley
from generator_checks import check_batch_items_independent, check_deterministic_and_seeded

SPEC = get_generator("cells")


def _p(batch: int = 1, **values: float) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in values.items():
        if isinstance(v, str):
            v = (DISTANCES if k == "distance" else STYLES).index(v)
        out[k] = torch.full((batch,), float(v))
    return out


def _random_params(batch: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {p.name: p.low + (p.high - p.low) * torch.rand(batch, generator=gen) for p in SPEC.params}


def _offsets(res: int, n: int) -> torch.Tensor:
    """Offset of each pixel coordinate from its cell centre, in cell units (float64)."""
    g = (torch.arange(res, dtype=torch.float64) + 0.5) / res * n
    return g - torch.floor(g) - 0.5


def _seam_ok(img: torch.Tensor, lines: tuple[int, ...] | None = None) -> bool:
    """Wrap-around differences are like interior neighbour differences, along both axes.

    ``lines`` restricts the interior reference to the differences across the given
    pixel boundaries (e.g. the lattice lines, where borders cluster as the seam does).
    """
    for dim in (-1, -2):
        diff = img.diff(dim=dim).abs()
        inner = diff.mean() if lines is None else diff.index_select(dim, torch.tensor(lines) - 1).mean()
        seam = (img.select(dim, 0) - img.select(dim, -1)).abs().mean()
        if seam > 1.5 * inner + 1e-3:
            return False
    return True


@pytest.mark.parametrize("metric, norm", [("euclidean", math.sqrt(0.5)), ("manhattan", 1.0), ("chebyshev", 0.5)])
def test_regular_grid_f1_matches_metric(metric: str, norm: float) -> None:
    n, res = 4, 24
    out = SPEC(_p(scale=n, disorder=0.0, distance=metric, style="f1"), res)[0, 0].double()
    a, b = _offsets(res, n)[None, :], _offsets(res, n)[:, None]
    dist = {
        "euclidean": torch.hypot(a, b),
        "manhattan": a.abs() + b.abs(),
        "chebyshev": torch.maximum(a.abs(), b.abs()),
    }
    torch.testing.assert_close(out, dist[metric] / norm, atol=1e-5, rtol=0)


def test_f1_zero_at_cell_centres_and_one_at_corners() -> None:
    # scale == res: every pixel centre is a cell centre.
    assert SPEC(_p(scale=8, disorder=0.0), 8).abs().max().item() < 1e-6
    # res 9, scale 2: pixel 4 sits at u = 0.5, a cell corner (raw F1 = sqrt(2)/2 cell).
    out = SPEC(_p(scale=2, disorder=0.0), 9)[0, 0]
    assert out[4, 4].item() == pytest.approx(1.0, abs=1e-6)
    # manhattan at the same corner: raw 1 cell, normalized 1; at an edge midpoint (4, 2): raw 0.5.
    man = SPEC(_p(scale=2, disorder=0.0, distance="manhattan"), 9)[0, 0]
    assert man[4, 4].item() == pytest.approx(1.0, abs=1e-6)
    # pixel 2: u = 2.5/9, g = 5/9, offset 1/18 from the centre; pixel 4: offset 0.5.
    assert man[2, 4].item() == pytest.approx(0.5 + 1.0 / 18.0, abs=1e-6)


def test_regular_grid_f2_styles() -> None:
    n, res, width = 3, 30, 0.2
    a, b = _offsets(res, n)[None, :], _offsets(res, n)[:, None]
    f1 = torch.hypot(a, b)
    f2 = torch.minimum(torch.hypot(1 - a.abs(), b), torch.hypot(a, 1 - b.abs()))
    expect = {
        "f2": f2,
        "f2_minus_f1": f2 - f1,
        "edges": 1 - ((f2 - f1) / 2 / width).clamp(0, 1),
    }
    for style, want in expect.items():
        got = SPEC(_p(scale=n, disorder=0.0, style=style, edge_width=width), res)[0, 0].double()
        torch.testing.assert_close(got, want.clamp(0, 1), atol=1e-5, rtol=0, msg=style)


def test_edges_is_distance_to_border_between_centres() -> None:
    # res 18, scale 2: row 4 runs through cell centres; the border is at u = 0.5 (between pixels 8 and 9).
    out = SPEC(_p(scale=2, disorder=0.0, style="edges", edge_width=0.25), 18)[0, 0]
    for x in (6, 7, 8):
        e = abs((x + 0.5) / 18 - 0.5) * 2  # distance to the border, cell units
        assert out[4, x].item() == pytest.approx(max(0.0, 1 - e / 0.25), abs=1e-5)


@pytest.mark.parametrize("metric", [0, 1, 2])
def test_gather_matches_brute_force_with_full_disorder(metric: int) -> None:
    n, res, seed = 5, 40, 3
    disorder = torch.tensor([1.0])
    f1, f2, _ = worley(torch.tensor([float(n)]), disorder, res, seed, metric, need_id=False)
    jx, jy = feature_points(n, disorder, seed)
    cx = torch.arange(n, dtype=torch.float64)
    px = (cx[None, :] + jx[0].double()).reshape(-1)  # all points, cell units
    py = (cx[:, None] + jy[0].double()).reshape(-1)
    g = (torch.arange(res, dtype=torch.float64) + 0.5) / res * n
    ox = (g[None, :, None] - px) % n
    oy = (g[:, None, None] - py) % n
    ox, oy = torch.minimum(ox, n - ox), torch.minimum(oy, n - oy)  # toroidal offsets
    d = [torch.hypot(ox, oy), ox + oy, torch.maximum(ox, oy)][metric]
    two = d.topk(2, dim=-1, largest=False).values
    torch.testing.assert_close(f1[0].double(), two[..., 0], atol=1e-5, rtol=0)
    # The 3x3 gather is exact for F2 except in rare configurations.
    assert ((f2[0].double() - two[..., 1]).abs() < 1e-5).float().mean() > 0.99


def test_cell_random_is_flat_per_cell() -> None:
    out = SPEC(_p(scale=4, disorder=0.0, style="cell_random"), 32)[0, 0]
    blocks = out.reshape(4, 8, 4, 8)
    assert (blocks.amax(dim=(1, 3)) - blocks.amin(dim=(1, 3))).abs().max().item() == 0.0
    assert blocks[:, 0, :, 0].unique().numel() == 16


def test_luminance_random_scales_each_cell() -> None:
    base = SPEC(_p(scale=4, disorder=0.0, style="f2"), 32)[0, 0]
    dark = SPEC(_p(scale=4, disorder=0.0, style="f2", luminance_random=0.5), 32)[0, 0]
    ratio = (dark / base).reshape(4, 8, 4, 8)
    assert (ratio.amax(dim=(1, 3)) - ratio.amin(dim=(1, 3))).max().item() < 1e-5
    assert ratio.min().item() >= 0.5 - 1e-6 and ratio.max().item() <= 1.0
    assert ratio.std().item() > 0.05


def test_deterministic_and_seeded() -> None:
    check_deterministic_and_seeded(SPEC, _p(scale=6, disorder=0.8))


def test_batch_items_are_independent() -> None:
    check_batch_items_independent(SPEC, _random_params(5, torch.Generator().manual_seed(0)))


def _seeds(params: dict[str, torch.Tensor], res: int) -> torch.Tensor:
    """Images of several seeds (S, H, W): averaging over them steadies the seam statistic."""
    return torch.cat([SPEC(params, res, seed=s)[:, 0] for s in range(32)])


def test_tiles_and_control_fails() -> None:
    # scale 4 at 32 px: interior lattice lines lie before pixels 8, 16, 24 (the seam is one too).
    lines = (8, 16, 24)
    for style in STYLES:
        assert _seam_ok(_seeds(_p(scale=4, disorder=0.9, style=style, edge_width=0.2), 32), lines), style
    # Control: a crop of a tiling image does not tile.
    assert not _seam_ok(_seeds(_p(scale=4, disorder=0.9), 32)[:, :20, :20])
    assert not _seam_ok(_seeds(_p(scale=4, disorder=0.9, style="cell_random"), 32)[:, :20, :20], (8, 16))


def test_output_in_unit_range_for_random_params() -> None:
    gen = torch.Generator().manual_seed(1)
    out = SPEC(_random_params(24, gen), 48, seed=5)
    assert out.shape == (24, 1, 48, 48)
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0
    assert torch.isfinite(out).all()


def test_discrete_params_are_rounded() -> None:
    a = SPEC(_p(scale=3.4, disorder=0.5, style=0.6, distance=1.3), 32)
    b = SPEC(_p(scale=3.0, disorder=0.5, style=1.0, distance=1.0), 32)
    assert torch.equal(a, b)


def test_smoke_res64_and_spec_box() -> None:
    gen = torch.Generator().manual_seed(2)
    out = SPEC(_random_params(4, gen), 64)
    assert out.shape == (4, 1, 64, 64) and out.std().item() > 0
    assert SPEC.stochastic
    for name, (lo, hi) in SPEC.sample_box.items():
        p = SPEC.param(name)
        assert p.low <= lo < hi <= p.high
