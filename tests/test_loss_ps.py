"""The Portilla-Simoncelli loss term (plenoptic): gradients, invariances, errors, and grain against specks."""

import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from proxymat.features import TextureFeatures
from proxymat.optimize.loss import LOSS_PRESETS, MaterialLoss, describe
from proxymat.optimize.loss_ps import PlenopticMissing, ps_distance, ps_reference
from proxymat.optimize.loss_terms import band_l1, band_reference

RES = 64
SCALES = 3  # the most a 64 px image holds (its coarsest low-pass image is 8 px)
_BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), _BLUR.view(1, 1, 3, 3))


def _grain(seed: int) -> torch.Tensor:
    """Dense fine grain: blurred Gaussian white noise."""
    return _blur(torch.randn(1, 1, RES, RES, generator=torch.Generator().manual_seed(seed)))


def _specks(seed: int, density: float = 0.03) -> torch.Tensor:
    """Sparse specks blurred by the same kernel: the same expected power spectrum as :func:`_grain`."""
    g = torch.Generator().manual_seed(seed)
    return _blur((torch.rand(1, 1, RES, RES, generator=g) < density).float())


def _gray(x: torch.Tensor, mean: float = 0.5, std: float = 0.05) -> torch.Tensor:
    return ((x - x.mean()) / x.std() * std + mean).expand(-1, 3, -1, -1)


def test_identical_images_score_zero_and_another_sample_of_the_texture_little():
    target = _gray(_grain(1))
    ref = ps_reference(target, RES, SCALES)
    same, other = ps_distance(torch.cat([target, _gray(_grain(2))]), ref).tolist()
    assert same == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < other < 0.15


def test_shifts_by_multiples_of_the_pyramids_stride_score_the_same():
    target, candidate = _gray(_grain(1)), _gray(_specks(2))
    ref = ps_reference(target, RES, SCALES)
    base = float(ps_distance(candidate, ref))
    for shift in ((8, 0), (16, 40)):  # 2 ** SCALES px: every level of the pyramid shifts by whole pixels
        # to 1e-3: the fixed faint dither (loss_ps.DITHER) does not move with the image
        assert float(ps_distance(torch.roll(candidate, shift, (2, 3)), ref)) == pytest.approx(base, rel=1e-3)


def test_gradient_matches_finite_differences():
    ref = ps_reference(_gray(_grain(1)), RES, SCALES)
    ref.model.double()
    x = (_gray(_specks(2)) + 0.05 * _gray(_grain(3))).double().clone().requires_grad_()
    ps_distance(x, ref).sum().backward()
    g = torch.Generator().manual_seed(0)
    eps = 1e-4  # smaller steps meet round-off inside the FFT pyramid (about 5e-5 at 1e-5)
    for _ in range(3):
        d = torch.randn(x.shape, generator=g, dtype=x.dtype)
        with torch.no_grad():
            fd = (ps_distance(x + eps * d, ref) - ps_distance(x - eps * d, ref)).sum() / (2 * eps)
        assert float((x.grad * d).sum()) == pytest.approx(float(fd), rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_tells_dense_grain_from_sparse_specks_of_the_same_spectrum_where_band_energy_cannot(seed):
    """The plaster photo's failure under the band term: specks carry the band energy of dense grain."""
    target = _gray(_grain(1))
    grain, specks = _gray(_grain(seed)), _gray(_specks(seed))
    ps_grain, ps_specks = ps_distance(torch.cat([grain, specks]), ps_reference(target, RES, SCALES)).tolist()
    bands_grain, bands_specks = band_l1(torch.cat([grain, specks]), band_reference(target, RES, 6, 8, False)).tolist()
    assert ps_specks > 2.5 * ps_grain
    assert 0.7 < bands_specks / bands_grain < 1.3  # same spectrum: the band energy sees no difference


def test_the_preset_adds_the_term_to_the_default_and_describes_it():
    cfg = LOSS_PRESETS["ps"]
    assert cfg.ps_weight > 0 and cfg.patch_weight == LOSS_PRESETS["default"].patch_weight
    target = _gray(_grain(1)).repeat(1, 1, 2, 2)  # 128 px: the preset's 4 scales
    loss = MaterialLoss(target, replace(cfg, features="random"))
    terms = loss.terms(torch.cat([target, _gray(_specks(2)).repeat(1, 1, 2, 2)]))
    assert terms["ps"][0] == pytest.approx(0.0, abs=1e-6) and float(terms["ps"][1]) > 0.1
    assert "Portilla-Simoncelli statistics" in describe(cfg, TextureFeatures("random"))


def test_too_small_an_image_is_a_one_line_error():
    with pytest.raises(ValueError, match="need images of at least 64 px, not 32"):
        ps_reference(torch.rand(1, 3, 32, 32), 32, SCALES)


def test_missing_plenoptic_is_a_one_line_error_naming_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "plenoptic.models", None)  # import fails as if not installed
    with pytest.raises(PlenopticMissing, match=r"needs the plenoptic package: pip install 'proxymat\[ps\]'"):
        ps_reference(torch.rand(1, 3, RES, RES), RES, SCALES)


def test_bands_without_energy_give_finite_scores_and_gradients():
    """A flat image or an axis-aligned grid leaves bands empty; plenoptic's correlations would be 0 / 0."""
    flat = torch.full((1, 3, RES, RES), 0.5)
    stripes = (torch.arange(RES) % 8 < 4).float().view(1, 1, 1, RES).expand(1, 3, RES, RES) * 0.5 + 0.25
    for target in (flat, stripes):
        ref = ps_reference(target, RES, SCALES)
        x = torch.cat([flat, stripes, _gray(_grain(2))]).clone().requires_grad_()
        value = ps_distance(x, ref)
        value.sum().backward()
        assert bool(torch.isfinite(value).all()) and bool(torch.isfinite(x.grad).all())
        assert float(value.detach().min()) < 1e-6  # the target itself


def test_optimize_with_the_ps_loss_and_no_plenoptic_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    from proxymat.cli import main

    monkeypatch.setitem(sys.modules, "plenoptic.models", None)
    assert main(["optimize", "leather", "--loss", "ps", "--res", "64", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'proxymat[ps]'" in err and len(err.splitlines()) == 1 and "Traceback" not in err
