"""The fixed oriented filter-bank texture backbone (``TextureFeatures("filters")``)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from proxymat import features as feats
from proxymat.features import ALL_LAYERS, STYLE_LAYERS, FilterBankFeatures, TextureFeatures, gram, style_loss

# 3 opponent colours x (1 low-pass + 4 even + 4 odd Gabors) = 27 responses, both signs -> 54;
# level-2 layers: 3 x 4 quadrature energies + 3 x 2 rectified low-pass = 18.
CHANNELS = {"_1": 54, "_2": 18}


@pytest.fixture(scope="module")
def bank() -> TextureFeatures:
    torch.set_num_threads(1)
    return TextureFeatures("filters")


def _reference() -> torch.Tensor:
    """The calibration image, as the network sees it (already normalized)."""
    ref = feats._pink_noise(torch.Generator().manual_seed(feats.RANDOM_SEED), 256)
    return (ref - ref.mean()) / ref.std()


def _noise_texture(seed: int, res: int = 64) -> torch.Tensor:
    """Tileable blurred colour noise: same statistics for every seed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, res, res, generator=g)
    x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="circular"), 3, 1)
    return 0.5 + 0.6 * (x - 0.5)


def _stripes(res: int = 64, period: int = 8) -> torch.Tensor:
    """Vertical stripes with roughly the noise texture's mean."""
    col = 0.5 + 0.15 * torch.sin(2 * math.pi * torch.arange(res) / period)
    return col.view(1, 1, 1, res).expand(1, 3, res, res).clone()


def test_backbone_name_stride_and_layer_shapes(bank):
    assert bank.backbone == "filters" and bank.stride == 16 and feats.STRIDE["filters"] == 16
    out = bank(torch.rand(2, 3, 64, 64))
    assert set(out) == set(ALL_LAYERS)
    for name in ALL_LAYERS:
        level, kind = int(name[4]), name[5:]
        side = 64 // 2 ** (level - 1)
        assert out[name].shape == (2, CHANNELS[kind], side, side), name
        assert (out[name] >= 0).all()
    assert bank.channels("relu5_1") == 54  # 16x16 probe: the deepest level is 1x1 and still wraps


def test_two_instances_are_identical(bank):
    other = TextureFeatures("filters")
    x = torch.rand(1, 1, 32, 32)
    a, b = bank(x), other(x)
    for name in ALL_LAYERS:
        assert torch.equal(a[name], b[name]), name


def test_gram_invariant_to_circular_shift_by_stride(bank):
    x = _noise_texture(3)
    a = bank(x)
    b = bank(torch.roll(x, (16, -32), dims=(2, 3)))
    c = bank(torch.roll(x, (1, 0), dims=(2, 3)))
    for name in ALL_LAYERS:
        ga, gb = gram(a[name]), gram(b[name])
        assert torch.allclose(ga, gb, rtol=1e-4, atol=1e-5), name
    # a one-pixel shift moves the pooling grid: deep Grams change (so the check above is not vacuous)
    assert not torch.allclose(gram(a["relu5_1"]), gram(c["relu5_1"]), rtol=1e-4, atol=1e-5)


def test_calibrated_to_unit_scale_on_reference(bank):
    net = bank.net
    assert isinstance(net, FilterBankFeatures)
    x = _reference()
    for level in range(5):
        if level > 0:
            x = F.avg_pool2d(x, 2)
        r = net.responses(x, level)
        rms = r.square().mean(dim=(0, 1, 3, 4)).sqrt()  # per kernel, pooled over colours
        assert torch.allclose(rms, torch.ones_like(rms), atol=1e-4), level
        band = r[:, :, 1:]  # Gabors are zero-sum: zero mean, so RMS == std
        assert band.mean().abs() < 0.02 and abs(band.std().item() - 1) < 0.02
    out = net(_reference(), ALL_LAYERS)
    for name in ALL_LAYERS:
        per_channel = out[name].square().mean(dim=(0, 2, 3)).sqrt()
        assert abs(out[name].square().mean().sqrt().item() - 1) < 1e-3, name
        assert per_channel.min() > 0.75 and per_channel.max() < 1.3, name


def test_gradcheck_gram_through_energy_and_deepest_layer():
    net = TextureFeatures("filters").double()
    for name, res in (("relu2_2", 8), ("relu5_1", 16)):
        x = torch.rand(1, 3, res, res, dtype=torch.float64, generator=torch.Generator().manual_seed(res))
        x.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda img: gram(net(img, [name])[name]).sum(), (x,), eps=1e-6, atol=1e-5)


def test_gradient_reaches_input_and_no_trainable_params(bank):
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    gram(bank(x, ["relu4_1"])["relu4_1"]).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in bank.parameters())


def test_same_texture_closer_than_stripes(bank):
    a, b, s = _noise_texture(1), _noise_texture(2), _stripes()
    fa, fb, fs = bank(a), bank(b), bank(s)
    same, diff = style_loss(fa, fb, STYLE_LAYERS).item(), style_loss(fa, fs, STYLE_LAYERS).item()
    assert same > 0 and diff > 5 * same


def test_stripe_orientation_is_seen(bank):
    """Transposing stripes swaps the 0 and 90 degree channels: their Grams must differ."""
    s = _stripes()
    fv, fh = bank(s, ["relu1_1"]), bank(s.transpose(2, 3), ["relu1_1"])
    gv, gh = gram(fv["relu1_1"]), gram(fh["relu1_1"])
    assert (gv - gh).abs().mean() > 0.1 * gv.abs().mean()
