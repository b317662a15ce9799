"""The material loss's terms: gradients, invariances, and the cases a person judges at a glance."""

import math
from dataclasses import replace

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.nodes.generators.cells import DISTANCES, STYLES
from proxymat.optimize.loss import LOSS_PRESETS, LossConfig, MaterialLoss
from proxymat.optimize.loss_terms import (band_energy, band_masks, band_weights, color_reference, orientation_shape, color_sw, directions, flash_profile, log_spectrum,
                                          polar_bins, polar_log_spectrum, profile_l1, ring_masks, sliced_distance,
                                          sorted_projections, spectrum_l1)
from proxymat.render import render

RES = 64
TERMS = {
    "gram": LossConfig(features="random", l1_weight=0.0),
    "color": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, color_weight=1.0),
    "spectrum": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, spectrum_weight=1.0, spectrum_res=RES),
    "spectrum_smooth": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, spectrum_weight=1.0,
                                  spectrum_res=RES, spectrum_smooth=4),
    "spectrum_polar": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, spectrum_weight=1.0,
                                 spectrum_res=RES, spectrum_sectors=4),
    "feature_sw": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, feature_sw_weight=1.0),
    "patch": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, patch_weight=1.0),
    "bands": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, band_weight=1.0, spectrum_res=RES),
    "orient": LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, band_weight=1.0, spectrum_res=RES,
                         band_shape=True),
}
SAMPLED = {"patch"}  # terms that compare patches at fixed random positions: a shift changes the sample
PROFILE = LossConfig(features="random", gram_weight=0.0, l1_weight=0.0, profile_weight=1.0)


def _tint(gray: torch.Tensor, rgb=(0.8, 0.55, 0.35)) -> torch.Tensor:
    return (gray.expand(-1, 3, -1, -1) * torch.tensor(rgb).view(1, 3, 1, 1)).clamp(0, 1)


def _cells(disorder: float, seed: int, scale: int = 6, res: int = RES, style: str = "f2_minus_f1") -> torch.Tensor:
    gen = get_generator("cells")
    return gen({"scale": torch.tensor([float(scale)]), "disorder": torch.tensor([disorder]),
                "style": torch.tensor([float(STYLES.index(style))]),
                "distance": torch.tensor([float(DISTANCES.index("euclidean"))])}, res, seed)


def _bricks(columns: int, seed: int = 0, res: int = 128) -> torch.Tensor:
    return get_generator("brick_generator")({"bricks_x": torch.tensor([float(columns)]),
                                             "bricks_y": torch.tensor([4.0])}, res, seed)


@pytest.mark.parametrize("name", sorted(TERMS))
def test_identical_images_score_zero(name):
    target = _tint(_cells(0.9, 1))
    assert float(MaterialLoss(target, TERMS[name])(target)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(set(TERMS) - SAMPLED))
def test_circular_shifts_score_the_same(name):
    target = _tint(_cells(0.9, 1))
    candidate = _tint(_cells(0.6, 2))
    loss = MaterialLoss(target, TERMS[name])
    shift = (32, 32)  # at every scale of the loss a multiple of the texture network's stride (16 px)
    assert float(loss(torch.roll(candidate, shift, (2, 3)))) == pytest.approx(float(loss(candidate)), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("shift", [(3, 7), (21, 50)])
def test_colour_and_spectrum_ignore_any_shift(shift):
    target, candidate = _tint(_cells(0.9, 1)), _tint(_cells(0.6, 2))
    for name in ("color", "spectrum", "bands", "orient"):
        loss = MaterialLoss(target, TERMS[name])
        assert float(loss(torch.roll(candidate, shift, (2, 3)))) == pytest.approx(float(loss(candidate)), rel=1e-4)


def test_patch_term_scores_a_shifted_copy_near_its_sampling_floor_far_below_another_texture():
    target = _tint(_cells(0.9, 1))
    loss = MaterialLoss(target, TERMS["patch"])
    shifted = float(loss(torch.roll(target, (13, 29), (2, 3))))
    other_layout = float(loss(_tint(_cells(0.9, 2))))
    regular = float(loss(_tint(_cells(0.0, 2))))
    assert 0 < shifted < 0.5 * regular
    assert other_layout < 0.7 * regular  # same statistics at another layout: closer than a regular grid


def test_patch_term_sees_structure_that_the_colour_distribution_cannot():
    target = _tint(_cells(0.9, 1))
    g = torch.Generator().manual_seed(0)
    flat = target.flatten(2)
    shuffled = flat[:, :, torch.randperm(flat.shape[-1], generator=g)].reshape(target.shape)  # same palette
    colour = MaterialLoss(target, TERMS["color"])
    patch = MaterialLoss(target, TERMS["patch"])
    other = _tint(_cells(0.9, 2))
    assert float(colour(shuffled)) < 1e-6 < float(colour(other))  # the palette is exactly the target's
    assert float(patch(shuffled)) > 3 * float(patch(other))  # but its patches are noise


def _fd_check(fn, x: torch.Tensor, n: int = 4, eps: float = 1e-7) -> None:
    """Directional derivative of ``fn`` at ``x`` along random directions vs central finite differences.

    The step is tiny (float64) because sorts and ReLUs make the terms piecewise smooth: a larger step
    crosses kinks, where central differences stop measuring the derivative."""
    x = x.clone().requires_grad_()
    fn(x).backward()
    g = torch.Generator().manual_seed(0)
    for _ in range(n):
        d = torch.randn(x.shape, generator=g, dtype=x.dtype)
        with torch.no_grad():
            fd = (fn(x + eps * d) - fn(x - eps * d)) / (2 * eps)
        assert float((x.grad * d).sum()) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("name", sorted(TERMS))
def test_gradient_matches_finite_differences(name):
    target = _tint(_cells(0.9, 1, res=32), (0.7, 0.5, 0.4)).double()
    cand = (0.1 + 0.8 * _tint(_cells(0.5, 2, res=32), (0.5, 0.6, 0.7))).double()
    cfg = replace(TERMS[name], scales=(1.0,), spectrum_res=32)
    loss = MaterialLoss(target, cfg)
    loss.features.double()
    _fd_check(loss, cand)


def test_sliced_distance_is_exact_in_one_dimension():
    # With one direction, SW-1 is the mean |sorted a - sorted b|: here the two samples differ by a shift of 0.3.
    a = torch.rand(1, 100, 1)
    ref = sorted_projections(a[0] + 0.3, torch.ones(1, 1))
    assert float(sliced_distance(a, ref, torch.ones(1, 1))) == pytest.approx(0.3, abs=1e-5)


def test_colour_reference_resamples_to_the_render_size():
    big, small = _tint(_cells(0.9, 1, res=64)), _tint(_cells(0.9, 1, res=32))
    ref = color_reference(big, directions(3, 16, seed=0))
    assert float(color_sw(small, ref)) < 0.01


def test_spectrum_sees_counts_exactly_where_mean_colour_cannot():
    two, eight = _bricks(2), _bricks(8)
    spec = log_spectrum(two)
    assert float(spectrum_l1(two, spec)) == 0.0 and float(spectrum_l1(eight, spec)) > 0.1


def test_smoothed_spectrum_keeps_the_envelope_and_drops_the_periodogram_scatter():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 128, 128, generator=gen), torch.rand(1, 3, 128, 128, generator=gen)
    raw = float(spectrum_l1(b, log_spectrum(a)))
    smooth = float(spectrum_l1(b, log_spectrum(a, 128, 4), 128, 4))
    assert raw == pytest.approx(2 * math.log(2), rel=0.1)  # |difference of two log-exponentials|: logistic, mean 2 ln 2
    assert smooth < 0.35 * raw
    assert log_spectrum(a, 128, 4).shape == (1, 32, 32)
    two, eight = _bricks(2), _bricks(8)
    assert float(spectrum_l1(eight, log_spectrum(two, 64, 4), 64, 4)) > 3 * smooth  # counts still seen
    with pytest.raises(ValueError, match="smooth 3 must divide res 64"):
        log_spectrum(two, 64, 3)


def test_polar_bins_put_each_frequency_in_one_ring_and_centre_the_axes():
    bins = polar_bins(32, 4)
    ky = torch.fft.fftfreq(32, d=1 / 32).view(-1, 1)
    kx = torch.fft.rfftfreq(32, d=1 / 32).view(1, -1)
    r = (ky.square() + kx.square()).sqrt().round().expand(32, 17).flatten()
    valid = (r >= 1) & (r <= 16)
    assert int(bins.counts.sum()) == int(valid.sum()) and bool((bins.cell[~valid] == bins.n_cells).all())
    assert bool(((bins.cell[valid] // 4) == r[valid].long() - 1).all())  # ring = rounded radius
    cell = bins.cell.view(32, 17)
    horizontal, vertical, diagonal, anti = cell[0, 5], cell[5, 0], cell[4, 4], cell[-4, 4]
    assert len({int(horizontal % 4), int(vertical % 4), int(diagonal % 4), int(anti % 4)}) == 4
    assert int(cell[1, 5] % 4) == int(horizontal % 4) and int(cell[-1, 5] % 4) == int(horizontal % 4)  # axis-centred
    with pytest.raises(ValueError, match="sectors must be >= 1"):
        polar_bins(32, 0)


def test_polar_spectrum_puts_a_wave_in_its_ring_and_sector():
    x = torch.arange(64, dtype=torch.float32) / 64
    wave = (0.5 + 0.4 * torch.cos(2 * math.pi * 5 * x)).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    bins = polar_bins(64, 4)
    spec = polar_log_spectrum(wave, bins)[0]
    peak = int(bins.keep[spec.argmax()])
    assert peak // 4 == 4 and peak % 4 == int(polar_bins(64, 4).cell.view(64, 33)[0, 5] % 4)


def test_polar_spectrum_finds_the_cell_size_of_jittered_cells():
    """Against scale-14 cells at other layouts, scale 14 scores below 13 and 15: the ring keeps a one-cell
    difference in count apart while the sector average tames the periodogram's scatter."""
    bins = polar_bins(128, 4)
    refs = [polar_log_spectrum(_cells(0.95, s, scale=14, res=256), bins) for s in (100, 101, 102)]
    score = {n: sum(float((polar_log_spectrum(_cells(0.95, 7, scale=n, res=256), bins) - ref).abs().mean())
                    for ref in refs) for n in (13, 14, 15)}
    assert score[14] < score[13] and score[14] < score[15]


def test_spectrum_averaging_modes_are_exclusive():
    target = _tint(_cells(0.9, 1))
    with pytest.raises(ValueError, match="choose one"):
        MaterialLoss(target, replace(TERMS["spectrum_polar"], spectrum_smooth=4))


def test_band_masks_put_each_frequency_in_one_cell_and_centre_the_axes():
    res, bands, sectors = 32, 4, 4
    raw = (band_masks(res, bands, sectors) > 0).float()
    fy = torch.fft.fftfreq(res).view(-1, 1)
    fx = torch.fft.rfftfreq(res).view(1, -1)
    radius = (fy.square() + fx.square()).sqrt()
    inside = radius >= 1.5 / res  # the DC term and the lowest ring below 1.5 cycles per image are left out
    assert torch.equal(raw.sum(0), inside.float())  # every other frequency in exactly one cell
    masks = band_masks(res, bands, sectors)
    assert torch.allclose(masks.sum(dim=(1, 2)), torch.ones(bands * sectors))  # each row averages its cell
    cell = raw.argmax(0)
    horizontal, vertical, diagonal, anti = cell[0, 9], cell[9, 0], cell[7, 7], cell[-7, 7]
    assert len({int(c % sectors) for c in (horizontal, vertical, diagonal, anti)}) == 4
    assert int(cell[1, 9]) == int(horizontal) and int(cell[-1, 9]) == int(horizontal)  # axis-centred sectors
    assert int(cell[0, 2]) // sectors < int(cell[0, 15]) // sectors  # bands grow outwards
    with pytest.raises(ValueError, match="bands and sectors must be >= 1"):
        band_masks(res, 0, 4)


def test_band_energy_puts_a_wave_in_its_band_and_orientation():
    x = torch.arange(64, dtype=torch.float32) / 64
    wave = (0.5 + 0.4 * torch.cos(2 * math.pi * 5 * x)).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    masks = band_masks(64, 6, 8)
    peak = int(band_energy(wave, masks)[0].argmax())
    assert peak == int((masks > 0).float().argmax(0)[0, 5])  # the cell that holds frequency (0, 5)
    turned = band_energy(wave.transpose(2, 3), masks)[0]
    assert int(turned.argmax()) // 8 == peak // 8 and int(turned.argmax()) != peak  # same band, other sector


def test_band_weights_give_every_band_the_same_say_over_two_samples_of_white_noise():
    """Two white-noise images differ in each cell's log power by about 1 / sqrt(frequencies): unweighted, the
    lowest bands' few frequencies dominate; weighted by :func:`band_weights` every band contributes alike."""
    masks = band_masks(128, 6, 8)
    w = band_weights(masks)
    n = (masks > 0).flatten(1).sum(1).float()
    assert float(w.mean()) == pytest.approx(1.0) and torch.allclose(w / w[-1], (n / n[-1]).sqrt())
    gen = torch.Generator().manual_seed(3)
    diffs = []
    for _ in range(8):
        a, b = torch.rand(2, 3, 128, 128, generator=gen).split(1)
        diffs.append((band_energy(a, masks) - band_energy(b, masks)).abs()[0])
    per_band = torch.stack(diffs).mean(0).view(6, 8).mean(1)
    weighted = (torch.stack(diffs).mean(0) * w).view(6, 8).mean(1)
    assert float(per_band.max() / per_band.min()) > 8
    assert float(weighted.max() / weighted.min()) < 2.5


def _scratches(rotation_random: float, seed: int, res: int = 128) -> torch.Tensor:
    gen = get_generator("scratches")
    return gen({"spline_number": torch.tensor([60.0]), "spline_rotation_random": torch.tensor([rotation_random]),
                "spline_scale": torch.tensor([0.4])}, res, seed)


def test_band_energy_tells_parallel_scratches_from_a_tangle_better_than_the_spectrum():
    """Parallel strokes at another layout score far below a tangle of the same strokes (3.5x); the unsmoothed
    log spectrum, at its periodogram scatter, separates them far less (1.8x)."""
    target = _tint(_scratches(0.02, seed=1))
    parallel, tangle = _tint(_scratches(0.02, seed=2)), _tint(_scratches(0.5, seed=2))
    bands = MaterialLoss(target, replace(TERMS["bands"], spectrum_res=128))
    spectrum = MaterialLoss(target, replace(TERMS["spectrum"], spectrum_res=128))
    band_gap = float(bands(tangle)) / float(bands(parallel))
    spectrum_gap = float(spectrum(tangle)) / float(spectrum(parallel))
    assert band_gap > 2.5 and band_gap - 1.0 > 2 * (spectrum_gap - 1.0)
    orient = MaterialLoss(target, replace(TERMS["orient"], spectrum_res=128))
    assert float(orient(tangle)) > 2.5 * float(orient(parallel))


def test_orientation_shape_ignores_each_bands_level_and_isotropic_grain():
    """Dense noise and sparse specks differ in energy by band, but both spread it evenly over the orientations:
    their shapes differ only by the periodogram's scatter, far less than parallel strokes' shape does."""
    masks = band_masks(128, 6, 8)
    w = band_weights(masks)
    gen = torch.Generator().manual_seed(4)
    noise = torch.rand(1, 1, 128, 128, generator=gen).expand(1, 3, 128, 128)
    specks = (torch.rand(1, 1, 128, 128, generator=gen) > 0.97).float().expand(1, 3, 128, 128)
    strokes = _tint(_scratches(0.02, seed=1))
    e = {name: band_energy(img, masks) for name, img in (("noise", noise), ("specks", specks), ("strokes", strokes))}

    def gap(a, b, shape):
        x, y = (orientation_shape(e[a], 8), orientation_shape(e[b], 8)) if shape else (e[a], e[b])
        return float(((x - y).abs() * w).mean())

    assert gap("noise", "specks", shape=False) > 1.0  # their energies differ
    assert gap("noise", "specks", shape=True) < 0.2 * gap("noise", "specks", shape=False)
    assert gap("strokes", "noise", shape=True) > 5 * gap("noise", "specks", shape=True)
    assert torch.allclose(orientation_shape(e["noise"] + 3.0, 8), orientation_shape(e["noise"], 8), atol=1e-5)


def _hue_split(gray: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The same luminance as ``_tint(gray)``, but cells alternately green and pink (complementary hues)."""
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    lum = (_tint(gray) * w).sum(1, keepdim=True)
    green, pink = torch.tensor([0.25, 0.75, 0.3]).view(1, 3, 1, 1), torch.tensor([0.85, 0.35, 0.7]).view(1, 3, 1, 1)
    mask = (ids > 0.5).float()
    return (mask * green * lum / (green * w).sum() + (1 - mask) * pink * lum / (pink * w).sum()).clamp(0, 1)


@pytest.mark.parametrize("preset", ["default", "patch", "bands", "orient", "ps"])
def test_default_loss_prefers_the_right_hue_at_equal_luminance(preset):
    target = _tint(_cells(0.9, 1, res=128))
    gray = _cells(0.9, 2, res=128)
    right, split = _tint(gray), _hue_split(gray, _cells(0.9, 2, res=128, style="cell_random"))
    loss = MaterialLoss(target, replace(LOSS_PRESETS[preset], features="random"))
    assert float(loss(right)) < float(loss(split))


@pytest.mark.parametrize("preset", ["default", "polar_spectrum", "patch", "bands", "orient", "ps"])
def test_default_loss_prefers_jittered_cells_to_a_regular_grid(preset):
    target = _tint(_cells(0.9, 1, res=128, scale=8))
    jittered, regular = _tint(_cells(0.9, 2, res=128, scale=8)), _tint(_cells(0.0, 2, res=128, scale=8))
    loss = MaterialLoss(target, replace(LOSS_PRESETS[preset], features="random"))
    assert float(loss(jittered)) < float(loss(regular))


@pytest.mark.parametrize("preset", ["default", "smooth_spectrum", "polar_spectrum", "patch", "bands", "orient", "ps"])
def test_default_loss_counts_plank_columns(preset):
    target = _bricks(2, seed=1)
    rgb = {n: _tint(_bricks(n, seed=2)) for n in (2, 4, 8)}
    loss = MaterialLoss(_tint(target), replace(LOSS_PRESETS[preset], features="random"))
    values = {n: float(loss(img)) for n, img in rgb.items()}
    assert values[2] < values[4] and values[2] < values[8]


# ------------------------------------------------------------------ flash profile (position-aware on purpose)
def _flat_material(roughness: float, res: int = 64, bumps: float = 0.0) -> torch.Tensor:
    """A flash render of a flat grey dielectric (``bumps``: a noisy normal map of that strength)."""
    g = torch.Generator().manual_seed(5)
    n = torch.zeros(1, 3, res, res)
    n[:, :2] = bumps * torch.randn(1, 2, res, res, generator=g)
    n[:, 2] = 1.0
    maps = {"basecolor": torch.full((1, 3, res, res), 0.3), "normal": n / n.norm(dim=1, keepdim=True) * 0.5 + 0.5,
            "roughness": torch.full((1, 1, res, res), roughness), "metallic": torch.zeros(1, 1, res, res)}
    return render(maps)


def test_ring_masks_average_each_ring_once_inside_the_inscribed_circle():
    m = ring_masks(32, 8)
    assert m.shape == (8, 32 * 32)
    assert torch.allclose(m.sum(1), torch.ones(8))
    covered = (m > 0).sum(0)
    assert int(covered.max()) == 1  # no pixel in two rings
    c = (torch.arange(32) + 0.5) / 32 - 0.5
    r = (c.view(-1, 1) ** 2 + c.view(1, -1) ** 2).sqrt().flatten()
    assert bool((covered[r < 0.5] == 1).all()) and bool((covered[r >= 0.5] == 0).all())  # corners left out


def test_flash_profile_of_a_radial_image_is_its_log_falloff():
    c = (torch.arange(64) + 0.5) / 64 - 0.5
    r = (c.view(-1, 1) ** 2 + c.view(1, -1) ** 2).sqrt()
    img = torch.exp(-4.0 * r).expand(1, 3, 64, 64)  # luminance weights sum to 1: luma == the image
    prof = flash_profile(img, rings=8)[0]
    assert bool((prof[1:] < prof[:-1]).all())  # falls off outwards
    a, b = torch.arange(8) / 16, (torch.arange(8) + 1) / 16  # ring radii; a ring's mean radius weighs by area
    mean_r = 2 / 3 * (b ** 3 - a ** 3) / (b ** 2 - a ** 2)
    assert torch.allclose(prof, torch.log(torch.exp(-4.0 * mean_r) + 1e-3), atol=0.01)


def test_profile_scores_identical_images_zero_and_its_gradient_matches_finite_differences():
    target = _flat_material(0.4, bumps=0.2)
    assert float(MaterialLoss(target, PROFILE)(target)) == pytest.approx(0.0, abs=1e-6)
    cand = _flat_material(0.6, res=32).double()
    loss = MaterialLoss(_flat_material(0.4, res=32).double(), replace(PROFILE, scales=(1.0,)))
    _fd_check(lambda x: profile_l1(x, loss._profile), cand)


def test_profile_finds_the_roughness_of_a_flash_highlight():
    target = _flat_material(0.35, bumps=0.15)
    sweep = [0.15, 0.25, 0.35, 0.5, 0.7]
    profile = MaterialLoss(target, PROFILE)
    scores = [float(profile(_flat_material(r, bumps=0.15))) for r in sweep]
    assert scores.index(min(scores)) == sweep.index(0.35) and min(scores) < 1e-6
    assert all(a > b for a, b in zip(scores[:2], scores[1:3])) and all(a < b for a, b in zip(scores[2:], scores[3:]))
