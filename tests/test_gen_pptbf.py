"""Tests of the PPTBF generator (proxymat.nodes.generators.pptbf and helpers)."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch

from proxymat.nodes.generators import generator_specs
from proxymat.nodes.generators.pptbf import (
    SPECS,
    PPTBFParams,
    equalize,
    evaluate_uv,
    periodic_noise,
    pptbf_raw,
    quantile_mask,
)
from proxymat.nodes.generators.pptbf_eval import _candidates, _scene, _to_tile
from proxymat.nodes.generators.pptbf_tilings import (
    TILINGS,
    build_cells,
    lattice_from_matrix,
    make_lattice,
    neighbour_cells,
    pattern_neighbours,
    pattern_tiles,
    tile_neighbours,
)
from proxymat.nodes.generators.pptbf_windows import (
    FeatureParams,
    cell_radii,
    cellular_value,
    cellular_weight,
    classic_window,
    eval_kernels,
    kernel_counts,
    kernel_tables,
    larp_radius,
    lp_distance,
    polygon_value,
    sector_of,
    voronoi_radius,
)

SOFT, MASK, CELLULAR, COARSE, RANK = SPECS


pytestmark = pytest.mark.usefixtures("one_thread")


def _params(**kw: float) -> dict[str, torch.Tensor]:
    return {k: torch.tensor([float(v)]) for k, v in kw.items()}


def _random_params(spec, rng: random.Random, box: bool = True) -> dict[str, torch.Tensor]:
    out = {}
    for p in spec.params:
        lo, hi = spec.sample_box.get(p.name, (p.low, p.high)) if box else (p.low, p.high)
        out[p.name] = torch.tensor([rng.uniform(lo, hi)])
    return out


def _stack(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([it[k] for it in items]) for k in items[0]}


def _seam_ok(img: torch.Tensor) -> bool:
    """Seam between last and first column/row is like interior neighbours (test statistic)."""
    for dim in (-1, -2):
        seam = (img.select(dim, 0) - img.select(dim, -1)).abs().mean()
        inner = (img.narrow(dim, 1, img.shape[dim] - 1) - img.narrow(dim, 0, img.shape[dim] - 1)).abs().mean()
        if seam > 1.5 * inner + 1e-3:
            return False
    return True


# --------------------------------------------------------------------------- specs
def test_specs_are_registered_with_sampling_box():
    specs = generator_specs()
    assert specs["pptbf"] is SOFT and specs["pptbf_mask"] is MASK and specs["pptbf_mask_cellular"] is CELLULAR
    assert specs["pptbf_rank_cellular"] is RANK and RANK.fixed == CELLULAR.fixed
    assert specs["pptbf_mask_cellular_coarse"] is COARSE and COARSE.fixed == CELLULAR.fixed
    assert COARSE.params == CELLULAR.params and COARSE.sample_box == {**CELLULAR.sample_box, "zoom": (3.0, 5.0)}
    for spec in SPECS:
        assert spec.stochastic
        names = {p.name for p in spec.params}
        assert len(names) == len(spec.params) == (28 if spec in (SOFT, RANK) else 29)
        for name, (lo, hi) in spec.sample_box.items():
            p = spec.param(name)
            assert p.low <= lo <= hi <= p.high, name
        assert set(spec.fixed) <= names
    assert SOFT.param("tiling").choices[0] == "regular" and len(SOFT.param("tiling").choices) == 18
    assert SOFT.param("zoom").low == 2.0 and SOFT.param("zoom").high == 30.0


# --------------------------------------------------------------------------- generator contract
def test_deterministic_and_seeded():
    p = _params(tiling=7, jitter=0.7, zoom=5, mixture=2, np_min=2, np_max=4, window_blend=0.7)
    a, b = SOFT(p, 32, seed=3), SOFT(p, 32, seed=3)
    assert torch.equal(a, b)
    assert (a - SOFT(p, 32, seed=4)).abs().mean() > 0.02


def test_batch_items_are_independent():
    rng = random.Random(1)
    items = [_random_params(SOFT, rng) for _ in range(3)]
    batch = SOFT(_stack(items), 32, seed=5)
    for k, it in enumerate(items):
        assert torch.equal(batch[k : k + 1], SOFT(it, 32, seed=5))


def test_output_in_unit_range_for_random_parameters():
    rng = random.Random(2)
    for _ in range(8):
        p = _random_params(SOFT, rng, box=False)
        raw = pptbf_raw({q.name: torch.round(p[q.name]) if q.discrete else p[q.name] for q in SOFT.params}, 24, 0)
        assert torch.isfinite(raw).all() and raw.min() >= 0.0
        out = SOFT(p, 24, seed=0)
        assert out.shape == (1, 1, 24, 24) and out.min() >= 0.0 and out.max() <= 1.0
        if raw.max() > raw.min():  # the remap spans [0, 1] exactly
            assert out.min().item() == 0.0 and out.max().item() == 1.0


def test_smoke_random_batch_res64():
    rng = random.Random(3)
    out = SOFT(_stack([_random_params(SOFT, rng) for _ in range(3)]), 64, seed=1)
    assert out.shape == (3, 1, 64, 64) and torch.isfinite(out).all()
    assert (out.amax((1, 2, 3)) - out.amin((1, 2, 3)) > 0.5).all()  # remapped: min 0 / max 1


def test_discrete_parameters_are_rounded():
    base = dict(tiling=3, mixture=2, np_min=1, np_max=3, frequency=2, window_arity=3, window_blend=0.8, zoom=5)
    ref = SOFT(_params(**base), 32, seed=0)
    for name, value in [("tiling", 3.4), ("np_max", 3.3), ("frequency", 1.6), ("window_arity", 2.6), ("mixture", 1.7)]:
        assert torch.equal(SOFT(_params(**{**base, name: value}), 32, seed=0), ref), name
    assert not torch.equal(SOFT(_params(**{**base, "np_max": 4}), 32, seed=0), ref)


_TILING_CASES = [
    dict(tiling=0, zoom=9),
    dict(tiling=5, zoom=8, mixture=3, np_min=2, np_max=4, anisotropy=1.5, orientation=0.3),
    dict(tiling=16, zoom=7, window_blend=0.7, window_larp=0.5, mixture=2, frequency=3),
    dict(tiling=7, zoom=8, distortion_amplitude=0.05, distortion_gain=0.6, distortion_frequency=1.3),
    dict(tiling=6, zoom=8, rotation=0.1, aspect=1.7, mixture=4, np_min=2, np_max=3),  # rotated: still tiles
]


@pytest.mark.parametrize("extra", _TILING_CASES)
def test_tileable_seam_statistic(extra):
    assert _seam_ok(SOFT(_params(**extra), 64, seed=2)[0, 0])


def test_seam_statistic_fails_on_a_non_tiling_control():
    img = SOFT(_params(**_TILING_CASES[0]), 64, seed=2)[0, 0]
    assert not _seam_ok(img[:, :37]) and not _seam_ok(img[:41])  # crops do not tile


@pytest.mark.parametrize("extra", _TILING_CASES + [dict(tiling=13, zoom=3.3, rotation=0.3, aspect=0.7, window_blend=0.6)])
def test_pattern_is_exactly_periodic_in_uv(extra):
    ip = PPTBFParams.from_batch(SOFT.defaults(1) | _params(**extra), 0)
    uv = torch.rand(400, 2, generator=torch.Generator().manual_seed(0))
    a, _ = evaluate_uv(ip, uv, 64, 3)
    for shift in ([1.0, 0.0], [0.0, -1.0], [2.0, 3.0]):
        b, _ = evaluate_uv(ip, uv + torch.tensor(shift), 64, 3)
        close = (a - b).abs() < 1e-3  # float rounding may flip points lying on a cell border
        assert close.float().mean() > 0.99, shift
    c, _ = evaluate_uv(ip, uv + 0.37, 64, 3)
    assert (a - c).abs().mean() > 0.01  # a non-integer shift is a different point


def test_each_tiling_runs_and_gives_a_distinct_layout():
    imgs = [SOFT(_params(tiling=t, zoom=4, jitter=0.5), 40, seed=0)[0, 0] for t in range(18)]
    for a in range(18):
        assert torch.isfinite(imgs[a]).all()
        for b in range(a):
            assert (imgs[a] - imgs[b]).abs().mean() > 0.02, (a, b)


def test_regular_jitter0_peaks_at_tile_centres():
    # 4 tiles across 60 px: tile centres fall exactly on pixels 7, 22, 37, 52.
    p = dict(tiling=0, jitter=0, zoom=4, window_blend=1, mixture=0, window_shape=1, window_arity=4)
    raw = pptbf_raw(SOFT.defaults(1) | _params(**p), 60, 0)[0, 0]
    centres = torch.tensor([7, 22, 37, 52])
    assert torch.allclose(raw[centres][:, centres], torch.ones(4, 4))
    mask = torch.ones_like(raw, dtype=torch.bool)
    mask[centres[:, None], centres[None, :]] = False
    assert raw[mask].max() < 0.999  # the maxima are exactly the tile centres
    # next to the tile borders (between pixels 14|15, 29|30, ...) the cellular window has vanished
    border = torch.tensor([14, 15, 29, 30, 44, 45, 59, 0])
    assert raw[border].max() < 0.1 and raw[:, border].max() < 0.1
    # normalised window with constant feature: exactly 1 wherever a window is non-zero
    flat = pptbf_raw(SOFT.defaults(1) | _params(**{**p, "window_shape": 0, "window_blend": 0.5}), 60, 0)
    assert torch.allclose(flat, torch.ones_like(flat))


# --------------------------------------------------------------------------- point process
def test_jitter0_points_are_cell_centres():
    lat = make_lattice(5.0, 0.0, 1.0, 1)
    cells = build_cells(TILINGS[0], lat, 0.0, 0)
    assert cells.size == lat.n_units == 25
    assert torch.allclose(cells.point, torch.full((25, 2), 0.5))  # local coordinates: the tile centre
    for t in (2, 7, 16):  # relaxed, subdivided irregular, pattern
        cells = build_cells(TILINGS[t], make_lattice(5.0, 0.0, 1.0, 1), 0.0, 0)
        assert torch.allclose(cells.point[cells.valid], cells.centre[cells.valid])


@pytest.mark.parametrize("tiling", [1, 3, 7, 9, 11, 15, 17])
def test_subdivided_cells_partition_tiles_and_hold_their_points(tiling):
    t = TILINGS[tiling]
    lat = make_lattice(4.0, 0.0, 1.0, t.shift)
    cells = build_cells(t, lat, 1.0, 7)
    tiles = build_cells(dataclasses.replace(t, psub=0.0, relax=0), lat, 1.0, 7)  # same tiles, not split
    s = cells.slots
    area = (4 * cells.half.prod(-1) * cells.valid).view(-1, s).sum(1)
    assert torch.allclose(area, 4 * tiles.half.prod(-1), atol=1e-5)
    lo, hi = cells.centre - cells.half, cells.centre + cells.half
    t_lo = (tiles.centre - tiles.half).repeat_interleave(s, 0)
    t_hi = (tiles.centre + tiles.half).repeat_interleave(s, 0)
    v = cells.valid
    assert ((lo[v] >= t_lo[v] - 1e-5) & (hi[v] <= t_hi[v] + 1e-5)).all()
    assert ((cells.point[v] >= lo[v]) & (cells.point[v] <= hi[v])).all()
    n_parts = v.view(-1, s).sum(1)
    assert n_parts.min() >= 1 and (n_parts > 1).any() and (n_parts == 1).any()


@pytest.mark.parametrize("tiling", range(18))
def test_candidates_contain_the_nearest_point(tiling):
    """The per-pixel candidate block holds the nearest feature point (brute force over 7 x 7 units).

    Like the shader's 9-tile block, the block can miss the nearest point in rare
    spots of irregular and pattern tilings (long bars): at most 1% of pixels.
    """
    extra = dict(tiling=tiling, zoom=4.3, jitter=1.0, rotation=0.07 * (tiling % 3), aspect=1.0 + 0.2 * (tiling % 2))
    ip = PPTBFParams.from_batch(SOFT.defaults(1) | _params(**extra), 0)
    sc = _scene(ip, 64, 0)
    t = _to_tile(sc, torch.rand(1000, 2, generator=torch.Generator().manual_seed(tiling)))
    got = _candidates(sc, t)
    near = (got.rx**2 + got.ry**2).amin(1)
    base = torch.floor(t).to(torch.int64)
    per_unit = sc.cells.n_tiles * sc.cells.slots
    best = torch.full((t.shape[0],), float("inf"))
    for dj in range(-3, 4):
        for di in range(-3, 4):
            u = sc.lat.unit_index(base[:, 0] + di, base[:, 1] + dj)
            cells = u[:, None] * per_unit + torch.arange(per_unit)
            p = sc.cells.point[cells] + (base + torch.tensor([di, dj]))[:, None, :]
            d2 = ((t[:, None, :] - p) ** 2).sum(-1).masked_fill(~sc.cells.valid[cells], float("inf"))
            best = torch.minimum(best, d2.amin(1))
    miss = (near - best > 1e-5).float().mean().item()
    assert miss == 0.0 if tiling in (0, 1, 2, 3, 4, 5, 14, 15) else miss <= 0.01


def test_relaxation_keeps_points_inside_with_margin():
    cells = build_cells(TILINGS[2], make_lattice(4.0, 0.0, 1.0, 1), 1.0, 3)
    lo, hi = cells.centre - cells.half + 0.05 - 1e-5, cells.centre + cells.half - 0.05 + 1e-5
    assert ((cells.point >= lo) & (cells.point <= hi)).all()
    unrelaxed = build_cells(dataclasses.replace(TILINGS[2], relax=0), cells.lattice, 1.0, 3)
    assert not torch.allclose(unrelaxed.point, cells.point)


@pytest.mark.parametrize("name", ["cross2", "cross3", "bisquare", "pavement"])
def test_pattern_tilings_cover_each_quantum_once(name):
    q, tiles = pattern_tiles(name)
    cover = torch.zeros(q, q, dtype=torch.int64)
    for x, y, w, h in tiles:
        for qy in range(y, y + h):
            for qx in range(x, x + w):
                cover[qy % q, qx % q] += 1
    assert torch.equal(cover, torch.ones(q, q, dtype=torch.int64))
    by_quantum, by_tile = pattern_neighbours(name)
    for qy in range(q):
        for qx in range(q):
            di, dj, l = by_quantum[qy * q + qx][0]  # first entry: the tile holding the quantum
            x, y, w, h = tiles[l]
            assert x + di * q <= qx < x + di * q + w and y + dj * q <= qy < y + dj * q + h


def test_lattice_canonical_units_are_periodic():
    rng = random.Random(4)
    for a, b, c, d in [(7, 0, 0, 5), (5, -2, 2, 5), (3, -1, 2, 4), (1, -2, 4, 3)]:
        lat = lattice_from_matrix(a, b, c, d)
        assert lat.n_units == abs(a * d - b * c)
        i = torch.tensor([rng.randint(-40, 40) for _ in range(50)])
        j = torch.tensor([rng.randint(-40, 40) for _ in range(50)])
        k1, k2 = rng.randint(-3, 3), rng.randint(-3, 3)
        shifted = lat.canon(i + k1 * a + k2 * b, j + k1 * c + k2 * d)
        assert torch.equal(torch.stack(lat.canon(i, j)), torch.stack(shifted))
        gi, gj = torch.meshgrid(torch.arange(-30, 30), torch.arange(-30, 30), indexing="ij")
        units = lat.unit_index(gi.reshape(-1), gj.reshape(-1))
        assert units.min() == 0 and len(units.unique()) == lat.n_units


def test_make_lattice_rounding():
    assert (lambda m: (m.a, m.b, m.c, m.d))(make_lattice(7.6, 0.0, 1.0, 1)) == (8, 0, 0, 8)
    assert (lambda m: (m.a, m.b, m.c, m.d))(make_lattice(7.6, 0.0, 2.0, 1)) == (4, 0, 0, 8)
    assert make_lattice(7.6, 0.0, 1.0, 3).d == 9  # row-shifted by 1/3: rows in multiples of 3
    m = make_lattice(5.0, 0.5, 1.0, 1)  # quarter turn
    assert (m.a, m.b, m.c, m.d) == (0, -5, 5, 0)
    m = make_lattice(5.0, 0.1, 1.0, 1)  # 18 degrees -> the lattice vector (5, 2): 21.8 degrees
    assert (m.a, m.b, m.c, m.d) == (5, -2, 2, 5) and m.n_units == 29
    assert make_lattice(2.0, 0.0, 10.0, 1).a == 1  # never degenerate


# --------------------------------------------------------------------------- windows
def test_classic_window_and_cellular_weight_formulas():
    d = torch.tensor([0.0, 0.5, 0.99, 1.01, 2.0])
    g = classic_window(d, 1, 1.0)
    e2 = math.exp(-2.0)
    assert torch.allclose(g[:2], torch.tensor([1.0, (math.exp(-1.0) - e2) / (1 - e2)]))
    assert g[3:].max() == 0.0
    assert torch.allclose(classic_window(d, 0, 1.5), classic_window(d, 1, 1.5))
    assert torch.allclose(classic_window(d, 2, 1.0), torch.tensor([1.0, 0.5, 0.01, 0.0, 0.0]), atol=1e-6)
    assert torch.equal(classic_window(d, 3, 1.0), torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))
    cv = torch.tensor([0.0, 0.5, 1.0])
    want = (math.exp(-0.5) - math.exp(-1.0)) / (1 - math.exp(-1.0))
    assert torch.allclose(cellular_weight(cv, 1.0), torch.tensor([0.0, want, 1.0]), atol=1e-6)
    assert torch.allclose(cellular_weight(cv, 0.01), cv, atol=2e-3)  # small sigma: nearly linear


def test_lp_distance_norms():
    x, y = torch.tensor([3.0]), torch.tensor([-4.0])
    assert lp_distance(x, y, 2.0).item() == pytest.approx(5.0)
    assert lp_distance(x, y, 1.0).item() == pytest.approx(7.0)
    assert lp_distance(x, y, 3.0).item() == pytest.approx(4.0)
    p25 = (3**2.5 + 4**2.5) ** (1 / 2.5)
    assert lp_distance(x, y, 2.5).item() == pytest.approx(0.5 * 4 + 0.5 * p25, rel=1e-5)
    assert lp_distance(x, y, 1.5).item() == pytest.approx((3**1.5 + 4**1.5) ** (1 / 1.5), rel=1e-5)


def _diamond_expectations(d: float, deg: float) -> tuple[float, float, float]:
    """cv for the diamond (1,0),(0,1),(-1,0),(0,-1), pixel at angle ``deg`` < 45 degrees (hand geometry)."""
    ux, uy = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    lam0 = 1.0 / (ux + uy)  # edge x + y = 1
    lam1 = 0.5 / ux  # corner (1, 0) cut by the line x = 0.5 through the edge midpoints
    ts = math.hypot(0.5 - 0.5, lam1 * uy + 0.5)  # distance from (0.5, -0.5) along the cut (length 1)
    qx = (1 - ts) ** 2 * 0.5 + 2 * ts * (1 - ts) * 1.0 + ts**2 * 0.5
    qy = (1 - ts) ** 2 * -0.5 + ts**2 * 0.5
    return 1 - d / lam0, 1 - d / lam1, 1 - d / math.hypot(qx, qy)


def test_polygon_and_cellular_value_on_a_diamond():
    d, deg = 0.3, 10.0
    cv0, cv1, cv2 = _diamond_expectations(d, deg)
    rx = torch.tensor([d * math.cos(math.radians(deg))])
    ry = torch.tensor([d * math.sin(math.radians(deg))])
    v = lambda x, y: (torch.tensor([x]), torch.tensor([y]))  # noqa: E731
    verts = (v(0.0, -1.0), v(1.0, 0.0), v(0.0, 1.0), v(-1.0, 0.0))
    lower = torch.tensor([False])
    for smooth, want in [(0.0, cv0), (1.0, cv1), (2.0, cv2), (0.5, 0.5 * (cv0 + cv1)), (1.25, 0.75 * cv1 + 0.25 * cv2)]:
        assert polygon_value(rx, ry, verts, lower, smooth).item() == pytest.approx(want, abs=1e-5)
        # through the sector machinery: 4 sectors of a unit circle starting at angle 0
        got = cellular_value(rx, ry, torch.zeros(1), lambda m: torch.ones(m.shape), 4, smooth)
        assert got.item() == pytest.approx(want, abs=1e-5)
    assert polygon_value(torch.zeros(1), torch.zeros(1), verts, lower, 0.0).item() == 1.0  # at the point
    assert polygon_value(torch.tensor([0.6]), torch.tensor([0.6]), verts, lower, 0.0).item() == 0.0  # outside


def test_sector_index():
    ang = torch.tensor([math.radians(100.0), math.radians(-10.0)])
    rx, ry = torch.cos(ang), torch.sin(ang)
    assert sector_of(rx, ry, torch.zeros(2), 4).tolist() == [1, 3]
    assert sector_of(rx, ry, torch.full((2,), 0.5), 4).tolist() == [0, 3]


def test_voronoi_radius_square_grid():
    # neighbours of the origin on the unit grid: the cell is the square [-0.5, 0.5]^2
    q = torch.tensor([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)], dtype=torch.float32)
    ang = torch.tensor([0.0, math.pi / 4, math.pi / 6])
    r = voronoi_radius(q[:, 0], q[:, 1], torch.cos(ang)[:, None], torch.sin(ang)[:, None])
    assert torch.allclose(r, torch.tensor([0.5, 0.5 * math.sqrt(2), 0.5 / math.cos(math.pi / 6)]), atol=1e-6)


def _brute_larp(p0, b0, pts, bs, u, larp):
    """First s along u where some competitor is closer under the larp metric (fine sampling)."""

    def dist(y, p, b):
        z = y - p
        ex = torch.where(z[..., 0] > 0, z[..., 0] / b[..., 0], -z[..., 0] / b[..., 1])
        ey = torch.where(z[..., 1] > 0, z[..., 1] / b[..., 2], -z[..., 1] / b[..., 3])
        return (1 - larp) * z.norm(dim=-1) + larp * torch.maximum(ex, ey)

    s = torch.linspace(1e-4, 2.0, 20000, dtype=torch.float64)
    y = p0 + s[:, None] * u
    outside = dist(y[:, None], pts[None], bs[None]).amin(1) < dist(y, p0, b0)
    return s[outside.nonzero()[0, 0]].item()


def test_larp_radius_matches_brute_force():
    p0 = torch.tensor([0.1, -0.05], dtype=torch.float64)
    b0 = torch.tensor([0.4, 0.6, 0.45, 0.55], dtype=torch.float64)  # border distances +x -x +y -y
    pts = torch.tensor([[1.0, 0.1], [-0.9, 0.0], [0.0, 1.1], [0.1, -1.0], [0.9, 0.9]], dtype=torch.float64)
    bs = torch.tensor([[0.5, 0.5, 0.5, 0.5]], dtype=torch.float64).expand(5, 4)
    inv = lambda b: torch.stack([1 / b[..., 0], -1 / b[..., 1], 1 / b[..., 2], -1 / b[..., 3]], -1)  # noqa: E731
    ang = torch.tensor([0.0, 1.0, 2.5, 4.0], dtype=torch.float64)
    ux, uy = torch.cos(ang), torch.sin(ang)
    for larp in (0.3, 0.9):
        r = larp_radius((pts - p0)[None], inv(bs)[None], inv(b0)[None], ux[None], uy[None], larp)[0]
        for a in range(4):
            want = _brute_larp(p0, b0, pts, bs, torch.stack([ux[a], uy[a]]), larp)
            assert r[a].item() == pytest.approx(want, abs=2e-4)
    # larp -> 0 is the Voronoi radius
    q = pts - p0
    r0 = larp_radius(q[None], inv(bs)[None], inv(b0)[None], ux[None], uy[None], 1e-6)[0]
    assert torch.allclose(r0, voronoi_radius(q[:, 0], q[:, 1], ux[:, None], uy[:, None]), atol=1e-5)


def test_cell_radii_of_regular_grid_are_squares():
    cells = build_cells(TILINGS[0], make_lattice(3.0, 0.0, 1.0, 1), 0.0, 0)
    rot = torch.zeros(cells.size)
    for larp in (0.0, 0.7):
        r = cell_radii(cells, tile_neighbours(TILINGS[0]), larp, 8, rot)
        ang = torch.arange(8) * (math.pi / 4)
        want = 0.5 / torch.maximum(torch.cos(ang).abs(), torch.sin(ang).abs())
        assert torch.allclose(r, want.expand_as(r), atol=1e-4)
    cells_all, ok, _ = neighbour_cells(cells, tile_neighbours(TILINGS[0]))
    assert cells_all.shape == (9, 9) and ok.all()


# --------------------------------------------------------------------------- features
def _feature(**kw) -> FeatureParams:
    base = dict(mixture=2, norm=2.0, correlation=0.0, anisotropy=0.0, np_min=1, np_max=1, sigcos=1.0, sigcos_var=0.0,
                frequency=0, phase=0.0, thickness=1.0, curvature=0.0, orientation=0.0)
    return FeatureParams(**{**base, **kw})


def _table(tag: float, factor: float | None = None) -> torch.Tensor:
    """Kernel table of one cell with the identity map and scale 1."""
    fields = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, tag] + ([] if factor is None else [factor])
    return torch.tensor(fields).reshape(1, -1, 1)


def test_eval_kernels_formulas():
    cell = torch.zeros(3, dtype=torch.int64)
    x, y = torch.tensor([0.3, 0.25, 2.0]), torch.tensor([0.4, 0.0, 0.0])
    e = torch.exp(-torch.tensor([0.5, 0.25, 2.0]))
    for mix in (2, 4):
        acc, _ = eval_kernels(_table(1.0), cell, x, y, _feature(mixture=mix))
        assert torch.allclose(acc, e)
    acc, _ = eval_kernels(_table(-0.5), cell, x, y, _feature(mixture=1))  # negative amplitude
    assert torch.allclose(acc, -0.5 * e)
    acc, best = eval_kernels(_table(0.5), cell, x, y, _feature(mixture=3))
    assert torch.allclose(acc, torch.tensor([e[0], e[1], 0.0])) and best.tolist() == [0.5, 0.5, -2.0]
    rings = _feature(frequency=2, curvature=1.0)  # ff = 0.5 + 0.5 cos(2 pi r)
    acc, _ = eval_kernels(_table(1.0, 2 * math.pi), cell, x, y, rings)
    assert torch.allclose(acc, torch.tensor([0.0, 0.5 * e[1], e[2]]), atol=1e-6)
    acc, best = eval_kernels(_table(0.5, 2 * math.pi), cell, x, y, _feature(mixture=3, frequency=2, curvature=1.0))
    assert acc.tolist() == [0.0, 0.0, 0.0]  # bombing needs the stripe profile above 0.5
    thin = _feature(frequency=2, curvature=1.0, thickness=0.5)  # profile squared
    acc, _ = eval_kernels(_table(1.0, 2 * math.pi), cell[:2], x[:2], y[:2], thin)
    assert acc[1].item() == pytest.approx(0.25 * e[1].item(), rel=1e-3)
    straight = _feature(frequency=2, curvature=0.0)  # stripes along x: depend on ddy only
    acc, _ = eval_kernels(_table(1.0, 2 * math.pi), cell[:1], torch.tensor([0.3]), torch.tensor([0.5]), straight)
    assert acc.item() == pytest.approx(0.0, abs=1e-6)


def test_eval_kernels_skips_cells_without_kernels():
    kt = torch.cat([_table(1.0), _table(1.0)], 0)  # two kernels, identical
    cell = torch.tensor([0, 1, 0, 0, 0, 0, 0, 0, 0, 0])  # cell 1: no kernels at all
    kt = torch.cat([kt, torch.zeros(2, 7, 1)], 2)
    x = torch.full((10,), 0.5)
    y = torch.zeros(10)
    counts = torch.tensor([1, 0])
    acc, _ = eval_kernels(kt, cell, x, y, _feature(np_min=2, np_max=2), counts)
    want = torch.full((10,), math.exp(-0.5))
    want[1] = 0.0
    assert torch.allclose(acc, want)  # the second kernel is skipped: counts say one kernel


def test_kernel_tables_geometry():
    cells = build_cells(TILINGS[0], make_lattice(3.0, 0.0, 1.0, 1), 0.5, 1)
    fp = _feature(np_min=2, np_max=5, correlation=1.0, frequency=3)  # kernels centred on the feature point
    kt = kernel_tables(cells, fp, 1.5)
    assert kt.shape == (5, 8, cells.size + 1)
    counts = kernel_counts(cells.key, fp)
    assert counts.min() >= 2 and counts.max() <= 4
    a11, a12, a21, a22, b1, b2, amp, factor = kt[0, :, :-1]
    s = 1 / 1.5  # sigcos / footprint (no variation)
    assert b1.abs().max() < 1e-6 and b2.abs().max() < 1e-6  # centred on the point: (0, 0) maps to (0, 0)
    assert torch.allclose(a11 * cells.half[:, 0], torch.full_like(a11, s)) and a21.abs().max() < 1e-6
    free = kernel_tables(cells, _feature(np_min=2, np_max=5), 1.5)  # centres spread over the cell
    centre = -torch.linalg.solve(
        torch.stack([free[:, 0:2], free[:, 2:4]], -2).permute(0, 3, 1, 2)[:, :-1], free[:, 4:6, :-1].permute(0, 2, 1)
    )  # mu - p solves A (mu - p) = -b
    mu = centre + cells.point
    inside = (mu - cells.centre).abs() <= 0.99 * cells.half + 1e-5
    assert inside.all()
    assert torch.allclose(factor, torch.full_like(factor, 3 * math.pi / s))
    on = torch.arange(5)[:, None] < counts[None, :]
    assert torch.equal(kt[:, 6, :-1] != 0, on) and kt[:, 6, -1].abs().max() == 0  # null cell: no amplitude
    prio = kernel_tables(cells, _feature(mixture=3, np_min=2, np_max=5), 1.5)[:, 6]
    assert torch.equal(prio[:, :-1] >= 0, on) and prio[:, -1].max() == -2


# --------------------------------------------------------------------------- remap, noise, mask
def test_equalize_piecewise_linear():
    v = torch.tensor([[0.0, 1.0, 2.0, 5.0], [3.0, 3.0, 3.0, 3.0]])
    assert torch.allclose(equalize(v), torch.tensor([[0.0, 0.25, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5]]))


def test_periodic_noise_tiles_and_crossfades():
    g = (torch.arange(16, dtype=torch.float32) + 0.5) / 16
    uv = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)
    for freq in (3.0, 3.4):
        a = periodic_noise(uv, freq, 0, 1)
        assert torch.allclose(a, periodic_noise(uv + 1.0, freq, 0, 1), atol=1e-5)
        assert torch.allclose(a, periodic_noise(uv - torch.tensor([2.0, 0.0]), freq, 0, 1), atol=1e-5)
    assert torch.allclose(periodic_noise(uv, 3.0000001, 0, 1), periodic_noise(uv, 3.0, 0, 1))
    const = periodic_noise(uv, 0.0, 0, 1)
    assert const.shape == (256, 2) and const[:, 0].unique().numel() == 1  # frequency 0: a constant offset
    a = periodic_noise(uv, 3.0, 0, 1)
    assert a.abs().max() <= 1.0 and a.std(0).min() > 0.1 and (a[:, 0] - a[:, 1]).abs().mean() > 0.1
    # value noise: the lattice values are met at lattice points (uv = k / 3)
    k = torch.tensor([[0.0, 0.0], [1 / 3, 2 / 3]])
    assert torch.allclose(periodic_noise(k, 3.0, 0, 1), periodic_noise(k + 1.0, 3.0, 0, 1), atol=1e-5)


def test_mask_white_fraction_matches_threshold():
    rng = random.Random(6)
    for k in range(24):
        p = _random_params(MASK, rng)
        t = rng.uniform(0.05, 0.95)
        p["threshold"] = torch.tensor([t])
        out = MASK(p, 32, seed=k)
        assert out.shape == (1, 1, 32, 32)
        assert abs(out.mean().item() - t) <= 0.02
        hard = (out == 0) | (out == 1)
        assert hard.float().mean() > 0.5  # binary apart from anti-aliased edges
        edge = (out > 0.5) != (out.roll(1, -1) > 0.5)
        edge |= ((out > 0.5) != (out.roll(-1, -1) > 0.5)) | ((out > 0.5) != (out.roll(1, -2) > 0.5))
        edge |= (out > 0.5) != (out.roll(-1, -2) > 0.5)
        assert (hard | edge).all()  # grey values only on the boundary


def test_mask_with_ties_and_flat_input():
    flat = torch.full((20, 20), 0.5)
    m = quantile_mask(flat, flat, 0.3, 0)
    assert m.sum().item() == 120 and set(m.unique().tolist()) <= {0.0, 1.0}
    # a constant soft output (mixture 0 with the normalised window) still gives a cell-shaped mask
    p = _params(threshold=0.4, window_shape=0, mixture=0, zoom=4, window_blend=1)
    out = MASK(p, 40, seed=0)[0, 0]
    assert abs(out.mean().item() - 0.4) <= 0.02
    # hard edges only where the soft value ties; otherwise a thin ramp
    v = torch.linspace(0, 1, 100).view(10, 10)
    m = quantile_mask(v, v, 0.5, 0)
    assert m.sum().item() == pytest.approx(50, abs=1)


def test_mask_threshold_is_a_quantile_of_the_soft_output():
    p = _params(threshold=0.3, tiling=6, zoom=4, mixture=2, np_min=2, np_max=3, window_blend=0.8)
    soft = SOFT({k: v for k, v in p.items() if k != "threshold"}, 48, seed=0)[0, 0]
    mask = MASK(p, 48, seed=0)[0, 0]
    white = mask > 0.5
    assert soft[white].min() >= soft[~white].max() - 1e-6


def test_params_from_batch_units():
    p = SOFT.defaults(2) | _params(rotation=0.5, phase=1.0, orientation=0.25)
    ip = PPTBFParams.from_batch({k: v.expand(2) for k, v in p.items()}, 1)
    assert ip.feature.phase == pytest.approx(math.pi / 2)
    assert ip.feature.orientation == pytest.approx(math.pi / 4)
    assert ip.tiling == 0 and ip.window_shape == 1


def test_cellular_family_pins_everything_but_its_box():
    """The mask-fitting family: the free parameters are exactly the sampling box, all others pinned."""
    free = {p.name for p in CELLULAR.params} - set(CELLULAR.fixed)
    assert free == set(CELLULAR.sample_box) and len(free) == 10
    assert CELLULAR.fixed["tiling"] == 0.0 and CELLULAR.fixed["mixture"] == 0.0
    img = CELLULAR({"threshold": torch.tensor([0.3]), "jitter": torch.tensor([0.5])}, 32, 0)
    assert set(img.unique().tolist()) <= {0.0, 1.0}
    assert abs(float(img.mean()) - 0.3) < 0.05  # the white fraction follows the threshold
