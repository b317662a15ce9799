"""Brick generator: gaps, plateaus, bevel profile, row offsets, tiling, determinism."""

from __future__ import annotations

import torch

from proxymat.nodes.generators import get_generator
from generator_checks import check_batch_items_independent, check_deterministic_and_seeded, seam_ok

SPEC = get_generator("brick_generator")
FLAT = {"gap_x": 0.0, "gap_y": 0.0, "bevel": 0.0, "height_random": 0.0, "offset": 0.0, "offset_random": 0.0}


def _p(batch: int = 1, **values: float) -> dict[str, torch.Tensor]:
    return {k: torch.full((batch,), float(v)) for k, v in values.items()}


def _random_params(batch: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {p.name: p.low + (p.high - p.low) * torch.rand(batch, generator=gen) for p in SPEC.params}


def test_gaps_are_zero_and_centres_hold_the_brick_height() -> None:
    # 2x2 bricks of 16x16 px; gaps 0.25 -> 2 px on each side of every brick.
    p = _p(**{**FLAT, "bricks_x": 2, "bricks_y": 2, "gap_x": 0.25, "gap_y": 0.25, "bevel": 0.5, "height_random": 0.6})
    out = SPEC(p, 32, seed=3)[0, 0]
    gap = torch.zeros(32, dtype=torch.bool)
    gap[[0, 1, 14, 15, 16, 17, 30, 31]] = True
    assert out[gap, :].abs().max().item() == 0.0
    assert out[:, gap].abs().max().item() == 0.0
    heights = out.reshape(2, 16, 2, 16)[:, 6:10, :, 6:10]  # centre 4x4 of each brick
    plateau = heights.amax(dim=(1, 3))
    assert (heights.amin(dim=(1, 3)) == plateau).all()  # flat plateau at the centre
    assert plateau.min().item() >= 0.4 - 1e-6 and plateau.max().item() <= 1.0
    assert plateau.unique().numel() == 4  # every brick has its own height


def test_full_bevel_is_a_pyramid() -> None:
    res = 24
    c = (torch.arange(res, dtype=torch.float64) + 0.5) / res - 0.5
    cheb = torch.maximum(c[None, :].abs(), c[:, None].abs())
    linear = 1.0 - 2.0 * cheb  # distance to the edge over half the brick
    for smooth in (0.0, 1.0, 0.4):
        out = SPEC(_p(**{**FLAT, "bricks_x": 1, "bricks_y": 1, "bevel": 1.0, "bevel_smoothness": smooth}), res)
        want = linear + smooth * (linear * linear * (3 - 2 * linear) - linear)
        torch.testing.assert_close(out[0, 0].double(), want, atol=1e-5, rtol=0)


def test_bevel_width_is_relative_to_smaller_half_extent() -> None:
    # 1 x 2 bricks at 32 px: each brick 32 x 16 px, half extents 0.5 and 0.25 UV; bevel 0.5 -> ramp 0.125 UV = 4 px.
    out = SPEC(_p(**{**FLAT, "bricks_x": 1, "bricks_y": 2, "bevel": 0.5}), 32)[0, 0]
    row = out[8]  # middle of the first brick row
    want = ((torch.arange(32) + 0.5).minimum(32 - (torch.arange(32) + 0.5)) / 4.0).clamp(max=1.0)
    torch.testing.assert_close(row, want.float(), atol=1e-5, rtol=0)


def test_offset_half_shifts_alternate_rows_by_half_a_brick() -> None:
    res = 32  # 2 bricks per row: half a brick = 8 px
    out = SPEC(_p(**{**FLAT, "bricks_x": 2, "bricks_y": 2, "gap_x": 0.25, "offset": 0.5}), res)[0, 0]
    top, bottom = out[:16], out[16:]
    torch.testing.assert_close(bottom, torch.roll(top, shifts=8, dims=1), atol=1e-5, rtol=0)
    assert not torch.allclose(bottom, top, atol=1e-3)
    # offset 0: rows align.
    aligned = SPEC(_p(**{**FLAT, "bricks_x": 2, "bricks_y": 2, "gap_x": 0.25}), res)[0, 0]
    torch.testing.assert_close(aligned[16:], aligned[:16], atol=1e-6, rtol=0)


def test_offset_random_shifts_rows_by_a_row_constant() -> None:
    flat = {**FLAT, "bricks_x": 2, "bricks_y": 4, "gap_x": 0.25}
    out = SPEC(_p(**{**flat, "offset_random": 1.0}), 32)[0, 0]
    rows = out.reshape(4, 8, 32)[:, 1:7]  # pixel rows away from the 1-px anti-aliased row borders
    assert (rows - rows[:, :1]).abs().max().item() == 0.0  # a brick row is constant vertically
    lines = rows[:, 0]
    # Each row is still a train of bricks 16 px apart, shifted by its own amount.
    torch.testing.assert_close(lines, torch.roll(lines, 16, dims=1), atol=1e-5, rtol=0)
    starts = [int(torch.nonzero(line[:16] == 0)[0]) if (line[:16] == 0).any() else -1 for line in lines]
    assert len(set(starts)) > 1
    still = SPEC(_p(**flat), 32)[0, 0].reshape(4, 8, 32)
    assert (still - still[:1]).abs().max().item() == 0.0


def test_deterministic_and_seeded() -> None:
    check_deterministic_and_seeded(SPEC, _p(height_random=0.8, offset_random=0.5))


def test_batch_items_are_independent() -> None:
    check_batch_items_independent(SPEC, _random_params(5, torch.Generator().manual_seed(0)))


def test_tiles_and_control_fails() -> None:
    p = _p(bricks_x=3, bricks_y=6, bevel=0.8, bevel_smoothness=0.5, height_random=0.5, offset=0.3, offset_random=0.4)
    img = SPEC(p, 64)[0, 0]
    assert seam_ok(img)
    assert not seam_ok(img[:, :45])  # a crop does not tile


def test_output_in_unit_range_for_random_params() -> None:
    gen = torch.Generator().manual_seed(1)
    out = SPEC(_random_params(24, gen), 48, seed=5)
    assert out.shape == (24, 1, 48, 48) and torch.isfinite(out).all()
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0


def test_discrete_params_are_rounded() -> None:
    a = SPEC(_p(bricks_x=3.4, bricks_y=5.6), 32)
    assert torch.equal(a, SPEC(_p(bricks_x=3.0, bricks_y=6.0), 32))


def test_smoke_res64_and_spec_box() -> None:
    gen = torch.Generator().manual_seed(2)
    out = SPEC(_random_params(4, gen), 64)
    assert out.shape == (4, 1, 64, 64) and out.std().item() > 0
    for name, (lo, hi) in SPEC.sample_box.items():
        p = SPEC.param(name)
        assert p.low <= lo < hi <= p.high
