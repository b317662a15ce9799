"""Gradient sanity of the shipped proxies: the proxy's gradient w.r.t. a smooth parameter
points the way that lowers the REAL generator's loss (finite differences of the real generator)."""

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.proxy.model import normalize_params
from proxymat.proxy.weights import load_proxy

CASES = [
    # generator, smooth parameter, other parameters, target value, start values (both sides)
    ("clouds", "roughness", {"scale": 4.0, "octaves": 5.0, "disorder": 0.0}, 0.7, (0.35, 0.95)),
    ("tile_paraboloid", "scale", {"x_amount": 4.0, "y_amount": 4.0}, 1.0, (0.7, 1.3)),
    ("tile_paraboloid", "interstice_x", {"x_amount": 6.0, "y_amount": 3.0}, 0.25, (0.1, 0.4)),
    ("pptbf_mask_cellular", "threshold", {"zoom": 6.0, "jitter": 0.5}, 0.5, (0.3, 0.7)),
    ("cells", "disorder", {"scale": 6.0}, 0.65, (0.35, 0.95)),
]


def _real(spec, params, res):
    return spec({k: torch.tensor([float(v)]) for k, v in params.items()}, res, 0)


@pytest.mark.parametrize("name,param,others,truth,starts", CASES)
def test_proxy_gradient_agrees_with_real_finite_differences(name, param, others, truth, starts):
    spec = get_generator(name)
    proxy = load_proxy(name, spec=spec)
    res = proxy.res
    full = {p.name: p.to_numbers(p.default)[0] for p in spec.params}
    full.update(spec.fixed)  # the values the proxy was trained with (e.g. cells: style F2-F1, not the default F1)
    full.update(others)
    target = _real(spec, {**full, param: truth}, res)
    at_truth = normalize_params(spec, {k: torch.tensor([float(v)]) for k, v in {**full, param: truth}.items()})
    with torch.no_grad():
        fit = float((proxy(at_truth) - target).abs().mean())
    assert fit < 0.25, f"proxy is far from its generator at the truth (L1 {fit:.3f}): wrong pinned values?"
    p_spec = spec.param(param)
    h = 0.05 * (p_spec.high - p_spec.low)
    for start in starts:
        real_loss = [float((_real(spec, {**full, param: start + s}, res) - target).abs().mean()) for s in (-h, h)]
        fd = (real_loss[1] - real_loss[0]) / (2 * h)
        inputs = normalize_params(spec, {k: torch.tensor([float(v)]) for k, v in {**full, param: start}.items()})
        inputs.requires_grad_(True)
        loss = (proxy(inputs) - target).abs().mean()
        loss.backward()
        k = list(proxy.param_names).index(param)
        grad = float(inputs.grad[0, k])
        assert fd * grad > 0, (start, fd, grad)
        # and both point toward the true value
        assert (grad > 0) == (start > truth)
