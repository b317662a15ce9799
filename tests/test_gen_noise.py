"""Perlin noise and clouds: lattice zeros, reference formula, octave sums, tiling, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.nodes.generators.noise import gradient_angles, perlin_raw
from generator_checks import seam_ok

PERLIN = get_generator("perlin_noise")
CLOUDS = get_generator("clouds")


def _p(batch: int = 1, **values: float) -> dict[str, torch.Tensor]:
    return {k: torch.full((batch,), float(v)) for k, v in values.items()}


def _random_params(spec, batch: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {p.name: p.low + (p.high - p.low) * torch.rand(batch, generator=gen) for p in spec.params}


def _reference_perlin(n: int, disorder: float, seed: int, u: float, v: float) -> float:
    """Perlin noise at UV (u, v) in float64, straight from the definition."""
    theta = gradient_angles(n, torch.tensor([disorder]), seed)[0].double()
    gx, gy = n * u, n * v
    x0, y0 = math.floor(gx), math.floor(gy)
    fx, fy = gx - x0, gy - y0

    def ramp(dx: int, dy: int) -> float:
        t = theta[(y0 + dy) % n, (x0 + dx) % n].item()
        return math.cos(t) * (fx - dx) + math.sin(t) * (fy - dy)

    def fade(t: float) -> float:
        return t * t * t * (t * (6 * t - 15) + 10)

    sx, sy = fade(fx), fade(fy)
    top = ramp(0, 0) + sx * (ramp(1, 0) - ramp(0, 0))
    bottom = ramp(0, 1) + sx * (ramp(1, 1) - ramp(0, 1))
    raw = top + sy * (bottom - top)
    return 0.5 + raw / math.sqrt(2.0)


@pytest.mark.parametrize("n, disorder", [(3, 0.0), (5, 0.7)])
def test_perlin_matches_reference(n: int, disorder: float) -> None:
    res, seed = 20, 9
    out = PERLIN(_p(scale=n, disorder=disorder), res, seed=seed)[0, 0]
    for y, x in [(0, 0), (3, 17), (10, 4), (19, 19), (7, 12)]:
        want = _reference_perlin(n, disorder, seed, (x + 0.5) / res, (y + 0.5) / res)
        assert out[y, x].item() == pytest.approx(want, abs=1e-5)


def test_perlin_is_half_at_lattice_points() -> None:
    # scale = 2 * res puts every pixel centre on a lattice point.
    out = PERLIN(_p(scale=32, disorder=0.4), 16)
    torch.testing.assert_close(out, torch.full_like(out, 0.5), atol=1e-6, rtol=0)
    # Elsewhere the noise is not flat.
    assert PERLIN(_p(scale=6), 32).std().item() > 0.05


def test_perlin_gradient_angles_turn_with_disorder() -> None:
    a0 = gradient_angles(4, torch.tensor([0.0]), 1)
    a1 = gradient_angles(4, torch.tensor([1.0]), 1)
    turn = a1 - a0
    assert turn.abs().max().item() <= math.pi + 1e-5 and turn.abs().mean().item() > 0.5
    torch.testing.assert_close(gradient_angles(4, torch.tensor([0.5]), 1), a0 + 0.5 * turn)


def test_perlin_changes_smoothly_with_disorder() -> None:
    base = PERLIN(_p(scale=4, disorder=0.3), 32)
    near = PERLIN(_p(scale=4, disorder=0.31), 32)
    far = PERLIN(_p(scale=4, disorder=0.9), 32)
    small, big = (near - base).abs().max().item(), (far - base).abs().mean().item()
    assert small < 0.03 and big > 0.05


def test_perlin_raw_bound() -> None:
    raw = perlin_raw(torch.tensor([2.0, 7.0]), torch.tensor([0.0, 1.0]), 64, 0)
    assert raw.abs().max().item() <= math.sqrt(0.5) + 1e-6


def test_clouds_one_octave_or_zero_roughness_is_perlin() -> None:
    perlin = PERLIN(_p(scale=5, disorder=0.2), 32, seed=3)
    one = CLOUDS(_p(scale=5, octaves=1, roughness=0.8, disorder=0.2), 32, seed=3)
    flat = CLOUDS(_p(scale=5, octaves=6, roughness=0.0, disorder=0.2), 32, seed=3)
    torch.testing.assert_close(one, perlin, atol=1e-6, rtol=0)
    torch.testing.assert_close(flat, perlin, atol=1e-6, rtol=0)


def test_clouds_sum_of_two_octaves() -> None:
    r, res = 0.6, 32
    got = CLOUDS(_p(scale=4, octaves=2, roughness=r, disorder=0.0), res, seed=2)[0, 0]
    raw0 = perlin_raw(torch.tensor([4.0]), torch.tensor([0.0]), res, 2, octave=0)[0]
    raw1 = perlin_raw(torch.tensor([8.0]), torch.tensor([0.0]), res, 2, octave=1)[0]
    want = 0.5 + (raw0 + r * raw1) / math.sqrt(1 + r * r) / math.sqrt(2.0)
    torch.testing.assert_close(got, want.clamp(0, 1), atol=1e-5, rtol=0)


def test_clouds_skips_octaves_finer_than_pixels() -> None:
    # res 16, scale 16: octave 1 (32 cells) and finer are skipped but keep their weight.
    r = 0.5
    got = CLOUDS(_p(scale=16, octaves=3, roughness=r), 16, seed=1)
    perlin = PERLIN(_p(scale=16), 16, seed=1)
    want = 0.5 + (perlin - 0.5) / math.sqrt(1 + r**2 + r**4)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("spec", [PERLIN, CLOUDS], ids=lambda s: s.name)
def test_deterministic_and_seeded(spec) -> None:
    a, b, c = spec({}, 32, seed=1), spec({}, 32, seed=1), spec({}, 32, seed=2)
    assert torch.equal(a, b)
    assert (a - c).abs().mean().item() > 0.02


@pytest.mark.parametrize("spec", [PERLIN, CLOUDS], ids=lambda s: s.name)
def test_batch_items_are_independent(spec) -> None:
    gen = torch.Generator().manual_seed(0)
    params = _random_params(spec, 5, gen)
    batch = spec(params, 32, seed=4)
    for k in range(5):
        alone = spec({n: v[k:k + 1] for n, v in params.items()}, 32, seed=4)
        torch.testing.assert_close(batch[k:k + 1], alone, atol=1e-6, rtol=0)


def test_tiles_and_control_fails() -> None:
    for spec, p in [(PERLIN, _p(scale=3, disorder=0.5)), (CLOUDS, _p(scale=2, octaves=5, roughness=0.6))]:
        img = spec(p, 64)[0, 0]
        assert seam_ok(img), spec.name
        assert not seam_ok(img[:45, :45]), spec.name  # a crop does not tile


@pytest.mark.parametrize("spec", [PERLIN, CLOUDS], ids=lambda s: s.name)
def test_output_in_unit_range_for_random_params(spec) -> None:
    gen = torch.Generator().manual_seed(1)
    out = spec(_random_params(spec, 16, gen), 48, seed=5)
    assert out.shape == (16, 1, 48, 48) and torch.isfinite(out).all()
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0


def test_discrete_params_are_rounded() -> None:
    assert torch.equal(PERLIN(_p(scale=3.4), 32), PERLIN(_p(scale=3.0), 32))
    a = CLOUDS(_p(scale=2.6, octaves=3.3), 32)
    assert torch.equal(a, CLOUDS(_p(scale=3.0, octaves=3.0), 32))


@pytest.mark.parametrize("spec", [PERLIN, CLOUDS], ids=lambda s: s.name)
def test_smoke_res64_and_spec_box(spec) -> None:
    gen = torch.Generator().manual_seed(2)
    out = spec(_random_params(spec, 4, gen), 64)
    assert out.shape == (4, 1, 64, 64) and out.std().item() > 0
    for name, (lo, hi) in spec.sample_box.items():
        p = spec.param(name)
        assert p.low <= lo < hi <= p.high
