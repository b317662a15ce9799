"""Tests for the spatial and normal-map filter nodes (filters/spatial.py, filters/normals.py)."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from proxymat.nodes.filters import normals as N
from proxymat.nodes.filters import spatial as S

SPECS = {s.type: s for s in S.SPECS + N.SPECS}
D = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def rand(*shape: int, seed: int = 0, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=D)


def cosine(res: int, k: int, axis: str = "u", amp: float = 1.0) -> torch.Tensor:
    """``amp * cos(2 pi k u)`` (or along v) sampled at pixel centres, (1, 1, res, res)."""
    t = (torch.arange(res, dtype=D) + 0.5) / res
    wave = amp * torch.cos(2 * math.pi * k * t)
    img = wave.view(1, res) if axis == "u" else wave.view(res, 1)
    return img.expand(res, res).reshape(1, 1, res, res).clone()


def ramp_u(res: int) -> torch.Tensor:
    """h = column / res: rises to the right (with a seam at the wrap)."""
    return (torch.arange(res, dtype=D) / res).view(1, 1, 1, res).expand(1, 1, res, res).clone()


def random_normals(res: int, seed: int, tilt: float = 0.4) -> torch.Tensor:
    """A valid encoded normal map with moderate tilts."""
    xy = rand(1, 2, res, res, seed=seed, lo=-tilt, hi=tilt)
    n = torch.cat([xy, torch.ones(1, 1, res, res, dtype=D)], 1)
    return N.encode(N.normalize(n))


def tilted(sx: float, sy: float = 0.0, res: int = 8) -> torch.Tensor:
    """Constant encoded normal normalize(sx, sy, 1)."""
    n = N.normalize(torch.tensor([sx, sy, 1.0], dtype=D).view(1, 3, 1, 1))
    return N.encode(n).expand(1, 3, res, res).clone()


# --------------------------------------------------------------- structure
def test_every_spec_port_and_param_is_a_keyword_of_its_function():
    for spec in SPECS.values():
        names = set(inspect.signature(spec.fn).parameters)
        for p in spec.inputs:
            assert p.name in names, (spec.type, p.name)
        for p in spec.params:
            assert p.name in names, (spec.type, p.name)


def test_all_expected_nodes_exist():
    expected = {
        "blur", "sharpen", "directional_blur", "warp", "directional_warp", "transform_2d", "height_to_normal",
        "normal_blend", "normal_intensity", "emboss", "edge_detect", "slope_blur", "ambient_occlusion",
        "highpass", "curvature", "normal_invert",
    }
    assert expected <= set(SPECS)


def _default_inputs(spec, res: int, seed: int, dtype=torch.float32) -> dict[str, torch.Tensor]:
    out = {}
    for k, p in enumerate(spec.inputs):
        c = 1 if p.channels == "gray" else 3
        out[p.name] = rand(1, c, res, res, seed=seed + k).to(dtype)
    return out


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_defaults_run_and_commute_with_roll(type_):
    """Tileability: shifting the inputs by whole pixels shifts the output the same way."""
    spec = SPECS[type_]
    ins = _default_inputs(spec, 16, seed=3)
    params = {p.name: (torch.tensor(p.default) if p.kind in ("float", "vec2") else p.default) for p in spec.params}
    out = spec.fn(**ins, **params)
    assert out.shape[-2:] == (16, 16) and torch.isfinite(out).all()
    rolled = spec.fn(**{k: torch.roll(v, (5, -3), (-2, -1)) for k, v in ins.items()}, **params)
    torch.testing.assert_close(rolled, torch.roll(out, (5, -3), (-2, -1)), atol=1e-5, rtol=0)


# ------------------------------------------------------------ gradcheck
def _nm(seed: int) -> torch.Tensor:
    return random_normals(8, seed)


# node -> (inputs, differentiable params, fixed params)
GRAD_CASES = {
    "blur": (lambda: {"input": rand(1, 1, 8, 8)}, {"radius": 0.07}, {}),
    "sharpen": (lambda: {"input": rand(1, 1, 8, 8)}, {"amount": 0.7, "radius": 0.06}, {}),
    "highpass": (lambda: {"input": rand(1, 1, 8, 8)}, {"radius": 0.08}, {}),
    "directional_blur": (lambda: {"input": rand(1, 1, 8, 8)}, {"angle": 0.1, "length": 0.3}, {}),
    "warp": (lambda: {"input": rand(1, 3, 8, 8), "intensity_input": rand(1, 1, 8, 8, seed=1)}, {"intensity": 3.0}, {}),
    "directional_warp": (
        lambda: {"input": rand(1, 3, 8, 8), "intensity_input": rand(1, 1, 8, 8, seed=1)},
        {"intensity": 0.1, "angle": 0.15},
        {},
    ),
    "transform_2d": (
        lambda: {"input": rand(1, 3, 8, 8)},
        {"offset": (0.03, -0.07), "rotation": 0.03, "scale": (1.1, 0.9)},
        {},
    ),
    "edge_detect": (lambda: {"input": rand(1, 1, 8, 8)}, {"width": 0.05, "contrast": 1.5}, {}),
    "slope_blur": (
        lambda: {"input": rand(1, 3, 8, 8), "slope": rand(1, 1, 8, 8, seed=1)},
        {"intensity": 3.0},
        {"samples": 4},
    ),
    "ambient_occlusion": (lambda: {"input": rand(1, 1, 8, 8)}, {"radius": 0.1, "intensity": 1.5}, {}),
    "height_to_normal": (lambda: {"input": rand(1, 1, 8, 8)}, {"intensity": 2.0}, {}),
    "normal_blend": (
        lambda: {"base": _nm(1), "detail": _nm(2), "mask": rand(1, 1, 8, 8, seed=3)},
        {"opacity": 0.7},
        {"mode": "reoriented"},
    ),
    "normal_intensity": (lambda: {"input": _nm(1)}, {"intensity": 1.5}, {}),
    "normal_invert": (lambda: {"input": _nm(1)}, {}, {}),
    "emboss": (
        lambda: {"input": rand(1, 3, 8, 8), "height": rand(1, 1, 8, 8, seed=1)},
        {"intensity": 2.0, "light_angle": 0.3},
        {},
    ),
    "curvature": (lambda: {"input": _nm(1)}, {"intensity": 2.0}, {}),
}


def test_grad_cases_cover_every_node():
    assert set(GRAD_CASES) == set(SPECS)


def _gradcheck(type_: str, fixed_override: dict | None = None) -> None:
    make_inputs, diff_params, fixed = GRAD_CASES[type_]
    fixed = {**fixed, **(fixed_override or {})}
    ins = make_inputs()
    names = list(ins) + list(diff_params)
    leaves = [ins[k] for k in ins] + [torch.tensor(v, dtype=D) for v in diff_params.values()]
    leaves = [t.clone().requires_grad_(True) for t in leaves]

    def fn(*args):
        return SPECS[type_].fn(**dict(zip(names, args)), **fixed)

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("type_", sorted(GRAD_CASES))
def test_gradcheck(type_):
    _gradcheck(type_)


def test_gradcheck_normal_blend_whiteout():
    _gradcheck("normal_blend", {"mode": "whiteout"})


def test_param_gradients_are_nonzero():
    """Each float parameter really influences the output (guards against a detached parameter)."""
    for type_, (make_inputs, diff_params, fixed) in GRAD_CASES.items():
        ins = make_inputs()
        for name, value in diff_params.items():
            p = torch.tensor(value, dtype=D, requires_grad=True)
            others = {k: torch.tensor(v, dtype=D) for k, v in diff_params.items() if k != name}
            out = SPECS[type_].fn(**ins, **others, **fixed, **{name: p})
            (g,) = torch.autograd.grad((out * rand(*out.shape, seed=9)).sum(), p)
            assert g.abs().sum() > 1e-6, (type_, name)


# ----------------------------------------------------------------- blurs
def test_blur_constant_mean_and_zero_radius():
    c = torch.full((1, 3, 16, 16), 0.3, dtype=D)
    torch.testing.assert_close(S.blur(c, torch.tensor(0.05)), c)
    x = rand(2, 3, 16, 16)
    y = S.blur(x, torch.tensor(0.05))
    torch.testing.assert_close(y.mean((-2, -1)), x.mean((-2, -1)))
    assert y.std() < x.std() * 0.7
    torch.testing.assert_close(S.blur(x, torch.tensor(0.0)), x)


def test_blur_equals_periodic_sampled_gaussian():
    res, sigma_px = 32, 2.0
    x = rand(1, 1, res, res)
    d = torch.arange(res, dtype=D)
    d = torch.minimum(d, res - d)
    w = torch.exp(-(d**2) / (2 * sigma_px**2))
    w = w / w.sum()
    # Separable periodic convolution with explicit circulant matrices.
    idx = (torch.arange(res).view(-1, 1) - torch.arange(res).view(1, -1)) % res
    m = w[idx]
    expected = torch.einsum("ij,bcjk,kl->bcil", m, x, m.T)
    torch.testing.assert_close(S.blur(x, torch.tensor(sigma_px / res)), expected, atol=1e-6, rtol=0)


def test_blur_sharpen_highpass_on_a_cosine():
    x = cosine(16, 2)
    r, a = 0.04, 1.5
    g = math.exp(-2 * math.pi**2 * r**2 * 4)
    torch.testing.assert_close(S.blur(x, torch.tensor(r)), g * x)
    torch.testing.assert_close(S.sharpen(x, torch.tensor(a), torch.tensor(r)), (1 + a * (1 - g)) * x)
    torch.testing.assert_close(S.highpass(x, torch.tensor(r)), 0.5 + (1 - g) * x)
    torch.testing.assert_close(S.sharpen(x, torch.tensor(0.0), torch.tensor(r)), x)


def test_blur_batched_radius_matches_single():
    x = rand(2, 3, 16, 16)
    r = torch.tensor([0.02, 0.07], dtype=D)
    out = S.blur(x, r)
    for k in range(2):
        torch.testing.assert_close(out[k : k + 1], S.blur(x[k : k + 1], r[k]))


def test_blur_is_resolution_independent():
    """The same (band-limited) content at 64 and 32 px blurs to the same image."""
    hi = S.blur(rand(1, 1, 64, 64), torch.tensor(0.02))
    lo = F.avg_pool2d(hi, 2)
    for r in (0.01, 0.03):
        a = F.avg_pool2d(S.blur(hi, torch.tensor(r)), 2)
        b = S.blur(lo, torch.tensor(r))
        assert (a - b).abs().max() < 0.05 * hi.std()
        # ... while the blur itself changes the image far more than that.
        assert (b - lo).abs().max() > 0.2 * hi.std()


def test_directional_blur_only_blurs_along_its_angle():
    k, length = 2, 0.2
    sigma = length / math.sqrt(12)
    g = math.exp(-2 * math.pi**2 * sigma**2 * k**2)
    xu, xv = cosine(16, k, "u"), cosine(16, k, "v")
    L = torch.tensor(length)
    torch.testing.assert_close(S.directional_blur(xu, torch.tensor(0.0), L), g * xu)
    torch.testing.assert_close(S.directional_blur(xv, torch.tensor(0.0), L), xv)
    torch.testing.assert_close(S.directional_blur(xv, torch.tensor(0.25), L), g * xv)
    torch.testing.assert_close(S.directional_blur(xu, torch.tensor(0.25), L), xu)
    g45 = math.exp(-2 * math.pi**2 * sigma**2 * k**2 / 2)
    torch.testing.assert_close(S.directional_blur(xu, torch.tensor(0.125), L), g45 * xu)
    x = rand(1, 1, 16, 16)
    torch.testing.assert_close(
        S.directional_blur(x, torch.tensor(0.1), L), S.directional_blur(x, torch.tensor(0.6), L)
    )
    # 45 degrees up-right and down-right are different diagonals.
    a = S.directional_blur(x, torch.tensor(0.125), L)
    b = S.directional_blur(x, torch.tensor(-0.125), L)
    assert (a - b).abs().max() > 1e-2
    # Up-right: the diagonal blur of a transposed image is the transpose of the other diagonal.
    torch.testing.assert_close(S.directional_blur(x.transpose(-1, -2), torch.tensor(0.125), L).transpose(-1, -2), a)


# ----------------------------------------------------------------- warps
def test_warp_constant_field_is_identity_and_ramp_shifts_one_pixel():
    x = rand(1, 3, 8, 8)
    torch.testing.assert_close(S.warp(x, torch.full((1, 1, 8, 8), 0.7, dtype=D), torch.tensor(5.0)), x)
    intensity = torch.tensor(1.0 / (8 * S.WARP_SCALE))  # gradient 1/UV -> 1 pixel
    out = S.warp(x, ramp_u(8), intensity)
    torch.testing.assert_close(out[..., 1:7], x[..., 2:8])


def test_directional_warp_slides_content():
    x = rand(1, 3, 8, 8)
    one = torch.ones(1, 1, 8, 8, dtype=D)
    q = torch.tensor(0.25)
    torch.testing.assert_close(S.directional_warp(x, one, q, torch.tensor(0.0)), torch.roll(x, 2, -1))
    torch.testing.assert_close(S.directional_warp(x, one, q, torch.tensor(0.25)), torch.roll(x, -2, -2))
    torch.testing.assert_close(S.directional_warp(x, one, q, torch.tensor(0.5)), torch.roll(x, -2, -1))
    torch.testing.assert_close(S.directional_warp(x, 0 * one, q, torch.tensor(0.3)), x)
    # Half the gray, half the shift: a 1-pixel move.
    torch.testing.assert_close(S.directional_warp(x, 0.5 * one, q, torch.tensor(0.0)), torch.roll(x, 1, -1))


def test_transform_2d_offsets_rotations_and_tiling_scale():
    x = rand(1, 3, 8, 8)
    t = S.transform_2d
    torch.testing.assert_close(t(x, offset=torch.tensor([0.25, 0.0])), torch.roll(x, 2, -1))
    torch.testing.assert_close(t(x, offset=torch.tensor([0.0, 0.25])), torch.roll(x, 2, -2))
    torch.testing.assert_close(t(x, offset=torch.tensor([-1.0, 2.0])), x)
    torch.testing.assert_close(t(x, rotation=torch.tensor(0.25)), torch.rot90(x, 1, (-2, -1)))
    torch.testing.assert_close(t(x, rotation=torch.tensor(-0.25)), torch.rot90(x, -1, (-2, -1)))
    torch.testing.assert_close(t(x, rotation=torch.tensor(0.5)), torch.flip(x, (-2, -1)))
    # Half offset: the mean of two neighbours.
    torch.testing.assert_close(t(x, offset=torch.tensor([1 / 16, 0.0])), 0.5 * (x + torch.roll(x, 1, -1)))
    # Scale 1/2 shows 2x2 copies of the (box-downsampled) input, still tileable.
    half = t(x, scale=torch.tensor([0.5, 0.5]))
    tiles = F.avg_pool2d(x, 2).repeat(1, 1, 2, 2)
    torch.testing.assert_close(half, torch.roll(tiles, (2, 2), (-2, -1)))
    torch.testing.assert_close(t(x, scale=torch.tensor(0.5)), half)


def test_transform_2d_batched_params():
    x = rand(2, 1, 8, 8)
    off = torch.tensor([[0.25, 0.0], [0.0, -0.125]], dtype=D)
    out = S.transform_2d(x, offset=off, rotation=torch.tensor([0.0, 0.25], dtype=D))
    torch.testing.assert_close(out[0], torch.roll(x[0], 2, -1))
    # Rotation first, then the offset (one pixel up).
    torch.testing.assert_close(out[1], torch.roll(torch.rot90(x[1], 1, (-2, -1)), -1, -2))


def test_slope_blur_identity_and_two_sample_average():
    x = rand(1, 3, 8, 8)
    torch.testing.assert_close(S.slope_blur(x, torch.full((1, 1, 8, 8), 0.3, dtype=D), torch.tensor(4.0)), x)
    torch.testing.assert_close(S.slope_blur(x, rand(1, 1, 8, 8, seed=4), torch.tensor(0.0)), x)
    v1 = torch.tensor(1.0 / (8 * S.WARP_SCALE))  # smear of 1 pixel to the right (uphill)
    out = S.slope_blur(x, ramp_u(8), v1, samples=2)  # samples at +0.25 and +0.75 px
    torch.testing.assert_close(out[..., 1:7], 0.5 * (x[..., 1:7] + x[..., 2:8]))
    down = S.slope_blur(x, ramp_u(8), -v1, samples=2)
    torch.testing.assert_close(down[..., 1:7], 0.5 * (x[..., 1:7] + x[..., 0:6]))


def test_slope_blur_rejects_zero_samples():
    with pytest.raises(ValueError, match="samples must be >= 1"):
        S.slope_blur(rand(1, 1, 8, 8), rand(1, 1, 8, 8), 1.0, samples=0)


# ------------------------------------------------------- edges and AO
def test_edge_detect_flat_step_and_direction():
    assert S.edge_detect(torch.full((1, 1, 16, 16), 0.4, dtype=D)).abs().max() == 0
    res, width, contrast = 64, 0.02, 1.0
    step = (torch.arange(res) >= res // 2).to(D).view(1, 1, 1, res).expand(1, 1, res, res).clone()
    out = S.edge_detect(step, torch.tensor(width), torch.tensor(contrast))
    peak = out[0, 0, 0].max()
    # At the step m is about 1 (a bit less: pixels sit half a pixel off the edge).
    assert math.tanh(0.85) < peak < math.tanh(1.0)
    assert out[0, 0, 0, 16] < 1e-3  # far from both edges (the wrap edge is at column 0)
    torch.testing.assert_close(
        S.edge_detect(step.transpose(-1, -2), torch.tensor(width), torch.tensor(contrast)), out.transpose(-1, -2)
    )


def test_edge_detect_cosine_value_and_resolution_independence():
    """On cos(4 pi u) the peak is tanh(contrast * sqrt(2 pi) w * 4 pi * g) at any resolution."""
    width, contrast = 0.02, 1.0
    g = math.exp(-2 * math.pi**2 * width**2 * 4)
    expected = math.tanh(contrast * math.sqrt(2 * math.pi) * width * 4 * math.pi * g)
    peaks = [S.edge_detect(cosine(n, 2), torch.tensor(width), torch.tensor(contrast)).max() for n in (64, 128)]
    for peak in peaks:
        assert abs(peak - expected) < 0.02 * expected
    assert abs(peaks[0] - peaks[1]) < 0.005


def test_ambient_occlusion_on_a_cosine():
    k, r, intensity, amp = 2, 0.05, 1.5, 0.5
    h = cosine(16, k, amp=amp)
    ao = S.ambient_occlusion(h, torch.tensor(r), torch.tensor(intensity))
    gains = [math.exp(-2 * math.pi**2 * (r * f) ** 2 * k**2) for f in S.AO_RADII]
    depth = torch.stack([torch.relu((g - 1) * h) for g in gains]).mean(0)
    torch.testing.assert_close(ao, torch.exp(-S.AO_SCALE * intensity * depth))
    # Crests are open, troughs darkest.
    assert ao.max() == 1.0 and ao[0, 0, 0].argmin() in (3, 4, 11, 12)
    flat = torch.full((1, 1, 8, 8), 0.6, dtype=D)
    torch.testing.assert_close(S.ambient_occlusion(flat, torch.tensor(r), torch.tensor(3.0)), torch.ones_like(flat))
    torch.testing.assert_close(S.ambient_occlusion(h, torch.tensor(r), torch.tensor(0.0)), torch.ones_like(h))


# -------------------------------------------------------------- normals
def test_height_to_normal_flat_and_ramp_signs():
    flat = N.height_to_normal(torch.full((1, 1, 8, 8), 0.3, dtype=D), torch.tensor(3.0))
    torch.testing.assert_close(flat, tilted(0.0, 0.0))
    right = N.height_to_normal(ramp_u(8), torch.tensor(16.0))  # slope exactly 1 in the interior
    torch.testing.assert_close(right[..., 1:7], tilted(-1.0, 0.0)[..., 1:7])
    assert right[0, 0, 3, 3] < 0.5  # rising to the right faces left
    up = N.height_to_normal(torch.flip(ramp_u(8), (-1,)).transpose(-1, -2), torch.tensor(16.0))  # rises toward row 0
    torch.testing.assert_close(up[..., 1:7, :], tilted(0.0, -1.0)[..., 1:7, :])
    assert up[0, 1, 3, 3] < 0.5
    # Resolution independence: the same ramp at 16 px gives the same normals.
    torch.testing.assert_close(N.height_to_normal(ramp_u(16), torch.tensor(16.0))[0, :, 5, 5], right[0, :, 3, 3])


def test_normal_intensity_flat_identity_and_double():
    n = random_normals(8, 5)
    torch.testing.assert_close(N.normal_intensity(n, torch.tensor(0.0)), tilted(0.0, 0.0).expand_as(n))
    torch.testing.assert_close(N.normal_intensity(n, torch.tensor(1.0)), n)
    torch.testing.assert_close(N.normal_intensity(tilted(0.3, -0.2), torch.tensor(2.0)), tilted(0.6, -0.4))


def test_normal_invert_flips_green_only():
    n = random_normals(8, 6)
    out = N.normal_invert(n)
    torch.testing.assert_close(out[:, 1], 1 - n[:, 1])
    torch.testing.assert_close(out[:, 0::2], n[:, 0::2])
    torch.testing.assert_close(N.normal_invert(out), n)


@pytest.mark.parametrize("mode", N.BLEND_MODES)
def test_normal_blend_identities(mode):
    base, detail, flat = random_normals(8, 7), random_normals(8, 8), tilted(0.0, 0.0)
    torch.testing.assert_close(N.normal_blend(base, flat, mode=mode), base)
    torch.testing.assert_close(N.normal_blend(flat, detail, mode=mode), detail)
    torch.testing.assert_close(N.normal_blend(base, detail, opacity=torch.tensor(0.0), mode=mode), base)
    zero_mask = torch.zeros(1, 1, 8, 8, dtype=D)
    torch.testing.assert_close(N.normal_blend(base, detail, zero_mask, mode=mode), base)


def test_normal_blend_hand_values():
    th = math.radians(30)
    n = tilted(math.tan(th))
    # Reoriented: two equal tilts compose into twice the angle.
    twice = N.encode(torch.tensor([math.sin(2 * th), 0.0, math.cos(2 * th)], dtype=D).view(1, 3, 1, 1))
    torch.testing.assert_close(N.normal_blend(n, n), twice.expand_as(n))
    # Whiteout: xy added, z multiplied.
    a, b = N.decode(tilted(0.5, 0.1)), N.decode(tilted(-0.2, 0.3))
    w = N.normalize(torch.cat([a[:, :2] + b[:, :2], a[:, 2:] * b[:, 2:]], 1))
    torch.testing.assert_close(N.normal_blend(tilted(0.5, 0.1), tilted(-0.2, 0.3), mode="whiteout"), N.encode(w))
    # Half opacity: the detail's tilt is halved before blending (lerp toward flat).
    # Half opacity: the detail's unit normal is lerped halfway to flat (then renormalized).
    d = N.normalize(torch.tensor([0.6, 0.0, 1.0], dtype=D).view(1, 3, 1, 1))
    half = d * 0.5 + torch.tensor([0.0, 0.0, 0.5], dtype=D).view(1, 3, 1, 1)
    expected = tilted(float(half[0, 0] / half[0, 2]))
    torch.testing.assert_close(N.normal_blend(tilted(0.0), tilted(0.6), opacity=torch.tensor(0.5)), expected)


def test_normal_blend_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown mode 'overlay'"):
        N.normal_blend(tilted(0.0), tilted(0.0), mode="overlay")


def test_emboss_flat_and_lit_ramp():
    color = rand(1, 3, 8, 8)
    torch.testing.assert_close(N.emboss(color, torch.full((1, 1, 8, 8), 0.2, dtype=D)), color)
    h = ramp_u(8)  # rising right: with intensity 16 the normal is (-1, 0, 1)/sqrt(2)
    lit = N.emboss(color, h, torch.tensor(16.0), torch.tensor(0.5))  # light from the left
    torch.testing.assert_close(lit[..., 1:7], color[..., 1:7] + (1 - math.sqrt(0.5)))
    dark = N.emboss(color, h, torch.tensor(16.0), torch.tensor(0.0))  # light from the right
    torch.testing.assert_close(dark[..., 1:7], color[..., 1:7] - math.sqrt(0.5))


def test_curvature_of_sine_normals_and_of_a_bump():
    res, c, intensity = 16, 0.3, 2.0
    u = ((torch.arange(res, dtype=D) + 0.5) / res).view(1, 1, 1, res).expand(1, 1, res, res)
    nx = c * torch.sin(2 * math.pi * u)
    n = N.encode(torch.cat([nx, torch.zeros_like(nx), torch.sqrt(1 - nx**2)], 1))
    div = c * torch.cos(2 * math.pi * u) * math.sin(2 * math.pi / res) * res
    expected = 0.5 + 0.5 * torch.tanh(intensity * N.CURVATURE_SCALE * div)
    torch.testing.assert_close(N.curvature(n, torch.tensor(intensity)), expected)
    assert N.curvature(tilted(0.3, 0.2), torch.tensor(5.0)).sub(0.5).abs().max() < 1e-12
    # Height bump (crest at u = 0 along both axes): convex crest > 0.5, trough < 0.5.
    h = cosine(res, 1) + cosine(res, 1, "v")
    curv = N.curvature(N.height_to_normal(h, torch.tensor(4.0)))
    assert curv[0, 0, 0, 0] > 0.55 and curv[0, 0, 8, 8] < 0.45
