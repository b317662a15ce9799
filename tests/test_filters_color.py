"""Tests for the color and tone filter nodes (proxymat.nodes.filters.color / tone)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from proxymat.nodes.filters import color as C
from proxymat.nodes.filters import filter_specs
from proxymat.nodes.filters import tone as T

SPECS = C.SPECS + T.SPECS
BY_TYPE = {s.type: s for s in SPECS}
D = torch.float64


# ----------------------------------------------------------------- helpers
def row(*values: float) -> torch.Tensor:
    """A (1, 1, 1, N) gray float64 image."""
    return torch.tensor(values, dtype=D).view(1, 1, 1, -1)


def pixels(*rgb: tuple[float, float, float]) -> torch.Tensor:
    """A (1, 3, 1, N) color float64 image from RGB triples."""
    return torch.tensor(rgb, dtype=D).t().reshape(1, 3, 1, -1)


def s(v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=D)


def v3(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=D)


def rand(shape: tuple[int, ...], lo: float = 0.05, hi: float = 0.95, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(shape, generator=g, dtype=D)


def check_grad(fn, tensors: dict[str, torch.Tensor], **fixed) -> None:
    """gradcheck ``fn`` w.r.t. every tensor in ``tensors`` (passed by keyword); also require a nonzero gradient."""
    names = list(tensors)
    args = tuple(t.detach().clone().to(D).requires_grad_(True) for t in tensors.values())

    def wrapped(*xs):
        out = fn(**dict(zip(names, xs)), **fixed)
        return tuple(out.values()) if isinstance(out, dict) else out

    assert gradcheck(wrapped, args, eps=1e-6, atol=1e-5, rtol=1e-4)
    outs = wrapped(*args)
    total = sum(o.sum() for o in outs) if isinstance(outs, tuple) else outs.sum()
    grads = torch.autograd.grad(total, args, allow_unused=True)
    for name, g in zip(names, grads):
        assert g is not None and g.abs().sum() > 0, f"no gradient reaches {name!r}"


def close(a: torch.Tensor, b, atol: float = 1e-9) -> None:
    b = torch.as_tensor(b, dtype=a.dtype).expand_as(a) if not torch.is_tensor(b) or b.shape != a.shape else b
    assert torch.allclose(a, b.to(a.dtype), atol=atol), f"{a.flatten().tolist()} != {b.flatten().tolist()}"


# ------------------------------------------------------------------- specs
def test_spec_types_unique_and_registered() -> None:
    types = [sp.type for sp in SPECS]
    assert len(types) == len(set(types))
    expected = {
        "blend", "levels", "curve", "gradient_map", "hsl", "brightness_contrast", "invert", "threshold",
        "histogram_scan", "histogram_range", "grayscale", "uniform_color", "uniform_gray", "color_to_mask",
        "clamp", "pow", "rgb_split", "rgb_merge",
    }
    assert set(types) == expected
    registry = filter_specs()
    for t in types:
        assert registry[t] is BY_TYPE[t]


@pytest.mark.parametrize("spec", SPECS, ids=lambda sp: sp.type)
def test_spec_defaults_validate_and_match_function(spec) -> None:
    import inspect

    sig = inspect.signature(spec.fn)
    for p in spec.params:
        assert p.validate(p.default) == p.default
        assert p.doc, f"{spec.type}.{p.name} lacks a doc string"
        # the Python default of the function equals the spec default
        fdef = sig.parameters[p.name].default
        if p.kind == "color":
            assert tuple(fdef) == pytest.approx(p.default)
        else:
            assert fdef == pytest.approx(p.default) if p.kind == "float" else fdef == p.default
    for port in spec.inputs:
        assert port.name in sig.parameters
    assert spec.doc


def _graph_kwargs(spec, batch: int, seed: int) -> dict:
    """Inputs and params as the graph passes them; batched params are random in range."""
    g = torch.Generator().manual_seed(seed)
    kw: dict = {}
    for port in spec.inputs:
        ch = 1 if port.channels == "gray" else 3
        kw[port.name] = torch.rand((batch, ch, 5, 5), generator=g)
    for p in spec.params:
        if p.kind == "float":
            kw[p.name] = p.low + (p.high - p.low) * torch.rand((batch,), generator=g)
        elif p.kind == "color":
            kw[p.name] = torch.rand((batch, 3), generator=g)
        else:
            kw[p.name] = p.default
    if not spec.inputs:
        kw.update(res=5, batch=batch, device=torch.device("cpu"))
    return kw


def _slice(kw: dict, b: int) -> dict:
    out = {}
    for k, v in kw.items():
        if torch.is_tensor(v):
            out[k] = v[b : b + 1] if v.dim() == 4 else v[b]
        elif k == "batch":
            out[k] = 1
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda sp: sp.type)
def test_batched_params_match_per_sample_runs(spec) -> None:
    kw = _graph_kwargs(spec, batch=2, seed=3)
    out = spec.fn(**kw)
    outs = out if isinstance(out, dict) else {"output": out}
    assert tuple(outs) == spec.outputs
    for b in range(2):
        single = spec.fn(**_slice(kw, b))
        singles = single if isinstance(single, dict) else {"output": single}
        for name in spec.outputs:
            assert outs[name].shape[0] == 2 and outs[name].shape[2:] == (5, 5)
            assert outs[name].dtype == torch.float32
            assert torch.allclose(outs[name][b : b + 1], singles[name].expand_as(outs[name][b : b + 1]), atol=1e-6)


@pytest.mark.parametrize(
    "type_", ["levels", "curve", "hsl", "brightness_contrast", "histogram_scan", "histogram_range", "clamp", "pow"]
)
def test_defaults_are_identity(type_) -> None:
    spec = BY_TYPE[type_]
    x = rand((2, 3, 4, 4), 0.0, 1.0, seed=1).float()
    kw = {p.name: torch.tensor(p.default) for p in spec.params}
    close(spec.fn(x, **kw), x, atol=1e-5)


def test_gradient_map_defaults_reproduce_gray() -> None:
    x = rand((1, 1, 4, 4), 0.0, 1.0)
    out = C.gradient_map(x)
    assert out.shape == (1, 3, 4, 4)
    close(out, x.expand(-1, 3, -1, -1))


# ------------------------------------------------------------------- blend
@pytest.mark.parametrize(
    "mode,fg,bg,expected",
    [
        ("copy", 0.3, 0.8, 0.3),
        ("add", 0.5, 0.4, 0.9),
        ("add", 0.7, 0.6, 1.0),
        ("subtract", 0.2, 0.6, 0.4),
        ("subtract", 0.6, 0.2, 0.0),
        ("multiply", 0.5, 0.4, 0.2),
        ("screen", 0.5, 0.4, 0.7),
        ("overlay", 0.5, 0.4, 0.4),
        ("overlay", 0.3, 0.8, 0.72),
        ("max", 0.3, 0.8, 0.8),
        ("min", 0.3, 0.8, 0.3),
        ("switch", 0.3, 0.8, 0.3),
        ("soft_light", 0.25, 0.5, 0.375),
        ("soft_light", 0.5, 0.3, 0.3),
    ],
)
def test_blend_formulas(mode, fg, bg, expected) -> None:
    close(C.blend(row(fg), row(bg), mode=mode, opacity=s(1.0)), row(expected))


def test_blend_opacity_mask_and_switch() -> None:
    fg, bg = row(0.2, 0.2, 0.2), row(0.6, 0.6, 0.6)
    mask = row(0.0, 0.5, 1.0)
    close(C.blend(fg, bg, mode="copy", opacity=s(0.5)), row(0.4, 0.4, 0.4))
    close(C.blend(fg, bg, mask, mode="copy", opacity=s(1.0)), row(0.6, 0.4, 0.2))
    close(C.blend(fg, bg, mask, mode="multiply", opacity=s(0.5)), row(0.6, 0.6 - 0.25 * 0.48, 0.6 - 0.5 * 0.48))
    # switch ignores the mask: a plain crossfade by opacity
    close(C.blend(fg, bg, mask, mode="switch", opacity=s(0.25)), row(0.5, 0.5, 0.5))


def test_blend_broadcasts_gray_and_color() -> None:
    fg = row(0.5)
    bg = pixels((0.2, 0.4, 0.8))
    out = C.blend(fg, bg, mode="multiply")
    assert out.shape == (1, 3, 1, 1)
    close(out, pixels((0.1, 0.2, 0.4)))
    out = C.blend(bg, fg, row(1.0), mode="add", opacity=s(0.5))
    close(out, pixels((0.6, 0.7, 0.9)))


def test_blend_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown mode 'darken'"):
        C.blend(row(0.1), row(0.2), mode="darken")


@pytest.mark.parametrize("mode", C.BLEND_MODES)
def test_blend_gradcheck(mode) -> None:
    fg = rand((1, 3, 3, 3), 0.05, 0.45, seed=1)
    bg = rand((1, 1, 3, 3), 0.05, 0.95, seed=2)
    mask = rand((1, 1, 3, 3), 0.1, 0.9, seed=3)
    if mode == "switch":  # switch ignores the mask by design
        check_grad(C.blend, {"foreground": fg, "background": bg, "opacity": s(0.7)}, mode=mode, mask=mask)
    else:
        check_grad(C.blend, {"foreground": fg, "background": bg, "mask": mask, "opacity": s(0.7)}, mode=mode)


# ------------------------------------------------------------------ levels
def test_levels_values() -> None:
    kw = dict(in_low=s(0.2), in_high=s(0.8), in_mid=s(0.5), out_low=s(0.1), out_high=s(0.9))
    close(T.levels(row(0.2, 0.8, 0.5, 0.0, 1.0), **kw), row(0.1, 0.9, 0.5, 0.1, 0.9))
    # the midtone: normalized input in_mid becomes 50 % of the output range
    kw["in_mid"] = s(0.25)
    close(T.levels(row(0.2 + 0.6 * 0.25, 0.2 + 0.6 * 0.0625), **kw), row(0.5, 0.1 + 0.8 * 0.25))
    # in_low > in_high inverts
    close(T.levels(row(0.0, 0.25, 1.0), in_low=s(1.0), in_high=s(0.0)), row(1.0, 0.75, 0.0))


def test_levels_gradcheck() -> None:
    x = rand((1, 1, 5, 5), 0.0, 1.0)
    params = dict(in_low=s(0.1), in_high=s(0.85), in_mid=s(0.4), out_low=s(0.2), out_high=s(0.9))
    check_grad(T.levels, {"input": x, **params})


def test_levels_gradient_finite_at_zero() -> None:
    x = row(0.1, 0.3).requires_grad_(True)
    mid = s(0.2).requires_grad_(True)
    T.levels(x, in_low=s(0.1), in_mid=mid).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(mid.grad).all()


# ------------------------------------------------------------------- curve
CURVE_X = (0.9, 0.1, 0.6, 0.35)
CURVE_Y = (0.95, 0.05, 0.8, 0.3)


def _curve_kw(xs=CURVE_X, ys=CURVE_Y) -> dict:
    kw = {f"x{k + 1}": s(v) for k, v in enumerate(xs)}
    kw.update({f"y{k + 1}": s(v) for k, v in enumerate(ys)})
    return kw


def test_curve_passes_through_points_and_is_flat_outside() -> None:
    out = T.curve(row(0.1, 0.35, 0.6, 0.9, 0.0, 0.05, 0.95, 1.0), **_curve_kw())
    close(out, row(0.05, 0.3, 0.8, 0.95, 0.05, 0.05, 0.95, 0.95))


def test_curve_is_monotone_without_overshoot() -> None:
    x = torch.linspace(0, 1, 201, dtype=D).view(1, 1, 1, -1)
    out = T.curve(x, **_curve_kw()).flatten()
    assert (out[1:] - out[:-1] >= -1e-12).all()
    seg = (x.flatten() >= 0.35) & (x.flatten() <= 0.6)
    assert out[seg].min() >= 0.3 - 1e-12 and out[seg].max() <= 0.8 + 1e-12


def test_curve_order_of_points_does_not_matter() -> None:
    x = rand((1, 1, 4, 4), 0.0, 1.0)
    order = (2, 0, 3, 1)
    a = T.curve(x, **_curve_kw())
    b = T.curve(x, **_curve_kw([CURVE_X[k] for k in order], [CURVE_Y[k] for k in order]))
    close(a, b, atol=1e-12)


def test_curve_gradcheck() -> None:
    x = rand((1, 1, 5, 5), 0.0, 1.0, seed=4)
    check_grad(T.curve, {"input": x, **_curve_kw()})


# ------------------------------------------------------------ gradient map
STOP_POS = (0.6, 0.1, 0.9, 0.4)
STOP_COL = ((0.9, 0.2, 0.1), (0.1, 0.3, 0.7), (0.2, 0.8, 0.4), (0.5, 0.5, 0.1))


def _gm_kw(pos=STOP_POS, cols=STOP_COL) -> dict:
    kw = {f"pos_{k + 1}": s(p) for k, p in enumerate(pos)}
    kw.update({f"color_{k + 1}": v3(*c) for k, c in enumerate(cols)})
    return kw


def test_gradient_map_values() -> None:
    out = C.gradient_map(row(0.1, 0.4, 0.6, 0.9, 0.25, 0.0, 1.0), **_gm_kw())
    assert out.shape == (1, 3, 1, 7)
    mid = tuple((a + b) / 2 for a, b in zip(STOP_COL[1], STOP_COL[3]))
    expected = pixels(STOP_COL[1], STOP_COL[3], STOP_COL[0], STOP_COL[2], mid, STOP_COL[1], STOP_COL[2])
    close(out, expected)


def test_gradient_map_stop_order_does_not_matter() -> None:
    x = rand((1, 1, 4, 4), 0.0, 1.0)
    order = (3, 1, 0, 2)
    a = C.gradient_map(x, **_gm_kw())
    b = C.gradient_map(x, **_gm_kw([STOP_POS[k] for k in order], [STOP_COL[k] for k in order]))
    close(a, b, atol=1e-12)


def test_gradient_map_gradcheck() -> None:
    x = rand((1, 1, 4, 4), 0.0, 1.0, seed=5)
    check_grad(C.gradient_map, {"input": x, **_gm_kw()})


# --------------------------------------------------------------------- hsl
def test_hsl_hue_rotates_primaries() -> None:
    x = pixels((1, 0, 0), (0, 1, 0), (0, 0, 1))
    close(C.hsl(x, hue=s(0.5 + 1 / 3)), pixels((0, 1, 0), (0, 0, 1), (1, 0, 0)), atol=1e-12)
    close(C.hsl(x, hue=s(0.5 - 1 / 3)), pixels((0, 0, 1), (1, 0, 0), (0, 1, 0)), atol=1e-12)


def test_hsl_saturation_and_lightness() -> None:
    x = pixels((0.2, 0.4, 0.6), (0.5, 0.5, 0.5))
    close(C.hsl(x, saturation=s(0.0)), pixels((0.4, 0.4, 0.4), (0.5, 0.5, 0.5)))
    close(C.hsl(x, saturation=s(0.75)), pixels((0.1, 0.4, 0.7), (0.5, 0.5, 0.5)))
    close(C.hsl(x, lightness=s(0.0)), torch.zeros_like(x))
    close(C.hsl(x, lightness=s(1.0)), torch.ones_like(x))
    close(C.hsl(x, lightness=s(0.75)), pixels((0.6, 0.7, 0.8), (0.75, 0.75, 0.75)))
    close(C.hsl(x, lightness=s(0.25)), pixels((0.1, 0.2, 0.3), (0.25, 0.25, 0.25)))


@pytest.mark.parametrize("lightness", [0.35, 0.65])
def test_hsl_gradcheck(lightness) -> None:
    x = rand((1, 3, 3, 3), 0.3, 0.7, seed=6)
    check_grad(C.hsl, {"input": x, "hue": s(0.58), "saturation": s(0.45), "lightness": s(lightness)})


def test_hsl_gradient_finite_on_gray() -> None:
    x = torch.full((1, 3, 2, 2), 0.5, dtype=D, requires_grad=True)
    hue = s(0.7).requires_grad_(True)
    C.hsl(x, hue=hue, saturation=s(0.8)).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(hue.grad).all()


# ------------------------------------------------------ brightness/contrast
def test_brightness_contrast_values() -> None:
    close(T.brightness_contrast(row(0.3), brightness=s(0.1)), row(0.4))
    close(T.brightness_contrast(row(0.51, 0.55, 0.45), contrast=s(1.0)), row(0.7, 1.0, 0.0))
    close(T.brightness_contrast(row(0.9, 0.1), contrast=s(-1.0)), row(0.52, 0.48))


def test_brightness_contrast_gradcheck() -> None:
    x = rand((1, 1, 5, 5), 0.3, 0.7)
    check_grad(T.brightness_contrast, {"input": x, "brightness": s(0.05), "contrast": s(0.2)})


# ------------------------------------------------------------------ invert
def test_invert() -> None:
    close(T.invert(pixels((0.3, 0.0, 1.0))), pixels((0.7, 1.0, 0.0)))
    check_grad(T.invert, {"input": rand((1, 3, 3, 3))})


# --------------------------------------------------------------- threshold
def test_threshold_values() -> None:
    out = T.threshold(row(0.45, 0.55, 0.35, 0.0), threshold=s(0.45), softness=s(0.1))
    sig = 1 / (1 + math.exp(-1))
    close(out, row(0.5, sig, 1 - sig, 1 / (1 + math.exp(4.5))))


def test_threshold_gradcheck() -> None:
    check_grad(T.threshold, {"input": rand((1, 1, 5, 5)), "threshold": s(0.45), "softness": s(0.1)})


# --------------------------------------------------------- histogram scan
def test_histogram_scan_values() -> None:
    x = row(0.01, 0.25, 0.5, 0.625, 0.69, 0.71, 0.99)
    close(T.histogram_scan(x, position=s(0.0)), torch.zeros_like(x))
    close(T.histogram_scan(x, position=s(1.0)), torch.ones_like(x))
    close(T.histogram_scan(x, position=s(0.5), contrast=s(0.5)), row(0.0, 0.0, 0.5, 0.75, 0.88, 0.92, 1.0))
    close(T.histogram_scan(x, position=s(0.3), contrast=s(1.0)), row(0, 0, 0, 0, 0, 1, 1))


def test_histogram_scan_gradcheck() -> None:
    check_grad(T.histogram_scan, {"input": rand((1, 1, 5, 5)), "position": s(0.55), "contrast": s(0.3)})


# -------------------------------------------------------- histogram range
def test_histogram_range_values() -> None:
    close(T.histogram_range(row(0.0, 1.0, 0.2), range=s(0.5), position=s(0.2)), row(0.1, 0.6, 0.2))


def test_histogram_range_gradcheck() -> None:
    check_grad(T.histogram_range, {"input": rand((1, 1, 5, 5)), "range": s(0.6), "position": s(0.3)})


# --------------------------------------------------------------- grayscale
def test_grayscale_values() -> None:
    x = pixels((1.0, 0.0, 0.0), (0.2, 0.4, 0.6))
    close(C.grayscale(x, r=s(0.3), g=s(0.5), b=s(0.2)), row(0.3, 0.06 + 0.2 + 0.12))
    close(C.grayscale(x), row(0.2126, 0.2126 * 0.2 + 0.7152 * 0.4 + 0.0722 * 0.6))
    close(C.grayscale(row(0.5), r=s(0.5), g=s(0.5), b=s(0.5)), row(0.75))


def test_grayscale_gradcheck() -> None:
    check_grad(C.grayscale, {"input": rand((1, 3, 3, 3)), "r": s(0.3), "g": s(0.4), "b": s(0.2)})


# ---------------------------------------------------------------- uniform
def test_uniform_color_and_gray() -> None:
    out = C.uniform_color(v3(0.1, 0.2, 0.3), res=4, batch=2, device=torch.device("cpu"))
    assert out.shape == (2, 3, 4, 4) and out.dtype == D
    close(out[:, :, 2, 1], torch.tensor([[0.1, 0.2, 0.3]] * 2, dtype=D))
    batched = C.uniform_color(torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), res=3, batch=2)
    assert batched.shape == (2, 3, 3, 3)
    close(batched[1, :, 0, 0], torch.tensor([0.4, 0.5, 0.6]), atol=1e-7)
    gray = C.uniform_gray(s(0.7), res=3, batch=1)
    assert gray.shape == (1, 1, 3, 3)
    close(gray, torch.full((1, 1, 3, 3), 0.7, dtype=D))
    gray_b = C.uniform_gray(torch.tensor([0.2, 0.9]), res=2, batch=2)
    close(gray_b[:, 0, 0, 0], torch.tensor([0.2, 0.9]), atol=1e-7)


def test_uniform_gradcheck() -> None:
    check_grad(C.uniform_color, {"color": v3(0.1, 0.5, 0.9)}, res=2, batch=2)
    check_grad(C.uniform_gray, {"value": s(0.4)}, res=2, batch=1)


# ----------------------------------------------------------- color to mask
def test_color_to_mask_values() -> None:
    key = v3(0.5, 0.5, 0.5)
    x = pixels((0.5, 0.5, 0.5), (0.6, 0.6, 0.6), (0.0, 1.0, 0.0))
    out = C.color_to_mask(x, key=key, range=s(0.1), softness=s(0.02))
    assert out.shape == (1, 1, 1, 3)
    close(out, row(1 / (1 + math.exp(-5.0)), 0.5, 1 / (1 + math.exp((math.sqrt(0.5 / 3) - 0.1) / 0.02))), atol=1e-6)


def test_color_to_mask_gradcheck() -> None:
    check_grad(
        C.color_to_mask,
        {"input": rand((1, 3, 3, 3)), "key": v3(0.5, 0.4, 0.3), "range": s(0.2), "softness": s(0.1)},
    )


# ------------------------------------------------------------------- clamp
def test_clamp_values() -> None:
    x = row(0.1, 0.5, 0.9)
    close(T.clamp(x, low=s(0.3), high=s(0.7)), row(0.3, 0.5, 0.7))
    close(T.clamp(x, low=s(0.8), high=s(0.6)), row(0.6, 0.6, 0.6))


def test_clamp_gradcheck() -> None:
    check_grad(T.clamp, {"input": rand((1, 1, 5, 5), 0.0, 1.0), "low": s(0.3), "high": s(0.7)})


# --------------------------------------------------------------------- pow
def test_pow_values_and_zero() -> None:
    close(T.pow(row(0.25, 0.0, -0.5), exponent=s(2.0)), row(0.0625, 0.0, 0.0))
    close(T.pow(row(0.25), exponent=s(0.5)), row(0.5))
    x = row(0.0, 0.5).requires_grad_(True)
    e = s(0.3).requires_grad_(True)
    T.pow(x, exponent=e).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(e.grad).all()


@pytest.mark.parametrize("exponent", [0.4, 2.3])
def test_pow_gradcheck(exponent) -> None:
    check_grad(T.pow, {"input": rand((1, 1, 5, 5)), "exponent": s(exponent)})


# ------------------------------------------------------------ split/merge
def test_rgb_split_merge_roundtrip() -> None:
    x = pixels((0.1, 0.2, 0.3), (0.4, 0.5, 0.6))
    parts = C.rgb_split(x)
    assert set(parts) == {"r", "g", "b"}
    close(parts["g"], row(0.2, 0.5))
    close(C.rgb_merge(**parts), x)
    gray = C.rgb_split(row(0.7))
    close(gray["b"], row(0.7))


def test_rgb_split_merge_gradcheck() -> None:
    check_grad(C.rgb_split, {"input": rand((1, 3, 3, 3))})
    grays = {name: rand((1, 1, 3, 3), seed=k) for k, name in enumerate("rgb")}
    check_grad(C.rgb_merge, grays)
