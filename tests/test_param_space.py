"""ParamSpace serves proxy sampling, E4's box and the optimizers: its draws, boxes and layouts."""

import math

import numpy as np
import pytest
import torch

from proxymat.benchmarks.mask_fit import BoxSpace
from proxymat.nodes.generators import generator_specs, get_generator
from proxymat.nodes.generators.base import GeneratorSpec
from proxymat.param_space import ParamSpace
from proxymat.params import f, i
from proxymat.proxy.model import proxy_inputs, sample_params
from test_optimize import tiny_graph


def _proxied_specs():
    out = []
    for spec in generator_specs().values():
        try:
            proxy_inputs(spec)
        except ValueError:
            continue
        out.append(spec)
    return out


def test_proxy_sampling_draws_one_float64_uniform_per_input_in_order():
    """The stream of proxy training data: each input in spec order takes ``torch.rand(batch, float64)``,
    a continuous one mapped onto its sample box, a discrete one onto the box's integers."""
    for spec in _proxied_specs():
        for seed in (0, 7):
            p, real = sample_params(spec, 5, torch.Generator().manual_seed(seed))
            gen = torch.Generator().manual_seed(seed)
            for k, param in enumerate(proxy_inputs(spec)):
                lo, hi = spec.sample_box.get(param.name, (param.low, param.high))
                lo, hi = max(float(lo), param.low), min(float(hi), param.high)
                u = torch.rand(5, generator=gen, dtype=torch.float64)
                if param.discrete:
                    a, b = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
                    want = torch.floor(a + u * (b - a + 1)).clamp(a, b).float()
                else:
                    want = (lo + u * (hi - lo)).float()
                assert torch.equal(real[param.name], want), (spec.name, param.name)
                assert torch.equal(p[:, k], param.normalize_tensor(want)), (spec.name, param.name)
            for name, value in spec.fixed.items():
                assert torch.equal(real[name], torch.full((5,), float(value)))


def test_a_discrete_sample_box_without_an_integer_is_refused():
    spec = GeneratorSpec("toy", lambda params, res, seed: torch.zeros(1, 1, res, res), (i("n", 5, 0, 10), f("x", 0.5)),
                         sample_box={"n": (4.2, 4.8)})
    space = ParamSpace.of_generator(spec)
    assert space.keys() == ["toy.n", "toy.x"] and space.proxy_keys("toy") == ["toy.n", "toy.x"]
    with pytest.raises(ValueError, match=r"^generator 'toy': sample box \(4.2, 4.8\) of 'n' holds no integer$"):
        sample_params(spec, 3, torch.Generator())


def test_the_box_of_a_generator_spans_its_sample_box_and_steps_by_whole_values():
    spec = get_generator("pptbf_mask_cellular")
    space = ParamSpace.of_generator(spec)
    keys = space.proxy_keys(spec.name)
    assert keys == [f"{spec.name}.{p.name}" for p in proxy_inputs(spec)]
    box = space.box(keys)
    assert box.real(torch.zeros(1, box.dim))[0].tolist() == pytest.approx([space.real_box(k)[0] for k in keys])
    assert box.real(torch.full((1, box.dim), 2.0))[0].tolist() == pytest.approx([space.real_box(k)[1] for k in keys])
    layout = box.layout()
    for k, (key, p) in enumerate(zip(keys, box.specs)):
        lo, hi = space.real_box(key)
        assert layout.steps[k] == (pytest.approx(1 / (hi - lo)) if p.discrete else 0.0)
    assert torch.equal(box.uniform(4, torch.Generator().manual_seed(1)),
                       torch.rand(4, box.dim, generator=torch.Generator().manual_seed(1)))
    e4 = BoxSpace.of(spec).box  # E4 searches this box
    assert e4.keys == box.keys and torch.equal(e4.low, box.low) and torch.equal(e4.high, box.high)
    with pytest.raises(ValueError, match="scalar"):
        tiny_graph().space().box(["color.color_4"])


def test_normalized_and_sampling_boxes_agree_except_where_a_proxy_pins():
    g = tiny_graph()
    space = g.space()
    spec = get_generator("cells")
    for key in space.keys("generators"):
        name = key.split(".", 1)[1]
        lo, hi = space.real_box(key)
        p = spec.param(name)
        assert (lo, hi) == (max(float(spec.sample_box.get(name, (p.low, p.high))[0]), p.low),
                            min(float(spec.sample_box.get(name, (p.low, p.high))[1]), p.high))
        if name in spec.fixed:
            u = float(g.normalized("generators")[key][0])
            assert space.sampling_box(key, g.value(key)) == pytest.approx((u, u))
        else:
            assert space.sampling_box(key, g.value(key)) == space.normalized_box(key)
    with pytest.raises(KeyError, match="not a generator parameter"):
        space.real_box("lv.in_high")


def test_uniform_draws_each_key_in_its_bounds_from_one_stream():
    space = tiny_graph().space()
    bounds = {"cells.scale": (0.2, 0.3), "cells.disorder": (0.0, 1.0)}
    got = space.uniform(bounds, 6, torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    for key, (lo, hi) in bounds.items():
        assert torch.equal(got[key], lo + (hi - lo) * torch.rand(6, 1, generator=gen))
    with pytest.raises(KeyError, match="nope.x"):
        space.uniform({"nope.x": (0.0, 1.0)}, 1, gen)


def test_the_layout_of_a_graph_is_its_optimizable_parameters_in_order():
    g = tiny_graph()
    layout = g.space().layout()
    values = g.normalized("all", optimizable_only=True)
    assert layout.keys == tuple(values) and layout.dim == sum(v.numel() for v in values.values())
    assert np.array_equal(layout.discrete, layout.steps > 0)
    assert [s.stop - s.start for s in layout.slices] == [v.numel() for v in values.values()]


def test_a_layout_spreads_keys_and_ranges_over_their_coordinates():
    layout = tiny_graph().space().layout()
    wide = next(k for k, s in zip(layout.keys, layout.slices) if s.stop - s.start > 1)
    one = next(k for k, s in zip(layout.keys, layout.slices) if s.stop - s.start == 1)
    mask = layout.mask({wide, one})
    lo, hi = layout.bounds({wide: (0.2, 0.7)})
    for key, s in zip(layout.keys, layout.slices):
        assert mask[s].tolist() == [key in (wide, one)] * (s.stop - s.start)
        want = (0.2, 0.7) if key == wide else (0.0, 1.0)
        assert lo[s].tolist() == [want[0]] * (s.stop - s.start) and hi[s].tolist() == [want[1]] * (s.stop - s.start)
    assert mask.sum() == layout.slices[layout.keys.index(wide)].stop - layout.slices[layout.keys.index(wide)].start + 1
