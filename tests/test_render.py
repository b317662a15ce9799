"""Tests of the differentiable flash renderer."""

from __future__ import annotations

import math

import pytest
import torch

from proxymat.render import RenderSettings, render, surface_geometry

GAMMA = 2.2


def flat_maps(h=9, w=9, base=0.5, rough=1.0, metal=0.0, normal=(0.0, 0.0, 1.0), dtype=torch.float32):
    """Constant maps; ``normal`` is a decoded unit vector, stored encoded."""
    n = torch.tensor(normal, dtype=dtype)
    n = n / n.norm()
    enc = ((n + 1) / 2).view(1, 3, 1, 1).expand(1, 3, h, w).clone()
    base_t = torch.as_tensor(base, dtype=dtype).reshape(1, -1, 1, 1)
    return {
        "basecolor": base_t.expand(1, 3 if base_t.shape[1] == 1 else base_t.shape[1], h, w).clone(),
        "normal": enc,
        "roughness": torch.full((1, 1, h, w), rough, dtype=dtype),
        "metallic": torch.full((1, 1, h, w), metal, dtype=dtype),
    }


def hand_pixel(x, y, albedo, rough, f0=0.04, model="match"):
    """Closed-form radiance of a flat surface at plane position (x, y)."""
    d2 = x * x + y * y + 25.0**2
    cos = 25.0 / math.sqrt(d2)
    e = 3300.0 / d2 * cos
    a2 = rough**4
    d = a2 / (math.pi * (cos * cos * (a2 - 1) + 1) ** 2)
    scale = 0.25
    if model == "cook_torrance":
        k = rough**2 / 2
        scale = 0.25 / (cos * (1 - k) + k) ** 2
    diff = min(e * albedo / math.pi, 1.0)
    spec = min(e * d * scale * f0, 1.0)
    return min(diff + spec, 1.0) ** (1 / GAMMA)


def test_centre_pixel_matches_hand_formula():
    img = render(flat_maps(base=0.5, rough=1.0))
    albedo = 0.5**GAMMA
    # 3300/625 * albedo/pi (diffuse) + 3300/625 * D(alpha=1)=1/pi * 0.04/4 (specular)
    expected = (3300 / 625 * albedo / math.pi + 3300 / 625 / math.pi * 0.04 / 4) ** (1 / GAMMA)
    assert img.shape == (1, 3, 9, 9)
    assert img[0, :, 4, 4].tolist() == pytest.approx([expected] * 3, rel=1e-5)


@pytest.mark.parametrize("model", ["match", "cook_torrance"])
def test_corner_pixel_matches_hand_formula(model):
    maps = flat_maps(base=0.4, rough=0.6)
    img = render(maps, RenderSettings(model=model))
    step = 30 / 9
    x, y = (0 + 0.5 - 4.5) * step, (4.5 - 0 - 0.5) * step  # row 0, column 0: top-left
    expected = hand_pixel(x, y, 0.4**GAMMA, 0.6, model=model)
    assert img[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_geometry_directions_point_to_the_camera():
    omega, inv_d2 = surface_geometry(4, 4, RenderSettings())
    # top-left pixel centre lies at (-11.25, +11.25): the camera is to its +X, -Y.
    o = omega[0, :, 0, 0]
    assert o[0] > 0 and o[1] < 0 and o[2] > 0
    assert omega.norm(dim=1).allclose(torch.ones(1, 4, 4))
    assert inv_d2[0, 0, 0, 0].item() == pytest.approx(1 / (2 * 11.25**2 + 625))


def test_white_flat_diffuse_falls_off_radially_and_is_symmetric():
    img = render(flat_maps(h=16, w=16, base=0.5, rough=1.0))[0, 0]
    # brightest at the 4 central pixels (pixel centres straddle the origin)
    assert img[7:9, 7:9].min() == img.max()
    assert torch.allclose(img, img.flip(0), atol=1e-6)
    assert torch.allclose(img, img.flip(1), atol=1e-6)
    assert torch.allclose(img, img.T, atol=1e-6)
    row = img[8, 8:]
    assert (row[1:] < row[:-1]).all()  # strictly decreasing away from the centre
    assert img[0, 0] < img[0, 8] < img[8, 8]


def test_rougher_highlight_is_wider_and_dimmer():
    def spec_only(rough):
        lin = render(flat_maps(h=33, w=33, base=0.0, rough=rough))[0, 0] ** GAMMA
        return lin.max().item(), (lin > 0.5 * lin.max()).sum().item()

    peak_smooth, width_smooth = spec_only(0.4)
    peak_rough, width_rough = spec_only(0.7)
    assert peak_rough < 0.5 * peak_smooth
    assert width_rough > 2 * width_smooth


def test_metallic_black_basecolor_is_black():
    img = render(flat_maps(base=0.0, rough=0.5, metal=1.0))
    assert img.max().item() < 1e-3


def test_metallic_tints_the_specular_and_kills_diffuse():
    maps = flat_maps(base=torch.tensor([0.9, 0.0, 0.0]), rough=0.5, metal=1.0)
    img = render(maps)
    assert img[0, 0, 4, 4] > 0.5
    assert img[0, 1:].max() < 1e-3  # green/blue: no diffuse, f0 = albedo = 0


def test_gray_basecolor_broadcasts():
    maps = flat_maps(base=0.3)
    gray = dict(maps, basecolor=maps["basecolor"][:, :1])
    assert torch.equal(render(gray), render(maps))


def test_normal_tilted_to_plus_x_lights_the_left_half():
    # With the light above the centre, a pixel on the -X (left) side sees the
    # light towards +X; a normal tilted to +X faces it, so the left half gets
    # brighter and the right half (where the light lies towards -X) darker.
    s = math.sin(0.3)
    flat = render(flat_maps(h=16, w=16, base=0.4))[0, 0]
    img = render(flat_maps(h=16, w=16, base=0.4, normal=(s, 0.0, math.cos(0.3))))[0, 0]
    assert img[:, :8].mean() > img[:, 8:].mean()
    assert (img[:, :4] > flat[:, :4]).all() and (img[:, 12:] < flat[:, 12:]).all()
    # tilt to +Y (up, towards row 0) lights the bottom half in the GL convention
    img_y = render(flat_maps(h=16, w=16, base=0.4, normal=(0.0, s, math.cos(0.3))))[0, 0]
    assert img_y[8:].mean() > img_y[:8].mean()
    # ... and the top half in the DX convention (green stored flipped)
    img_dx = render(
        flat_maps(h=16, w=16, base=0.4, normal=(0.0, s, math.cos(0.3))),
        RenderSettings(normal_format="dx"),
    )[0, 0]
    assert img_dx[:8].mean() > img_dx[8:].mean()


def test_gl_dx_flip_equivalence():
    g = torch.Generator().manual_seed(0)
    maps = {
        "basecolor": torch.rand(2, 3, 8, 8, generator=g),
        "normal": torch.rand(2, 3, 8, 8, generator=g) * 0.6 + 0.2,
        "roughness": torch.rand(2, 1, 8, 8, generator=g),
        "metallic": torch.rand(2, 1, 8, 8, generator=g),
    }
    n = maps["normal"]
    flipped = dict(maps, normal=torch.cat([n[:, :1], 1 - n[:, 1:2], n[:, 2:]], dim=1))
    a = render(maps, RenderSettings(normal_format="gl"))
    b = render(flipped, RenderSettings(normal_format="dx"))
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, render(maps, RenderSettings(normal_format="dx")), atol=1e-3)


def test_cook_torrance_agrees_with_match_at_normal_incidence():
    maps = flat_maps(base=0.5, rough=0.6)
    m = render(maps)
    ct = render(maps, RenderSettings(model="cook_torrance"))
    assert ct[0, :, 4, 4].tolist() == pytest.approx(m[0, :, 4, 4].tolist(), rel=1e-6)
    # off-centre Smith G/(4 n.l n.v) > 1/4: Cook-Torrance's specular is stronger
    assert (ct[0, :, 0, 0] > m[0, :, 0, 0]).all()
    # the diffuse terms are identical: without specular the two models agree everywhere
    no_spec = dict(maps, metallic=torch.zeros(1, 1, 9, 9))
    settings = dict(f0=0.0)
    assert torch.allclose(
        render(no_spec, RenderSettings(**settings)),
        render(no_spec, RenderSettings(model="cook_torrance", **settings)),
    )


def test_normalize_flag_only_matters_for_non_unit_normals():
    maps = flat_maps(base=0.5)
    assert torch.allclose(render(maps), render(maps, RenderSettings(normalize_normals=False)))
    short = dict(maps, normal=torch.tensor([0.5, 0.5, 0.8]).view(1, 3, 1, 1).expand(1, 3, 9, 9))
    raw = render(short, RenderSettings(normalize_normals=False))
    unit = render(short)
    assert torch.allclose(unit, render(maps), atol=1e-6)  # (0,0,0.6) renormalized = (0,0,1)
    assert (raw < unit).all()  # MATch's unnormalized short normal darkens


def _grad_maps(seed):
    g = torch.Generator().manual_seed(seed)
    d = torch.float64
    u = lambda c, lo, hi: (lo + (hi - lo) * torch.rand(1, c, 4, 4, generator=g, dtype=d))
    normal = torch.cat([u(2, 0.4, 0.6), u(1, 0.9, 0.95)], dim=1)
    # chosen away from every clamp (terms stay well inside (0, 1))
    return [u(3, 0.2, 0.6), normal, u(1, 0.7, 0.95), u(1, 0.2, 0.8)]


@pytest.mark.parametrize(
    "settings",
    [
        RenderSettings(),
        RenderSettings(model="cook_torrance"),
        RenderSettings(normalize_normals=False, normal_format="dx"),
    ],
)
def test_gradcheck_every_map(settings):
    inputs = [t.requires_grad_() for t in _grad_maps(1)]

    def fn(bc, n, r, m):
        return render({"basecolor": bc, "normal": n, "roughness": r, "metallic": m}, settings)

    out = fn(*inputs)
    assert 0.05 < out.min() and out.max() < 0.95
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)
    out.sum().backward()
    for t in inputs:
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_batch_broadcast_and_height_ignored():
    maps = flat_maps(h=8, w=8)
    batched = dict(maps, roughness=torch.rand(3, 1, 8, 8), height=torch.zeros(1, 1, 2, 2))
    out = render(batched)
    assert out.shape == (3, 3, 8, 8)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m.pop("normal"), r"missing map\(s\) \['normal'\]"),
        (lambda m: m.update(basecolor=torch.rand(1, 2, 9, 9)), "'basecolor' must have 1 or 3 channel"),
        (lambda m: m.update(normal=torch.rand(1, 1, 9, 9)), "'normal' must have 3 channel"),
        (lambda m: m.update(roughness=torch.rand(1, 9, 9)), "'roughness' must be a 4-D tensor"),
        (lambda m: m.update(metallic=torch.rand(1, 1, 8, 9)), "different spatial sizes"),
        (lambda m: m.update(metallic=torch.rand(2, 1, 9, 9), roughness=torch.rand(3, 1, 9, 9)), "batch sizes"),
    ],
)
def test_shape_validation(change, match):
    maps = flat_maps()
    change(maps)
    with pytest.raises(ValueError, match=match):
        render(maps)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"model": "phong"}, "unknown render model"), ({"normal_format": "xx"}, "normal_format"),
     ({"intensity": 0.0}, "intensity"), ({"f0": 2.0}, "f0")],
)
def test_settings_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RenderSettings(**kwargs)


def test_clamp_unit_matches_clamp_values_and_gradients() -> None:
    from proxymat.render import clamp_unit

    gen = torch.Generator().manual_seed(0)
    inside = torch.rand(2, 3, 8, 8, generator=gen)
    inside[0, 0, 0, :3] = torch.tensor([-0.0, 0.0, 1.0])
    outside = torch.randn(2, 3, 8, 8, generator=gen)
    for x in (inside, outside, torch.tensor([[[[float("nan"), 0.5]]]])):
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        g = torch.randn(x.shape, generator=gen)
        ya, yb = clamp_unit(a), b.clamp(0.0, 1.0)
        assert torch.equal(ya.isnan(), yb.isnan())
        assert torch.equal(ya.nan_to_num(), yb.nan_to_num()) and torch.equal(ya.signbit(), yb.signbit())
        ya.backward(g)
        yb.backward(g)
        assert torch.equal(a.grad, b.grad)


def test_renderer_matches_render_and_keeps_one_geometry_per_size() -> None:
    from proxymat.render import Renderer

    gen = torch.Generator().manual_seed(1)
    renderer = Renderer(RenderSettings(model="cook_torrance"))
    for size in (8, 16, 8):
        maps = {"basecolor": torch.rand(2, 3, size, size, generator=gen), "normal": torch.rand(2, 3, size, size, generator=gen),
                "roughness": torch.rand(2, 1, size, size, generator=gen), "metallic": torch.rand(1, 1, size, size, generator=gen)}
        assert torch.equal(renderer(maps), render(maps, RenderSettings(model="cook_torrance")))
    assert len(renderer._geometry) == 2
    with pytest.raises(ValueError, match="missing map"):
        renderer({"basecolor": torch.rand(1, 3, 4, 4)})
