"""Proxy network, parameter <-> proxy input helpers, and fidelity metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from proxymat.features import TextureFeatures
from proxymat.nodes.generators.base import GeneratorSpec
from proxymat.params import e, f, i
from proxymat.proxy.metrics import comparison_grid, evaluate_proxy, flat_like, gaussian_window, gram_distance, l1, psnr, ssim
from proxymat.proxy.model import (
    DEFAULT_CHANNELS,
    ModulatedConv,
    ProxyConfig,
    build_proxy,
    count_params,
    denormalize_params,
    expand_categories,
    fourier_inputs,
    normalize_params,
    one_hot_categories,
    proxy_inputs,
    sample_params,
    upsample2x,
)


def _blobs(params, res, seed):
    """Tileable soft blobs: ``count`` x ``count`` grid, shifted by ``x``, of width ``size``."""
    x, size, n = params["x"], params["size"], params["count"]
    u = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    dx = torch.frac(u[None, :] * n[:, None] - x[:, None] + 10.0) - 0.5
    dy = torch.frac(u[None, :] * n[:, None] + 10.0) - 0.5
    d2 = dx[:, None, :] ** 2 + dy[:, :, None] ** 2
    return torch.exp(-d2 / (2 * size[:, None, None] ** 2))[:, None] * params["gain"][:, None, None, None]


def toy_spec(**kw) -> GeneratorSpec:
    params = (f("x", 0.0, 0.0, 2.0), f("size", 0.15, 0.05, 0.3), i("count", 2, 1, 4), f("gain", 1.0, 0.5, 1.0))
    return GeneratorSpec("toy_blobs", _blobs, params, **kw)


TINY = ProxyConfig(n_params=3, res=8, w_dim=8, map_depth=2, channels=(4, 3))


# ------------------------------------------------------------------------ config
def test_config_defaults_and_roundtrip():
    cfg = ProxyConfig(n_params=5)
    assert cfg.res == 128 and cfg.resolutions == (4, 8, 16, 32, 64, 128)
    assert cfg.channels == tuple(DEFAULT_CHANNELS[r] for r in cfg.resolutions)
    assert ProxyConfig.from_dict(cfg.to_dict()) == cfg
    assert ProxyConfig.from_dict({**cfg.to_dict(), "unknown_future_key": 1}) == cfg


@pytest.mark.parametrize(
    "kw, msg",
    [({"res": 48}, "power of two"), ({"res": 16, "channels": (8,)}, "need 3"), ({"padding": "reflect"}, "padding")],
)
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ProxyConfig(n_params=2, **kw)


def test_config_categories_roundtrip_and_old_files_unchanged():
    cfg = ProxyConfig(n_params=3, res=8, categories=(0, 3, 0))
    assert cfg.embed_inputs == 5 and ProxyConfig.from_dict(cfg.to_dict()) == cfg
    assert "categories" not in ProxyConfig(n_params=3, res=8).to_dict()  # files without one-hot inputs unchanged
    assert ProxyConfig(n_params=3, res=8).embed_inputs == 3


@pytest.mark.parametrize("cats", [(0, 3), (0, 1, 0), (0, -2, 0)])
def test_config_rejects_bad_categories(cats):
    with pytest.raises(ValueError, match="categories"):
        ProxyConfig(n_params=3, res=8, categories=cats)


def test_expand_categories_one_hot_by_rounded_index():
    p = torch.tensor([[0.3, 0.24, 0.7], [0.9, 0.26, 1.0], [0.1, 0.76, 0.2]])
    out = expand_categories(p, (0, 3, 0))
    assert torch.equal(out, torch.tensor([[0.3, 1, 0, 0, 0.7], [0.9, 0, 1, 0, 1.0], [0.1, 0, 0, 1, 0.2]]))
    assert expand_categories(p, ()) is p


def test_one_hot_proxy_sees_enum_choices_and_keeps_scalar_gradients():
    spec = GeneratorSpec("toy_enum", _blobs, (f("x", 0.0, 0.0, 2.0), e("mode", "a", ("a", "b", "c")), i("count", 2, 1, 4)))
    cats = one_hot_categories(spec)
    assert cats == (0, 3, 0)
    net = build_proxy(ProxyConfig(n_params=3, res=8, w_dim=8, map_depth=2, channels=(4, 3), categories=cats))
    assert net.mapping.embed.weight.shape == (8, 5)
    p = torch.tensor([[0.2, 0.0, 0.5], [0.2, 0.5, 0.5]], requires_grad=True)
    out = net(p)
    assert not torch.allclose(out[0], out[1])  # the choice changes the image
    out.sum().backward()
    assert p.grad[:, 0].abs().sum() > 0 and torch.all(p.grad[:, 1] == 0)  # one-hot column: no gradient


def test_default_size_fits_cpu_budget():
    n = count_params(build_proxy(ProxyConfig(n_params=10)))
    assert 0.8e6 < n < 1.6e6


# ----------------------------------------------------------------------- layers
def test_upsample_matches_bilinear_inside_and_wraps_at_edges():
    x = torch.randn(2, 3, 5, 6)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(upsample2x(x, circular=False), ref, atol=1e-6)
    row = torch.tensor([[[[0.0, 4.0]]]])  # 1x2 image; circular neighbours of 0 are 4 on both sides
    out = upsample2x(row, circular=True)
    assert out.shape == (1, 1, 2, 4)
    assert torch.allclose(out[0, 0, 0], torch.tensor([1.0, 1.0, 3.0, 3.0]))
    assert torch.allclose(out[0, 0, 1], out[0, 0, 0])


def test_modulated_conv_equals_per_sample_demodulated_weights():
    torch.manual_seed(0)
    conv = ModulatedConv(5, 4, w_dim=6, circular=True).double()
    with torch.no_grad():
        conv.bias.normal_()
    x, w = torch.randn(3, 5, 7, 7, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    got = conv(x, w)
    styles = conv.affine(w)
    outs = []
    for b in range(3):
        wb = conv.weight * conv.w_gain * styles[b][None, :, None, None]
        wb = wb / wb.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        y = F.conv2d(F.pad(x[b : b + 1], (1, 1, 1, 1), mode="circular"), wb) + conv.bias[None, :, None, None]
        outs.append(F.leaky_relu(y, 0.2) * math.sqrt(2))
    assert torch.allclose(got, torch.cat(outs), atol=1e-10)


def test_demodulated_output_ignores_style_scale():
    conv = ModulatedConv(4, 4, w_dim=3, act=False).double()
    x, w = torch.randn(2, 4, 6, 6, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    base = conv(x, w)
    with torch.no_grad():
        conv.affine.weight.mul_(3.0)
        conv.affine.bias.mul_(3.0)
    assert torch.allclose(conv(x, w), base, atol=1e-9)


# ------------------------------------------------------------------------ model
def test_forward_shape_range_and_raw_relation():
    net = build_proxy(ProxyConfig(n_params=3, res=16, w_dim=16, map_depth=1, channels=(8, 8, 4)))
    p = torch.rand(4, 3)
    raw, out = net.forward_raw(p), net(p)
    assert out.shape == (4, 1, 16, 16)
    assert torch.equal(out, ((raw + 1) / 2).clamp(0, 1))
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        net(torch.rand(4, 2))


def test_build_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = build_proxy(TINY, seed=1), build_proxy(TINY, seed=1), build_proxy(TINY, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    p = torch.rand(2, 3)
    assert torch.equal(a.forward_raw(p), b.forward_raw(p))
    assert not torch.allclose(a.forward_raw(p), c.forward_raw(p))


def test_wplus_synthesis_generalizes_the_shared_w():
    net = build_proxy(TINY)
    p = torch.rand(2, 3)
    w = net.mapping(p)
    assert net.num_ws == 2 + 3
    assert torch.allclose(net.synthesis(w[:, None].repeat(1, 5, 1)), net.forward_raw(p))
    wplus = w[:, None].repeat(1, 5, 1)
    wplus[:, 4] += 1.0  # last toRGB only
    assert not torch.allclose(net.synthesis(wplus), net.forward_raw(p))
    with pytest.raises(ValueError, match="w of shape"):
        net.synthesis(torch.zeros(2, 4, 8))


def test_gradient_reaches_every_parameter_input():
    net = build_proxy(ProxyConfig(n_params=3, res=16, w_dim=16, map_depth=2, channels=(8, 8, 4)))
    p = torch.rand(2, 3, requires_grad=True)
    net.forward_raw(p).square().mean().backward()
    assert p.grad is not None and (p.grad.abs() > 0).all()


def test_gradcheck_output_wrt_params_float64():
    net = build_proxy(TINY).double()
    p = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net.forward_raw, (p,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_output_wraps_around_under_circular_padding():
    """With circular padding the net commutes with shifts of its constant input."""
    net = build_proxy(ProxyConfig(n_params=2, res=16, w_dim=8, map_depth=1, channels=(4, 4, 4)))
    p = torch.rand(2, 2)
    base = net.forward_raw(p)
    with torch.no_grad():
        net.const.copy_(torch.roll(net.const, shifts=1, dims=2))
    # a 1-cell shift at 4x4 is a 4-pixel shift at 16x16
    assert torch.allclose(net.forward_raw(p), torch.roll(base, shifts=4, dims=3), atol=1e-5)


# -------------------------------------------------------------- Fourier inputs
def test_fourier_inputs_hold_f_periods_per_side_and_wrap_around():
    res, k = 16, 4
    waves = fourier_inputs(res, k)
    assert waves.shape == (4 * k, res, res)
    for f in (1, 2, 4):  # periods that divide the side: the wave repeats every res / f pixels
        along_x, along_y = waves[f - 1], waves[2 * k + f - 1]
        assert torch.allclose(along_x, torch.roll(along_x, res // f, dims=1), atol=1e-6)
        assert not torch.allclose(along_x, torch.roll(along_x, res // (2 * f), dims=1), atol=1e-3)
        assert torch.allclose(along_x, along_y.T, atol=1e-6)
        assert torch.allclose(along_x[0], along_x[5])  # constant along y
    assert waves.mean(dim=(1, 2)).abs().max() < 1e-6
    gram = waves.flatten(1) @ waves.flatten(1).T / res**2  # distinct waves are orthogonal over the tile
    assert torch.allclose(gram - torch.diag(torch.diagonal(gram)), torch.zeros_like(gram), atol=1e-5)


@pytest.mark.parametrize("k, where", [(0, 0), (3, 8), (4, 16), (7, 16), (16, 64)])
def test_fourier_inputs_join_the_first_resolution_above_twice_their_count(k, where):
    cfg = ProxyConfig(n_params=2, res=64, w_dim=8, map_depth=1, channels=(4, 4, 4, 4, 4), fourier=k)
    assert cfg.fourier_res == where
    net = build_proxy(cfg)
    for r, block in zip(cfg.resolutions, net.blocks):
        assert (block.fourier is not None) == (r == where)
        if block.conv0 is not None:
            assert block.conv0.weight.shape[1] == 4 + (4 * k if r == where else 0)
    assert ProxyConfig.from_dict(cfg.to_dict()) == cfg
    assert ("fourier" in cfg.to_dict()) == bool(k)  # files without Fourier inputs stay unchanged
    assert not any("fourier" in key for key in net.state_dict())  # rebuilt from the config, not stored


def test_config_rejects_fourier_inputs_the_resolution_cannot_hold():
    with pytest.raises(ValueError, match="fourier"):
        ProxyConfig(n_params=2, res=16, fourier=8)  # needs 32 px
    with pytest.raises(ValueError, match="fourier"):
        ProxyConfig(n_params=2, res=16, fourier=-1)


def test_fourier_proxy_roundtrips_through_its_file_and_keeps_gradients(tmp_path):
    from proxymat.proxy.weights import load_proxy, save_proxy

    spec = toy_spec()
    cfg = ProxyConfig(n_params=4, res=16, w_dim=8, map_depth=1, channels=(4, 4, 4), fourier=3)
    net = build_proxy(cfg)
    p = torch.rand(3, 4, requires_grad=True)
    out = net(p)
    out.sum().backward()
    assert p.grad.abs().sum() > 0
    with torch.no_grad():  # the file holds fp16 weights
        for v in net.parameters():
            v.copy_(v.half().float())
    path = save_proxy(tmp_path / "toy.safetensors", net, spec)
    loaded = load_proxy(path, spec=spec)
    assert loaded.net.config.fourier == 3
    assert torch.allclose(loaded.net(p.detach()), net(p.detach()), atol=1e-4)


# ------------------------------------------------------------- params <-> input
def test_proxy_inputs_skip_fixed_params():
    spec = toy_spec(fixed={"gain": 1.0})
    assert [p.name for p in proxy_inputs(spec)] == ["x", "size", "count"]


def test_sampling_respects_box_discrete_and_full_range_normalization():
    spec = toy_spec(sample_box={"x": (0.5, 1.0), "count": (2, 3)}, fixed={"gain": 0.75})
    p, real = sample_params(spec, 400, torch.Generator().manual_seed(0))
    assert p.shape == (400, 3)
    assert real["x"].min() >= 0.5 and real["x"].max() <= 1.0
    # x has full range [0, 2]: the box [0.5, 1] maps to [0.25, 0.5]
    assert torch.allclose(p[:, 0], real["x"] / 2)
    assert p[:, 0].min() >= 0.25 and p[:, 0].max() <= 0.5
    assert set(real["count"].tolist()) == {2.0, 3.0}
    assert torch.allclose(p[:, 2], (real["count"] - 1) / 3)
    assert torch.equal(real["gain"], torch.full((400,), 0.75))
    back = denormalize_params(spec, p)
    assert torch.allclose(back["x"], real["x"], atol=1e-6) and torch.equal(back["count"], real["count"])
    assert torch.equal(back["gain"], real["gain"])


def test_sample_box_without_integers_is_rejected():
    spec = toy_spec(sample_box={"count": (2.2, 2.8)})
    with pytest.raises(ValueError, match="holds no integer"):
        sample_params(spec, 2, torch.Generator().manual_seed(0))


def test_sampling_is_reproducible_per_generator_state():
    spec = toy_spec()
    a, _ = sample_params(spec, 5, torch.Generator().manual_seed(3))
    b, _ = sample_params(spec, 5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.allclose(normalize_params(spec, denormalize_params(spec, a)), a, atol=1 / 6 + 1e-6)


# ---------------------------------------------------------------------- metrics
def test_l1_and_psnr_values():
    a = torch.zeros(2, 1, 4, 4)
    b = torch.full((2, 1, 4, 4), 0.25)
    assert torch.allclose(l1(a, b), torch.tensor([0.25, 0.25]))
    assert torch.allclose(psnr(a, b), torch.full((2,), 10 * math.log10(16.0)))


def test_ssim_identical_is_one():
    x = torch.rand(2, 1, 20, 20)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-6)


def test_ssim_constant_images_hand_value():
    a, b = torch.full((1, 1, 16, 16), 0.3), torch.full((1, 1, 16, 16), 0.5)
    c1 = 0.01**2
    expected = (2 * 0.3 * 0.5 + c1) / (0.3**2 + 0.5**2 + c1)  # contrast/structure term = C2 / C2 = 1
    assert ssim(a, b).item() == pytest.approx(expected, abs=1e-5)


def test_ssim_matches_direct_window_formula():
    torch.manual_seed(1)
    a = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    b = (a + 0.2 * torch.rand(1, 1, 12, 12, dtype=torch.float64)).clamp(0, 1)
    g = gaussian_window(11, 1.5, torch.float64)
    w2 = g[:, None] * g[None, :]
    vals = []
    for y in range(2):
        for x in range(2):
            pa, pb = a[0, 0, y : y + 11, x : x + 11], b[0, 0, y : y + 11, x : x + 11]
            ma, mb = (w2 * pa).sum(), (w2 * pb).sum()
            va, vb = (w2 * (pa - ma) ** 2).sum(), (w2 * (pb - mb) ** 2).sum()
            cov = (w2 * (pa - ma) * (pb - mb)).sum()
            c1, c2 = 0.01**2, 0.03**2
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    assert ssim(a, b).item() == pytest.approx(torch.stack(vals).mean().item(), abs=1e-10)
    assert ssim(a, b).item() < 0.99


def test_gram_distance_zero_for_same_and_positive_otherwise():
    feats = TextureFeatures("random")
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32) ** 3
    assert torch.equal(gram_distance(x, x, feats), torch.zeros(2))
    assert (gram_distance(x, y, feats) > 0).all()


def test_evaluate_proxy_of_the_real_generator_is_perfect():
    spec = toy_spec()

    def exact(p: torch.Tensor) -> torch.Tensor:
        return spec(denormalize_params(spec, p), 16, 0)

    m = evaluate_proxy(exact, spec, n=6, res=16, batch=4, features=TextureFeatures("random"))
    assert m["l1"] == 0 and m["gram"] == 0 and m["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert m["n"] == 6 and m["res"] == 16

    def wrong(p: torch.Tensor) -> torch.Tensor:
        return torch.full((p.shape[0], 1, 32, 32), 0.5)  # other res: resized to 16

    bad = evaluate_proxy(wrong, spec, n=4, res=16, batch=4, features=TextureFeatures("random"))
    assert bad["l1"] > 0.1 and bad["ssim"] < 0.5
    assert m["flat_l1"] > 0.01 and m["flat_ssim"] < 0.99  # the real generator beats a flat image


def test_flat_floor_is_what_a_structureless_proxy_scores():
    spec = toy_spec()

    def flat(p: torch.Tensor) -> torch.Tensor:  # the median of each target, as the floor assumes
        return flat_like(spec(denormalize_params(spec, p), 16, 0))

    m = evaluate_proxy(flat, spec, n=5, res=16, batch=4, features=TextureFeatures("random"))
    assert m["l1"] == pytest.approx(m["flat_l1"], abs=1e-7) and m["ssim"] == pytest.approx(m["flat_ssim"], abs=1e-6)
    assert m["gram"] == pytest.approx(m["flat_gram"], rel=1e-5) and m["flat_gram"] > 0


def _jittered_blobs(params, res, seed):
    """The toy blobs with a layout that moves with the seed: a stochastic generator."""
    g = torch.Generator().manual_seed(int(seed))
    noise = 0.3 * torch.rand(params["x"].shape[0], 1, res, res, generator=g)
    return (_blobs(params, res, seed) + noise).clamp(0, 1)


def test_texture_floor_of_another_layout_seed():
    spec = GeneratorSpec("toy_jitter", _jittered_blobs, toy_spec().params)

    def exact(p: torch.Tensor) -> torch.Tensor:
        return spec(denormalize_params(spec, p), 16, 0)

    def other_layout(p: torch.Tensor) -> torch.Tensor:
        return spec(denormalize_params(spec, p), 16, 1)

    feats = TextureFeatures("random")
    m = evaluate_proxy(exact, spec, n=6, res=16, batch=4, features=feats)
    o = evaluate_proxy(other_layout, spec, n=6, res=16, batch=4, features=feats)
    assert m["gram"] == 0 and o["gram"] == pytest.approx(m["seed_gram"], rel=1e-5)  # the floor: seed + 1's layout
    assert 0 < m["seed_gram"] < m["flat_gram"]
    x = torch.tensor([0.0, 0.0, 1.0, 0.2, 0.0]).view(1, 1, 1, 5)
    assert torch.equal(flat_like(x), torch.zeros_like(x))  # mostly black: the floor is black


def test_comparison_grid_layout(tmp_path):
    from PIL import Image

    real = torch.zeros(3, 1, 4, 5)
    prox = torch.ones(3, 1, 4, 5) * 0.5
    path = comparison_grid(real, prox, tmp_path / "g.png", gap=2)
    arr = torch.from_numpy(np.array(Image.open(path)))
    assert arr.shape == (2 * 4 + 2, 3 * 5 + 2 * 2)
    assert arr[0, 0] == 0 and arr[5, 0] == 255 and arr[6, 0] == 128 and arr[0, 5] == 255
    with pytest.raises(ValueError, match="equal shape"):
        comparison_grid(real, prox[:2], tmp_path / "h.png")
