"""Contracts every registered node type keeps (see nodes/spec.py and nodes/generators/base.py).

Parametrized over the registry: a new node module is tested here without being
listed anywhere. Filters: gradcheck against every image input and every float,
colour and vec2 parameter, batch consistency, dtype/shape/channels/range,
tileability, determinism, a runnable docstring example. Generators: batch,
determinism, tileability, [0, 1] range, docstring example.
"""

from __future__ import annotations

import inspect
import json
import math

import pytest
import torch

from proxymat.nodes.filters import filter_specs
from proxymat.nodes.generators import generator_specs
from proxymat.nodes.spec import NodeSpec

FILTERS = filter_specs()
GENERATORS = generator_specs()
D = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")

# Declared exceptions (the specs carry them; asserting them here makes each new one a visible decision).
PIECEWISE = {("flood_fill_random", "threshold"), ("cell_random", "input"), ("color_variation", "regions")}
NOT_EQUIVARIANT = {"transform_2d", "mirror", "safe_transform", "tile_sampler"}
UNBOUNDED = {"sharpen", "highpass", "emboss"}
# Parameters at which a non-equivariant node's output tiles, where its defaults would not show it.
TILE_PARAMS = {"transform_2d": {"rotation": 0.25, "scale": (0.5, 0.5), "offset": (0.1, 0.3)}}


# ----------------------------------------------------------------- helpers
def seamless(img: torch.Tensor) -> bool:
    """The wrap-around seam is no stronger than the strongest interior row/column boundary.

    Mean absolute difference across the seam (last -> first column, and rows)
    against the same mean across every interior boundary: a tiling image's seam
    is one more boundary, a crop's seam is an outlier. Robust to regular cell
    patterns whose borders line up with the image edge.
    """
    for dim in (-1, -2):
        inner = img.diff(dim=dim).abs().transpose(dim, -1).reshape(-1, img.shape[dim] - 1).mean(0)
        seam = (img.select(dim, 0) - img.select(dim, -1)).abs().mean()
        if seam > 1.1 * inner.max() + 1e-4:
            return False
    return True


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _port_channels(channels: str, any_c: int) -> int:
    return {"gray": 1, "color": 3}.get(channels, any_c)


def _images(spec: NodeSpec, batch: int, res: int, seed: int, dtype=torch.float32, any_c: int = 3,
            optional: bool = True) -> dict[str, torch.Tensor | None]:
    """Random images in [0, 1] for every port (optional ports None unless ``optional``)."""
    out: dict[str, torch.Tensor | None] = {}
    for k, port in enumerate(spec.inputs):
        if port.optional and not optional:
            out[port.name] = None
            continue
        c = _port_channels(port.channels, any_c)
        out[port.name] = torch.rand(batch, c, res, res, generator=_gen(seed + 17 * k), dtype=dtype)
    return out


def _smooth_images(spec: NodeSpec, res: int) -> dict[str, torch.Tensor]:
    """Smooth periodic images (a few low cosines) for seam checks."""
    t = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    u, v = t.view(1, 1, 1, res), t.view(1, 1, res, 1)
    out = {}
    for k, port in enumerate(spec.inputs):
        c = _port_channels(port.channels, 3)
        chans = [0.5 + 0.2 * torch.cos(2 * math.pi * (u * (1 + j) + 2 * v + 0.3 * k + j)) * torch.cos(2 * math.pi * v)
                 for j in range(c)]
        out[port.name] = torch.cat([ch.expand(1, 1, res, res) for ch in chans], 1)
    return out


def _probe(p):
    """A value inside the range, off the default: defaults often sit on a kink (identity, clamp edge)."""
    if p.kind not in ("float", "color", "vec2"):
        return p.default
    target = p.low + 0.4 * (p.high - p.low)
    if p.kind == "float":
        return p.default + 0.15 * (target - p.default)
    return tuple(d + 0.15 * (target - d) for d in p.default)


def _continuous(spec: NodeSpec) -> list:
    return [p for p in spec.params if p.kind in ("float", "color", "vec2")]


def _as_arg(p, value, dtype=torch.float32):
    if p.kind in ("float", "color", "vec2"):
        return torch.tensor(value, dtype=dtype)
    return value


def _params(spec: NodeSpec, values: dict | None = None, dtype=torch.float32, probe: bool = True) -> dict:
    values = values or {}
    return {p.name: _as_arg(p, values.get(p.name, _probe(p) if probe else p.default), dtype) for p in spec.params}


def _call(spec: NodeSpec, images: dict, params: dict, res: int = 8, batch: int = 1) -> dict[str, torch.Tensor]:
    extra = {} if spec.inputs else {"res": res, "batch": batch, "device": torch.device("cpu")}
    out = spec.fn(**images, **params, **extra)
    return out if isinstance(out, dict) else {"output": out}


def _examples(doc: str | None) -> list[dict]:
    """The JSON node snippets of a docstring (lines that start with ``{"type":``)."""
    found = []
    for line in (doc or "").splitlines():
        line = line.strip()
        if line.startswith('{"type":'):
            found.append(json.loads(line))
    return found


def _docstring(fn) -> str:
    return inspect.getdoc(getattr(fn, "func", fn)) or ""


def _enum_variants(spec: NodeSpec) -> list[dict]:
    """{} (defaults) plus one dict per other choice of each enum or bool parameter."""
    variants: list[dict] = [{}]
    for p in spec.params:
        if p.kind == "enum":
            variants += [{p.name: c} for c in p.choices if c != p.default]
        elif p.kind == "bool":
            variants.append({p.name: not p.default})
    return variants


def _expected_channels(spec: NodeSpec, name: str, images: dict) -> int:
    kind = spec.channels_of(name)
    if kind != "any":
        return _port_channels(kind, 0)
    present = {k: x for k, x in images.items() if x is not None}
    free = [x.shape[1] for k, x in present.items() if spec.port(k).channels == "any"]
    widths = free or [x.shape[1] for x in present.values()]
    assert widths, f"{spec.type}: an input-less node must declare its output channels"
    return max(widths)


# ------------------------------------------------------------ filter specs
FILTER_TYPES = sorted(FILTERS)


def test_declared_exceptions_are_exactly_the_listed_ones():
    assert {(t, n) for t, s in FILTERS.items() for n in s.piecewise} == PIECEWISE
    assert {t for t, s in FILTERS.items() if not s.shift_equivariant} == NOT_EQUIVARIANT
    assert {t for t, s in FILTERS.items() if not s.bounded} == UNBOUNDED


@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_spec_matches_function(type_):
    spec = FILTERS[type_]
    sig = inspect.signature(spec.fn).parameters
    for port in spec.inputs:
        assert port.name in sig, port.name
        if port.optional:
            assert sig[port.name].default is None, port.name
    for p in spec.params:
        assert p.name in sig and p.doc, p.name
        default = sig[p.name].default
        if p.kind in ("color", "vec2"):
            assert tuple(default) == pytest.approx(p.default), p.name
        elif p.kind == "float":
            assert default == pytest.approx(p.default), p.name
        else:
            assert default == p.default, p.name
    assert len(spec.output_channels) == len(spec.outputs)
    assert set(spec.output_channels) <= {"gray", "color", "any"}
    ports = {p.name for p in spec.inputs}
    for name in spec.piecewise:
        assert name in ports or spec.param(name).kind == "float", name
    if not spec.inputs:
        assert "any" not in spec.output_channels


# --------------------------------------------------------------- gradients
def _grad_setup(spec: NodeSpec, variant: dict):
    """Leaves (images at 8 px, 16 px patterns for input-less nodes; smooth float params) and a function of them."""
    res = 8 if spec.inputs else 16
    images = _images(spec, 1, res, seed=1, dtype=D)
    smooth = [p for p in _continuous(spec) if p.name not in spec.piecewise]
    image_names = [k for k, v in images.items() if v is not None and k not in spec.piecewise]
    names = image_names + [p.name for p in smooth]
    leaves = [images[k] for k in image_names] + [torch.tensor(_probe(p), dtype=D) for p in smooth]
    leaves = [t.clone().requires_grad_(True) for t in leaves]
    fixed = {k: v for k, v in _params(spec, variant, dtype=D).items() if k not in names}

    def fn(*args):
        outs = _call(spec, {**images, **dict(zip(names, args))}, fixed, res=res)
        return tuple(outs[n] for n in spec.outputs)

    return names, leaves, fn


@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_gradcheck_inputs_and_float_params(type_):
    spec = FILTERS[type_]
    names, leaves, fn = _grad_setup(spec, {})
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)
    # Every leaf really reaches the output in some variant (guards against a detached input or parameter;
    # a parameter may be inert in one mode, e.g. the rotation of a disc).
    reached = set()
    for variant in _enum_variants(spec):
        names, leaves, fn = _grad_setup(spec, variant)
        outs = fn(*leaves)
        total = sum((o * torch.rand(o.shape, generator=_gen(5), dtype=D)).sum() for o in outs)
        grads = torch.autograd.grad(total, leaves, allow_unused=True)
        reached |= {n for n, g in zip(names, grads) if g is not None and g.abs().sum() > 1e-9}
    assert reached == set(names), f"{type_}: no gradient reaches {set(names) - reached}"


@pytest.mark.parametrize("type_", sorted({t for t, _ in PIECEWISE} & set(FILTERS)))
def test_piecewise_params_and_inputs_give_finite_outputs_and_gradients(type_):
    spec = FILTERS[type_]
    images = {k: v for k, v in _images(spec, 1, 8, seed=2, dtype=D).items() if v is not None}
    leaves = [v.requires_grad_(True) for k, v in images.items() if k not in spec.piecewise]
    ports = {p.name for p in spec.inputs}
    cases = [(name, value) for name in spec.piecewise if name not in ports
             for value in torch.linspace(spec.param(name).low, spec.param(name).high, 7).tolist()]
    for name, value in cases or [(None, None)]:
        outs = _call(spec, images, _params(spec, {} if name is None else {name: value}, dtype=D))
        total = sum(o.sum() for o in outs.values())
        assert torch.isfinite(total), (name, value)
        if leaves:
            grads = torch.autograd.grad(total, leaves)
            assert all(torch.isfinite(g).all() for g in grads), (name, value)


# ------------------------------------------------------------------- batch
def _random_params(spec: NodeSpec, batch: int, seed: int) -> dict:
    g = _gen(seed)
    out = {}
    for p in spec.params:
        if p.kind == "float":
            out[p.name] = p.low + (p.high - p.low) * torch.rand(batch, generator=g)
        elif p.kind in ("color", "vec2"):
            out[p.name] = p.low + (p.high - p.low) * torch.rand(batch, p.size, generator=g)
        else:
            out[p.name] = p.default
    return out


@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_batch_of_two_equals_two_single_calls(type_):
    spec = FILTERS[type_]
    images = _images(spec, 2, 8, seed=3)
    params = _random_params(spec, 2, seed=4)
    outs = _call(spec, images, params, batch=2)
    for b in range(2):
        one = _call(spec, {k: None if v is None else v[b:b + 1] for k, v in images.items()},
                    {k: v[b] if torch.is_tensor(v) else v for k, v in params.items()}, batch=1)
        for name in spec.outputs:
            assert outs[name].shape[0] == 2
            torch.testing.assert_close(outs[name][b:b + 1], one[name], atol=2e-5, rtol=1e-4, msg=f"{type_}.{name}[{b}]")


# ------------------------------------------------- dtype, shape and range
@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_dtype_shape_channels_and_range(type_):
    spec = FILTERS[type_]
    for any_c in (1, 3):
        for optional in (True, False):
            for variant in _enum_variants(spec):
                for probe in (True, False):
                    images = _images(spec, 2, 8, seed=6, any_c=any_c, optional=optional)
                    outs = _call(spec, images, _params(spec, variant, probe=probe), batch=2)
                    assert tuple(outs) == spec.outputs
                    for name, out in outs.items():
                        where = f"{type_}.{name} {variant} any_c={any_c} optional={optional}"
                        assert out.dtype == torch.float32, where
                        c = _expected_channels(spec, name, images)
                        assert tuple(out.shape) == (2, c, 8, 8), where
                        assert torch.isfinite(out).all(), where
                        if spec.bounded:
                            assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6, where


def test_unbounded_nodes_do_leave_the_unit_range():
    """The declaration is needed: each unbounded node really leaves [0, 1] on some input."""
    for type_ in UNBOUNDED:
        spec = FILTERS[type_]
        images = {k: v.round() for k, v in _images(spec, 1, 16, seed=7).items() if v is not None}
        outs = _call(spec, images, _params(spec))
        assert outs["output"].min() < 0 or outs["output"].max() > 1, type_


# ------------------------------------------------------------ tileability
@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_tileable(type_):
    spec = FILTERS[type_]
    params = _params(spec, TILE_PARAMS.get(type_))
    if spec.shift_equivariant and spec.inputs:
        images = _images(spec, 1, 16, seed=8)
        outs = _call(spec, images, params)
        shifted = _call(spec, {k: torch.roll(v, (5, -3), (-2, -1)) for k, v in images.items()}, params)
        for name in spec.outputs:
            back = torch.roll(shifted[name], (-5, 3), (-2, -1))
            torch.testing.assert_close(back, outs[name], atol=2e-5, rtol=1e-4, msg=f"{type_}.{name}")
    else:
        outs = _call(spec, _smooth_images(spec, 64), params, res=64)
        for name in spec.outputs:
            assert seamless(outs[name]), f"{type_}.{name} has a seam"


# ------------------------------------------------------------ determinism
@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_deterministic(type_):
    spec = FILTERS[type_]
    images = _images(spec, 2, 8, seed=9)
    a = _call(spec, images, _params(spec), batch=2)
    b = _call(spec, {k: None if v is None else v.clone() for k, v in images.items()}, _params(spec), batch=2)
    for name in spec.outputs:
        assert torch.equal(a[name], b[name]), name


# ------------------------------------------------------- docstring examples
@pytest.mark.parametrize("type_", FILTER_TYPES)
def test_filter_docstring_example_is_valid_and_runs(type_):
    spec = FILTERS[type_]
    examples = [ex for ex in _examples(_docstring(spec.fn)) if ex["type"] == type_]
    assert examples, f"{type_}: no JSON usage example in the docstring"
    ex = examples[0]
    assert set(ex) <= {"type", "inputs", "params"}
    inputs = ex.get("inputs", {})
    ports = {p.name for p in spec.inputs}
    assert set(inputs) <= ports, f"{type_}: example names unknown ports {set(inputs) - ports}"
    assert {p.name for p in spec.inputs if not p.optional} <= set(inputs), f"{type_}: example misses a required input"
    values = {name: spec.param(name).validate(v) for name, v in ex.get("params", {}).items()}
    images = {k: v for k, v in _images(spec, 1, 16, seed=10).items() if k in inputs}
    images.update({p.name: None for p in spec.inputs if p.name not in inputs})
    outs = _call(spec, images, _params(spec, values, probe=False), res=16)
    assert all(torch.isfinite(o).all() for o in outs.values())


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_docstring_example_is_valid_and_runs(name):
    spec = GENERATORS[name]
    examples = [ex for ex in _examples(_docstring(spec.fn)) if ex["type"] == name]
    assert examples, f"{name}: no JSON usage example in the docstring"
    ex = examples[0]
    assert set(ex) <= {"type", "params"}
    values = {k: spec.param(k).to_numbers(v)[0] for k, v in ex.get("params", {}).items()}
    out = spec({k: torch.tensor([v]) for k, v in values.items()}, 16, seed=0)
    assert out.shape == (1, 1, 16, 16) and torch.isfinite(out).all()


# -------------------------------------------------------------- generators
def _generator_params(spec, batch: int, seed: int) -> dict[str, torch.Tensor]:
    """Random real-unit parameters inside each parameter's sampling box (discrete ones rounded)."""
    g = _gen(seed)
    out = {}
    for p in spec.params:
        lo, hi = spec.sample_box.get(p.name, (p.low, p.high))
        v = lo + (hi - lo) * torch.rand(batch, generator=g)
        out[p.name] = torch.round(v) if p.discrete else v
    return out


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_batch_determinism_dtype_and_range(name):
    spec = GENERATORS[name]
    params = _generator_params(spec, 2, seed=11)
    full = {**spec.defaults(2), **params}
    raw = spec.fn(full, 32, 3)  # the function itself, before the spec's clamp
    assert raw.dtype == torch.float32 and raw.shape == (2, 1, 32, 32)
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5, (raw.min().item(), raw.max().item())
    assert torch.equal(raw, spec.fn(full, 32, 3))
    for b in range(2):
        one = spec({k: v[b:b + 1] for k, v in params.items()}, 32, seed=3)
        torch.testing.assert_close(raw[b:b + 1].clamp(0, 1), one, atol=1e-5, rtol=0)


def test_seam_check_rejects_crops():
    out = GENERATORS["clouds"]({"scale": torch.tensor([4.0])}, 64, seed=1)[0, 0]
    assert seamless(out)
    assert not seamless(out[:, :37]) and not seamless(out[:41])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_tileable(name):
    spec = GENERATORS[name]
    out = spec(_generator_params(spec, 1, seed=12), 64, seed=1)
    assert out.std() > 1e-3, "flat output makes the seam check vacuous"
    assert seamless(out[0, 0])
