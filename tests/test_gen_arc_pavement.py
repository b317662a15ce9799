"""Arc pavement: layout periodicity and stagger, stone formulas, tiling, determinism."""

from __future__ import annotations

import pytest
import torch

from proxymat.nodes.generators import get_generator
from generator_checks import check_batch_items_independent, check_deterministic_and_seeded, seam_ok

SPEC = get_generator("arc_pavement")
REGULAR = {
    "pattern_width_random": 0.0,
    "pattern_height_random": 0.0,
    "global_pattern_width_random": 0.0,
    "color_random": 0.0,
}


def _p(batch: int = 1, **values: float) -> dict[str, torch.Tensor]:
    return {k: torch.full((batch,), float(v)) for k, v in values.items()}


def _random_params(batch: int, gen: torch.Generator, box: bool = False) -> dict[str, torch.Tensor]:
    out = {}
    for p in SPEC.params:
        lo, hi = SPEC.sample_box.get(p.name, (p.low, p.high)) if box else (p.low, p.high)
        out[p.name] = lo + (hi - lo) * torch.rand(batch, generator=gen)
    return out


def test_arcs_repeat_vertically_and_columns_are_staggered_by_half_an_arc() -> None:
    res, arcs = 64, 4  # one arc = 16 px, half an arc = 8 px; columns are 32 px wide
    out = SPEC(_p(**REGULAR, arcs_amount=arcs, pattern_amount=5), res)[0, 0]
    torch.testing.assert_close(out, torch.roll(out, res // arcs, dims=0), atol=1e-5, rtol=0)
    left, right = out[:, :32], out[:, 32:]
    torch.testing.assert_close(right, torch.roll(left, res // (2 * arcs), dims=0), atol=1e-5, rtol=0)
    assert not torch.allclose(right, left, atol=1e-3)
    # Without random values each column is mirror-symmetric about its centre.
    torch.testing.assert_close(left, left.flip(1), atol=1e-4, rtol=0)


def test_arcs_bow_upwards() -> None:
    # The first bright pixel of an arc lies lower (larger row) at the column edge than at its centre.
    out = SPEC(_p(**REGULAR, arcs_amount=4, pattern_amount=3, pattern_height=0.5), 64)[0, 0]
    column = out[:, :32]
    centre_top = int(torch.nonzero(column[16:32, 16] > 0.5)[0])
    edge_top = int(torch.nonzero(column[16:32, 2] > 0.5)[0])
    assert edge_top > centre_top


def test_stone_plateau_is_its_luminance() -> None:
    p = _p(**{**REGULAR, "color_random": 0.7}, arcs_amount=4, pattern_amount=3)
    out = SPEC(p, 64, seed=2)[0, 0]
    assert out.max().item() <= 1.0 and out.min().item() == 0.0
    plain = SPEC(_p(**REGULAR, arcs_amount=4, pattern_amount=3), 64, seed=2)[0, 0]
    assert plain.max().item() == pytest.approx(1.0, abs=1e-6)  # regular stones reach 1
    mask = plain > 0.999
    ratio = out[mask] / plain[mask]
    assert ratio.min().item() >= 0.3 - 1e-6  # 1 - color_random * U
    assert ratio.unique().numel() > 3  # stones differ


def test_pattern_scale_zero_leaves_only_joints() -> None:
    assert SPEC(_p(pattern_scale=0.0), 32).abs().max().item() == 0.0
    assert SPEC(_p(pattern_width=0.0), 32).abs().max().item() == 0.0


def test_width_and_height_fill_the_slots() -> None:
    def fill(**kw: float) -> float:
        return (SPEC(_p(**REGULAR, arcs_amount=4, pattern_amount=6, **kw), 64) > 0.5).float().mean().item()

    assert fill(pattern_width=0.5) < fill(pattern_width=0.9)
    assert fill(pattern_height=0.5) < fill(pattern_height=0.9)
    assert fill(pattern_scale=0.5) < fill(pattern_scale=1.0)


def test_height_decrease_thins_stones_towards_arc_ends() -> None:
    def bright(decrease: float) -> torch.Tensor:
        out = SPEC(_p(**REGULAR, arcs_amount=4, pattern_amount=4, pattern_height_decrease=decrease), 64)[0, 0]
        return (out[:, :32] > 0.5).float().mean(dim=0)  # per pixel column of the left column

    flat, thin = bright(0.0), bright(0.5)
    assert thin[3] < 0.8 * flat[3]  # slot 0 (arc end) thinner
    assert thin[14] > 0.85 * flat[14]  # middle slots change less
    assert (thin <= flat + 1e-6).all()


def test_changes_with_counts_and_randoms() -> None:
    base = SPEC({}, 64, seed=1)
    for name, value in [("arcs_amount", 8), ("pattern_amount", 20), ("pattern_width_random", 0.2),
                        ("pattern_height_random", 0.2), ("global_pattern_width_random", 0.2), ("color_random", 0.5)]:
        other = SPEC(_p(**{name: value}), 64, seed=1)
        assert (other - base).abs().mean().item() > 0.005, name


def test_deterministic_and_seeded() -> None:
    check_deterministic_and_seeded(SPEC, _p(color_random=0.8, pattern_width_random=0.2))


def test_batch_items_are_independent() -> None:
    check_batch_items_independent(SPEC, _random_params(5, torch.Generator().manual_seed(0)))


def test_tiles_and_control_fails() -> None:
    gen = torch.Generator().manual_seed(3)
    params = _random_params(4, gen, box=True)
    params["arcs_amount"] = torch.tensor([4.0, 6.0, 9.0, 5.0])  # coarse enough to resolve at 64 px
    params["pattern_amount"] = torch.tensor([4.0, 7.0, 10.0, 5.0])
    imgs = SPEC(params, 64, seed=6)[:, 0]
    assert seam_ok(imgs)
    assert not seam_ok(imgs[:, 5:50, 5:50])  # a crop does not tile


def test_output_in_unit_range_for_random_params() -> None:
    gen = torch.Generator().manual_seed(1)
    out = SPEC(_random_params(24, gen), 48, seed=5)
    assert out.shape == (24, 1, 48, 48) and torch.isfinite(out).all()
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0


def test_discrete_params_are_rounded() -> None:
    a = SPEC(_p(arcs_amount=6.4, pattern_amount=9.6), 32)
    assert torch.equal(a, SPEC(_p(arcs_amount=6.0, pattern_amount=10.0), 32))


def test_smoke_res64_and_spec_box() -> None:
    gen = torch.Generator().manual_seed(2)
    out = SPEC(_random_params(4, gen, box=True), 64)
    assert out.shape == (4, 1, 64, 64) and out.std().item() > 0
    assert SPEC.sample_box["pattern_amount"] == (4, 32) and SPEC.sample_box["arcs_amount"] == (4, 20)
    for name, (lo, hi) in SPEC.sample_box.items():
        p = SPEC.param(name)
        assert p.low <= lo < hi <= p.high
