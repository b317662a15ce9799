"""Direct gradients: every parameter a generator declares ``direct`` gets from autograd the gradient that
finite differences give, at random points of its range, and only with ``grad=True``."""

import pytest
import torch

from proxymat.nodes.registry import generator_specs

DIRECT = sorted(name for name, spec in generator_specs().items() if spec.direct)
MASKS = ["pptbf_mask_cellular", "pptbf_mask_cellular_coarse"]  # binary maps: checked as slopes (below)
RES = 64


def _point(spec, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random values inside each parameter's sampling box (or range), enums at a random choice;
    a PPTBF family's pinned parameters at their values (they define the family)."""
    out = {}
    for p in spec.params:
        lo, hi = spec.sample_box.get(p.name, (p.low, p.high))
        v = lo + (hi - lo) * float(torch.rand((), generator=gen))
        if spec.name.startswith("pptbf") and p.name in spec.fixed:
            v = float(spec.fixed[p.name])
        out[p.name] = torch.tensor([round(v) if p.discrete else v], dtype=torch.float32)
    return out


def test_the_generators_with_direct_gradients():
    assert DIRECT == ["arc_pavement", "brick_generator", "cells", "clouds", "perlin_noise", "pptbf",
                      "pptbf_mask_cellular", "pptbf_mask_cellular_coarse", "scratches",
                      "tile_disc", "tile_generator", "tile_paraboloid", "tile_square"]
    for name in DIRECT:
        spec = generator_specs()[name]
        assert set(spec.direct) <= {p.name for p in spec.params if not p.discrete}, name


@pytest.mark.parametrize("name", [n for n in DIRECT if n not in MASKS])
def test_direct_gradients_match_finite_differences(name):
    spec = generator_specs()[name]
    gen = torch.Generator().manual_seed(7)
    checked = 0
    for trial in range(3):
        point = _point(spec, gen)
        if name == "cells":  # every style but cell_random (whose values only jump), no per-cell darkening (below)
            point["style"] = torch.tensor([(0.0, 2.0, 3.0)[trial]])
            point["luminance_random"] = torch.tensor([0.0])
        weight = torch.rand(1, 1, RES, RES, generator=gen)
        for key in spec.direct:
            p = spec.param(key)
            lo, hi = spec.sample_box.get(key, (p.low, p.high))
            x = point[key].clamp(lo + 0.02 * (hi - lo), hi - 0.02 * (hi - lo)).requires_grad_(True)
            out = spec({**point, key: x}, RES, seed=3, grad=True)
            g = torch.autograd.grad((out * weight).sum(), x)[0] if out.requires_grad else 0.0  # no effect here
            h = 1e-3 * (p.high - p.low)
            with torch.no_grad():
                up = (spec({**point, key: x + h}, RES, seed=3) * weight).sum()
                down = (spec({**point, key: x - h}, RES, seed=3) * weight).sum()
            fd = float(up - down) / (2 * h)
            assert float(g) == pytest.approx(fd, rel=0.05, abs=0.5), (name, key, trial, float(g), fd)
            checked += abs(fd) > 0.5
    assert checked >= len(spec.direct)  # most checks compare gradients that are not both ~0


@pytest.mark.slow
@pytest.mark.parametrize("name, trials", [("pptbf_mask_cellular", 2), ("pptbf_mask_cellular_coarse", 1)])
def test_mask_gradients_follow_the_slope_over_a_few_pixels_of_border_motion(name, trials):
    """A mask's value only moves on its 1-pixel edge ramp, and its forward pass jitters: single pixels flip
    and the ramp's white area wanders by ~0.05 % of the image. So the check is the least-squares slope of
    the weighted image over 9 points spanning 10 % of the parameter's box (borders move by a pixel or so)
    against the mean autograd gradient at those points, at 256 px, with a smooth zero-mean weight (a
    constant part would only weigh the wandering white area)."""
    spec = generator_specs()[name]
    gen = torch.Generator().manual_seed(7)
    res = 256
    c = (torch.arange(res) + 0.5) / res
    for trial in range(trials):
        point = _point(spec, gen)
        f1, f2, phase = (float(v) for v in torch.rand(3, generator=gen))
        weight = torch.sin(2 * torch.pi * ((1 + 2 * f1) * c[None, :] + (1 + 2 * f2) * c[:, None] + phase))
        for key in spec.direct:
            lo, hi = spec.sample_box[key]
            span = 0.05 * (hi - lo)
            xs = float(point[key].clamp(lo + span, hi - span)) + span * torch.linspace(-1.0, 1.0, 9)
            values, grads = [], []
            for x in xs:
                x = x.reshape(1).requires_grad_(True)
                value = (spec({**point, key: x}, res, seed=3, grad=True) * weight).sum()
                values.append(float(value))
                grads.append(float(torch.autograd.grad(value, x)[0]) if value.requires_grad else 0.0)  # hard fallback
            dx, dv = xs - xs.mean(), torch.tensor(values) - sum(values) / 9
            slope = float((dx * dv).sum() / (dx * dx).sum())
            assert sum(grads) / 9 == pytest.approx(slope, rel=0.2, abs=30.0), (name, key, trial, grads, slope)


@pytest.mark.parametrize("style", [0.0, 2.0, 3.0])
def test_cells_borders_moving_between_darkened_cells_get_their_gradient(style):
    """With per-cell darkening the value jumps at the borders that ``disorder`` moves: a hard lookup's
    gradient misses that; the softmax lookup gives the derivative of the pixel-averaged image (finite
    differences over a step that moves borders by a few pixels)."""
    spec = generator_specs()["cells"]
    point = {"scale": torch.tensor([8.0]), "style": torch.tensor([style]), "luminance_random": torch.tensor([0.5]),
             "edge_width": torch.tensor([0.2])}
    weight = torch.rand(1, 1, 256, 256, generator=torch.Generator().manual_seed(1))
    x = torch.tensor([0.6], requires_grad=True)
    (g,) = torch.autograd.grad((spec({**point, "disorder": x}, 256, seed=3, grad=True) * weight).sum(), x)
    with torch.no_grad():
        up, down = (float((spec({**point, "disorder": x + d}, 256, seed=3) * weight).sum()) for d in (0.01, -0.01))
    assert float(g) == pytest.approx((up - down) / 0.02, rel=0.05)


def test_without_grad_the_generator_keeps_no_graph():
    spec = generator_specs()["cells"]
    x = torch.tensor([0.5], requires_grad=True)
    assert not spec({"disorder": x}, RES, seed=1).requires_grad
    assert spec({"disorder": x}, RES, seed=1, grad=True).requires_grad
    with torch.no_grad():
        assert not spec({"disorder": x}, RES, seed=1, grad=True).requires_grad


@pytest.mark.parametrize("pattern", ["disc", "thorn", "cone"])
def test_tile_shapes_with_a_square_root_have_finite_gradients_at_tile_centres(pattern):
    """16 tiles over 16 px put every pixel centre exactly on a tile centre (r = 0, where sqrt has no derivative)."""
    spec = generator_specs()["tile_generator"]
    point = {"x_amount": torch.tensor([16.0]), "y_amount": torch.tensor([16.0]), "interstice_x": torch.tensor([0.3]),
             "pattern": torch.tensor([float(spec.param("pattern").choices.index(pattern))])}
    x = torch.tensor([0.8], requires_grad=True)
    (g,) = torch.autograd.grad(spec({**point, "scale": x}, 16, seed=1, grad=True).sum(), x)
    assert torch.isfinite(g).all()


def test_tile_background_under_max_blending_moves_the_gaps_over_a_black_background():
    """Tiles and a black background tie at 0 in the gaps: raising the background brightens every gap pixel."""
    spec = generator_specs()["tile_square"]
    point = {"interstice_x": torch.tensor([0.3]), "interstice_y": torch.tensor([0.2]), "blending_mode": torch.tensor([1.0])}
    x = torch.tensor([0.0], requires_grad=True)
    (g,) = torch.autograd.grad(spec({**point, "background": x}, RES, seed=1, grad=True).sum(), x)
    with torch.no_grad():
        up, at = (float(spec({**point, "background": x + d}, RES, seed=1).sum()) for d in (1e-3, 0.0))
    assert float(g) == pytest.approx((up - at) / 1e-3, rel=0.01)
    assert float(g) > 0.1 * RES * RES  # the gap pixels no tile edge reaches


def test_square_roots_at_zero_give_zero_gradients_not_nan():
    """A Bézier-smoothed border evaluated where the ray hits the corner-cut midpoint takes sqrt(0):
    this point, met by Adam in E4, made NaN gradients; ``root`` keeps the values and gives 0 there."""
    from proxymat.nodes.generators.pptbf_windows import root

    x = torch.tensor([0.0, 4.0], requires_grad=True)
    y = root(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert y.tolist() == [0.0, 2.0] and g.tolist() == [0.0, 0.25]
    spec = generator_specs()["pptbf_mask_cellular"]
    point = {"threshold": 0.4971259832382202, "jitter": 0.2595067620277405, "zoom": 3.6708741188049316,
             "aspect": 2.347811698913574, "distortion_amplitude": 0.07999999821186066,
             "window_larp": 0.22232307493686676, "window_norm": 1.0, "window_smoothness": 1.0104877948760986,
             "window_blend": 0.7109841108322144, "window_sigma": 1.1859989166259766}
    leaves = {k: torch.tensor([float(v)], requires_grad=k in spec.direct) for k, v in {**spec.fixed, **point}.items()}
    out = spec(leaves, 128, seed=0, grad=True)
    grads = torch.autograd.grad(out.sum(), [leaves[k] for k in spec.direct], allow_unused=True)  # norm 1: no graph
    assert all(g is None or bool(torch.isfinite(g).all()) for g in grads)
