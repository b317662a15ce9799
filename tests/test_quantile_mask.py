"""A mask proxy from a rank-field proxy: quantile level, ramp, wrapper checks, and the real rank field."""

from __future__ import annotations

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.proxy.model import ProxyConfig, build_proxy, proxy_inputs, sample_params
from proxymat.proxy.quantile_mask import QuantileMaskProxy, load_proxy_for, quantile_level, threshold_with_ramp
from proxymat.proxy.weights import ProxyWeightsError, load_proxy, save_proxy


def test_quantile_level_splits_the_pixels_at_the_fraction() -> None:
    soft = torch.randperm(400, generator=torch.Generator().manual_seed(0)).float().view(1, 1, 20, 20) / 400
    for frac in (0.1, 0.25, 0.5, 0.9):
        level = quantile_level(soft, torch.tensor([frac]))
        assert int((soft > level).sum()) == round(frac * 400)


def test_quantile_level_gradient_matches_finite_differences() -> None:
    soft = torch.rand(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    frac = torch.tensor([0.3, 0.62], dtype=torch.float64, requires_grad=True)  # away from sample positions
    assert torch.autograd.gradcheck(quantile_level, (soft, frac), eps=1e-6, atol=1e-5)


def test_threshold_ramp_crosses_one_half_at_the_level() -> None:
    x = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(1, 1, 16, 16)
    mask = threshold_with_ramp(x, torch.tensor([0.5]))
    assert mask[0, 0, 0, 0] == 0 and mask[0, 0, 0, 15] == 1
    assert torch.all(mask[0, 0, 0, 1:] >= mask[0, 0, 0, :-1])  # monotone along the gradient
    assert abs(float(mask.mean()) - 0.5) < 0.05


def test_rank_field_levels_are_the_real_masks() -> None:
    """Thresholding the real rank field at the white fraction gives exactly the real mask's pixels."""
    mask_spec, rank_spec = get_generator("pptbf_mask_cellular"), get_generator("pptbf_rank_cellular")
    _, real = sample_params(mask_spec, 4, torch.Generator().manual_seed(3))
    masks = mask_spec(real, 32, 0)
    ranks = rank_spec({k: v for k, v in real.items() if k != "threshold"}, 32, 0)
    hard = (ranks > quantile_level(ranks, real["threshold"]).view(-1, 1, 1, 1)).float()
    assert torch.equal(hard, (masks > 0.5).float())
    assert torch.allclose(ranks.flatten(1).sort(dim=1).values, ((torch.arange(1024) + 0.5) / 1024).expand(4, -1))


def _rank_proxy(tmp_path, name: str = "pptbf_rank_cellular"):
    spec = get_generator(name)
    net = build_proxy(ProxyConfig(n_params=len(proxy_inputs(spec)), res=16, w_dim=8, channels=(8, 8, 8)))
    return load_proxy(save_proxy(tmp_path / f"{name}.safetensors", net, spec))


def test_mask_proxy_takes_the_fraction_first_and_hits_it(tmp_path) -> None:
    mask_spec = get_generator("pptbf_mask_cellular")
    wrapped = QuantileMaskProxy(_rank_proxy(tmp_path), mask_spec)
    p, _ = sample_params(mask_spec, 3, torch.Generator().manual_seed(0))
    p[:, 0] = torch.tensor([0.2, 0.5, 0.8])
    p.requires_grad_(True)
    out = wrapped(p)
    assert out.shape == (3, 1, 16, 16) and wrapped.res == 16
    assert torch.allclose(out.flatten(1).mean(1), p[:, 0].detach(), atol=0.08)
    out.mean().backward()
    assert p.grad[:, 0].abs().sum() > 0  # the white fraction steers the mask


def test_mask_proxy_rejects_a_proxy_of_another_family(tmp_path) -> None:
    cells = _rank_proxy(tmp_path, "cells")
    with pytest.raises(ProxyWeightsError, match="needs"):
        QuantileMaskProxy(cells, get_generator("pptbf_mask_cellular"))
    with pytest.raises(ProxyWeightsError, match="threshold"):
        QuantileMaskProxy(cells, get_generator("cells"))


def test_load_proxy_for_wraps_only_a_rank_proxy(tmp_path) -> None:
    mask_spec = get_generator("pptbf_mask_cellular")
    path = tmp_path / "pptbf_rank_cellular.safetensors"
    _rank_proxy(tmp_path)
    assert isinstance(load_proxy_for(mask_spec, path), QuantileMaskProxy)
    assert not isinstance(load_proxy_for(mask_spec), QuantileMaskProxy)  # the shipped mask proxy itself
    with pytest.raises(ProxyWeightsError):
        load_proxy_for(get_generator("cells"), path)


def test_a_mask_family_names_both_reasons_when_nothing_fits(tmp_path) -> None:
    cells = tmp_path / "cells.safetensors"
    _rank_proxy(tmp_path, "cells")
    with pytest.raises(ProxyWeightsError, match="not 'pptbf_mask_cellular'.*nor can it make masks"):
        load_proxy_for(get_generator("pptbf_mask_cellular"), cells)


def test_bench_e4_runs_on_a_rank_field_proxy(tmp_path, capsys) -> None:
    import json

    from proxymat.cli import main

    _rank_proxy(tmp_path)
    out = tmp_path / "e4.json"
    code = main(["bench", "e4", "--proxy-weights", str(tmp_path / "pptbf_rank_cellular.safetensors"), "--targets", "1",
                 "--res", "32", "--budget", "0.3", "--steps", "2", "--gf-methods", "random_search",
                 "--json-out", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["proxy_adam", "random_search"]
    assert len(rows[0]["x"]) == 10  # the white fraction plus the rank field's nine inputs


def test_proxy_eval_will_not_record_a_wrapped_proxy(tmp_path, capsys) -> None:
    from proxymat.cli import main

    _rank_proxy(tmp_path)
    path = tmp_path / "pptbf_rank_cellular.safetensors"
    before = path.read_bytes()
    try:
        code = main(["proxy", "eval", "pptbf_mask_cellular", "--weights", str(path), "--n", "2", "--record"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "--record stores a proxy's own fidelity" in capsys.readouterr().err
    assert path.read_bytes() == before
