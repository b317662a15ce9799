"""Tests for the Scratches generator (proxymat.nodes.generators.scratches)."""

from __future__ import annotations

import pytest
import torch

from proxymat.nodes.generators import scratches as sc
from proxymat.nodes.generators.hashing import signed, uniform

GEN = sc.SCRATCHES


def straight(**kw: float) -> dict[str, torch.Tensor]:
    """One straight horizontal spline through the centre, no randomness."""
    p = {
        "spline_number": 1.0,
        "spline_rotation": 0.0,
        "spline_rotation_random": 0.0,
        "spline_scale": 0.5,
        "spline_scale_random": 0.0,
        "spline_distortion": 0.0,
        "spline_width": 2.0,
        "spline_width_random": 0.0,
        "spline_position_random": 0.0,
        "luminance_random": 0.0,
    }
    p.update(kw)
    return {k: torch.tensor([float(v)]) for k, v in p.items()}


def random_params(n: int, gen: torch.Generator, box: bool = False) -> dict[str, torch.Tensor]:
    """Random parameters over the full ranges (or the proxy sample box)."""
    out = {}
    for spec in GEN.params:
        lo, hi = GEN.sample_box.get(spec.name, (spec.low, spec.high)) if box else (spec.low, spec.high)
        v = lo + torch.rand(n, generator=gen) * (hi - lo)
        out[spec.name] = torch.round(v) if spec.discrete else v
    return out


def seam_ratio(img: torch.Tensor) -> tuple[float, float]:
    """Mean seam difference over mean neighbour difference, for columns and rows."""
    cols = (img[..., 0] - img[..., -1]).abs().mean() / (img[..., 1:] - img[..., :-1]).abs().mean()
    rows = (img[..., 0, :] - img[..., -1, :]).abs().mean() / (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
    return float(cols), float(rows)


# ----------------------------------------------------------------- spec


def test_spec_metadata() -> None:
    assert sc.SPECS == (GEN,)
    assert GEN.name == "scratches" and GEN.stochastic
    names = {p.name for p in GEN.params}
    assert set(GEN.sample_box) <= names
    for name, (lo, hi) in GEN.sample_box.items():
        spec = GEN.param(name)
        assert spec.low <= lo < hi <= spec.high
    assert GEN.param("fade_mode").choices == ("none", "start", "end", "both")
    assert (GEN.param("spline_number").low, GEN.param("spline_number").high) == (1, 512)
    assert (GEN.param("max_segments").low, GEN.param("max_segments").high) == (2, 256)
    assert GEN.param("spline_width").high == 2.0


# ------------------------------------------------------- general contract


def test_deterministic_and_seed_dependent() -> None:
    a = GEN({}, 48, seed=5)
    assert torch.equal(a, GEN({}, 48, seed=5))
    assert not torch.equal(a, GEN({}, 48, seed=6))
    assert a.shape == (1, 1, 48, 48) and a.dtype == torch.float32


def test_batch_independence_with_different_counts() -> None:
    p = {
        "spline_number": torch.tensor([3.0, 40.0, 17.0]),
        "max_segments": torch.tensor([2.0, 30.0, 9.0]),
        "spline_rotation": torch.tensor([0.1, 0.5, 0.9]),
        "spline_scale": torch.tensor([0.2, 0.6, 0.4]),
        "spline_distortion": torch.tensor([0.0, 0.8, 0.4]),
        "spline_width": torch.tensor([2.0, 1.0, 1.5]),
        "fade_mode": torch.tensor([0.0, 3.0, 1.0]),
        "fade_length": torch.tensor([0.2, 0.5, 0.9]),
    }
    batch = GEN(p, 48, seed=2)
    for k in range(3):
        alone = GEN({n: v[k : k + 1] for n, v in p.items()}, 48, seed=2)
        assert torch.equal(batch[k : k + 1], alone)
    assert not torch.equal(batch[0], batch[2])


def test_output_in_unit_range_for_random_params() -> None:
    gen = torch.Generator().manual_seed(0)
    img = GEN(random_params(4, gen), 32, seed=1)
    assert img.shape == (4, 1, 32, 32)
    assert torch.isfinite(img).all()
    assert img.min() >= 0.0 and img.max() <= 1.0


def test_smoke_res64_random_params() -> None:
    gen = torch.Generator().manual_seed(7)
    p = random_params(3, gen, box=True)
    p["spline_width"] = torch.full((3,), 2.0)  # at least half a pixel wide at 64
    img = GEN(p, 64, seed=3)
    assert img.shape == (3, 1, 64, 64)
    assert (img.flatten(1).amax(1) > 0.1).all()


def test_discrete_params_rounded() -> None:
    def render(n: float, m: float, mode: float) -> torch.Tensor:
        p = {"spline_number": n, "max_segments": m, "fade_mode": mode, "spline_distortion": 0.6}
        return GEN({k: torch.tensor([v]) for k, v in p.items()}, 40, seed=1)

    base = render(3.0, 7.0, 1.0)
    assert torch.equal(render(3.4, 7.3, 1.2), base)
    assert not torch.equal(render(4.0, 7.0, 1.0), base)
    assert not torch.equal(render(3.0, 8.0, 1.0), base)


# --------------------------------------------------------------- tiling


def test_seam_like_interior_and_control_fails() -> None:
    p = {
        "spline_number": torch.full((4,), 100.0),
        "spline_rotation": torch.tensor([0.0, 0.1, 0.3, 0.6]),
        "spline_width": torch.tensor([2.0]),
        "spline_width_random": torch.tensor([0.0]),
        "spline_distortion": torch.tensor([0.05]),
        "spline_scale": torch.tensor([0.5]),
    }
    img = GEN(p, 256, seed=0)
    assert max(seam_ratio(img)) <= 1.5
    # A crop does not tile: the same statistic must flag it.
    assert min(seam_ratio(img[..., :192, :192])) > 1.5


def test_spline_crossing_right_edge_continues_on_left() -> None:
    res = 64
    seed = next(s for s in range(2000) if float(uniform(0, s, sc._S_POS_X)) > 0.93)
    cx = float(uniform(0, seed, sc._S_POS_X)) * res
    cy = float(uniform(0, seed, sc._S_POS_Y)) * res
    p = straight(spline_position_random=1.0, spline_scale=0.25)
    img = GEN(p, res, seed=seed)[0, 0]
    row = img[int(cy)]
    lit = torch.nonzero(row > 0.2).squeeze(1)
    right_end = cx + 8.0  # half of 0.25 * 64 px
    assert right_end > res + 2
    # Columns on both sides of the seam are lit, and the wrapped part has the expected length.
    assert row[-1] > 0.2 and row[0] > 0.2
    wrapped = lit[lit < res // 2]
    assert abs((int(wrapped.max()) + 1) - (right_end - res)) <= 1.5
    # Nothing is lit away from the stroke's row band.
    far = torch.ones(res, dtype=torch.bool)
    far[max(0, int(cy) - 2) : int(cy) + 3] = False
    assert img[far].max() == 0.0


def test_splat_wraps_across_border_and_corner() -> None:
    res = 16
    one = torch.ones(1)
    p0 = torch.tensor([[res - 3.0, 5.5]])
    p1 = torch.tensor([[res + 3.0, 5.5]])
    # Cut into half-pixel pieces, as the generator does.
    u = torch.linspace(0, 1, 13)
    a, b = p0 + u[:-1, None] * (p1 - p0), p0 + u[1:, None] * (p1 - p0)
    zeros = torch.zeros(12, dtype=torch.int64)
    img = sc.splat_segments(zeros, a, b, one.expand(12), one.expand(12), 1, res)
    row = img[0, 0, 5]
    assert torch.allclose(row[[13, 14, 15, 0, 1, 2]], torch.ones(6))
    assert row[4:12].max() == 0.0
    # Rows 4 and 6 have their centres 1 px from the axis: half covered by the 2 px stroke.
    cols = [13, 14, 15, 0, 1, 2]
    assert torch.allclose(img[0, 0, 4, cols], torch.full((6,), 0.5))
    assert torch.allclose(img[0, 0, 6, cols], torch.full((6,), 0.5))
    # Shifting every piece by whole periods leaves the image unchanged.
    shift = torch.tensor([[-res, 2.0 * res]])
    moved = sc.splat_segments(zeros, a + shift, b + shift, one.expand(12), one.expand(12), 1, res)
    assert torch.equal(moved, img)
    # A dot on the corner lights the four corner pixels equally.
    origin = torch.zeros(1, 2)
    dot = sc.splat_segments(zeros[:1], origin, origin, one * 0.5, one, 1, res)
    corners = dot[0, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert torch.allclose(corners, corners[0].expand(4)) and corners[0] > 0.0
    assert dot[0, 0, 3:-3, 3:-3].max() == 0.0


# --------------------------------------------------------- geometry


def test_straight_spline_length_and_position() -> None:
    res = 256
    for s in (0.25, 0.5):
        img = GEN(straight(spline_scale=s), res, seed=9)[0, 0]
        # Width 2 -> 2 px: rows 127 and 128 fully covered, nothing else.
        lit_rows = torch.nonzero(img.amax(1) > 0).squeeze(1).tolist()
        assert lit_rows == [127, 128]
        cols = torch.nonzero(img[127] > 0.5).squeeze(1)
        assert abs(cols.numel() - s * res) <= 2
        assert abs((cols.min() + cols.max() + 1) / 2 - res / 2) <= 1
        assert img[127, res // 2] == 1.0 and img[128, res // 2] == 1.0


def test_width_scales_thickness() -> None:
    res = 256
    for w in (0.25, 0.5, 1.0, 1.5, 2.0):
        img = GEN(straight(spline_width=w), res, seed=0)[0, 0]
        # The box-filtered cross-section integrates to the width in px.
        col_sum = img[:, 100:150].sum(0)
        assert torch.allclose(col_sum, torch.full_like(col_sum, w), atol=1e-5)
    # Width 1 px sits on the border of rows 127/128: each is half covered.
    img = GEN(straight(spline_width=1.0), res, seed=0)[0, 0]
    assert torch.allclose(img[[127, 128], 128], torch.tensor([0.5, 0.5]))
    # Resolution independence: width 2 at 128 is 1 px.
    img = GEN(straight(spline_width=2.0), 128, seed=0)[0, 0]
    assert torch.allclose(img[:, 60].sum(), torch.tensor(1.0), atol=1e-5)


def test_rotation_quarter_turn_transposes() -> None:
    a = GEN(straight(fade_mode=1.0, fade_length=0.5), 64, seed=0)[0, 0]
    b = GEN(straight(fade_mode=1.0, fade_length=0.5, spline_rotation=0.25), 64, seed=0)[0, 0]
    assert torch.allclose(b, a.T, atol=1e-4)


def test_distortion_bounded_by_amplitude() -> None:
    res, s, d = 256, 0.5, 0.6
    img = GEN(straight(spline_scale=s, spline_distortion=d, spline_distortion_frequency=0.7, max_segments=64.0), res, 4)
    rows = torch.nonzero(img[0, 0].amax(1) > 0).squeeze(1).float() + 0.5 - res / 2
    amp = d * 0.25 * s * res  # 19.2 px
    assert rows.abs().max() <= amp + 1.0 + 1.0
    assert rows.abs().max() > 0.3 * amp  # the wobble really moves the stroke


def test_noise1d_smooth_hashed() -> None:
    sid = torch.tensor([[3], [4]])
    x = torch.linspace(0, 5, 501)[None, :]
    n = sc.noise1d(x, sid, 11)
    assert n.abs().max() <= 1.0
    # Equals the hashed lattice values at integers; continuous in between.
    assert torch.allclose(n[:, ::100], signed(sid, 11, sc._S_NOISE, torch.arange(6)[None, :]))
    assert (n[:, 1:] - n[:, :-1]).abs().max() < 0.05
    assert not torch.allclose(n[0], n[1])


def test_fade_formula() -> None:
    t = torch.tensor([0.0, 0.1, 0.5, 0.95, 1.0])
    length = torch.tensor(0.2)

    def ss(x: float) -> float:
        x = min(max(x, 0.0), 1.0)
        return x * x * (3 - 2 * x)

    start = torch.tensor([ss(v / 0.2) for v in t.tolist()])
    end = torch.tensor([ss((1 - v) / 0.2) for v in t.tolist()])
    assert torch.equal(sc.fade(t, torch.tensor(0), length), torch.ones(5))
    assert torch.allclose(sc.fade(t, torch.tensor(1), length), start)
    assert torch.allclose(sc.fade(t, torch.tensor(2), length), end)
    assert torch.allclose(sc.fade(t, torch.tensor(3), length), start * end)
    assert torch.allclose(sc.fade(t, torch.tensor(1), torch.tensor(0.0)), torch.tensor([0.0, 1, 1, 1, 1]))


def test_fade_darkens_the_chosen_end() -> None:
    res = 256

    def row(mode: float) -> torch.Tensor:
        return GEN(straight(fade_mode=mode, fade_length=0.5), res, seed=0)[0, 0, 127]

    left, right, mid = slice(66, 96), slice(160, 190), slice(120, 136)
    none, start, end, both = row(0), row(1), row(2), row(3)
    assert torch.allclose(none[66:190], torch.ones(124))
    assert start[left].mean() < 0.5 * start[right].mean()
    assert end[right].mean() < 0.5 * end[left].mean()
    assert both[left].mean() < 0.5 * both[mid].mean() and both[right].mean() < 0.5 * both[mid].mean()
    # At pixel x = 76 (t = (76.5 - 64) / 128) the start fade follows its smoothstep.
    tt = (76.5 - 64) / 128 / 0.5
    assert abs(float(start[76]) - tt * tt * (3 - 2 * tt)) < 0.02


# ------------------------------------------------------- randomness


def test_luminance_random_zero_reaches_one() -> None:
    p = {
        "spline_number": torch.tensor([8.0]),
        "spline_width": torch.tensor([2.0]),
        "spline_width_random": torch.tensor([0.0]),
        "luminance_random": torch.tensor([0.0]),
    }
    assert GEN(p, 256, seed=1).max() == 1.0
    p["luminance_random"] = torch.tensor([1.0])
    assert GEN(p, 256, seed=1).max() < 1.0


def test_adding_splines_keeps_existing_ones() -> None:
    base = {"spline_distortion": torch.tensor([0.5]), "fade_mode": torch.tensor([3.0])}
    a = GEN({**base, "spline_number": torch.tensor([20.0])}, 64, seed=3)
    b = GEN({**base, "spline_number": torch.tensor([35.0])}, 64, seed=3)
    assert (a <= b).all()
    assert (b > a).any()


def test_position_random_zero_centres_all_splines() -> None:
    p = straight(spline_number=12.0, spline_rotation_random=1.0)
    img = GEN(p, 256, seed=2)[0, 0]
    # Every straight spline passes through the centre: the 2x2 centre pixels are covered.
    assert torch.allclose(img[127:129, 127:129], torch.ones(2, 2), atol=0.05)
    # Far corners stay dark (lengths 0.5 UV reach 64 px from the centre).
    assert img[:40, :40].max() == 0.0
