"""Progressive resolution: a proxy grown from a lower-resolution one starts as its upsampled map."""

import pytest
import torch

from proxymat.proxy.grow import added_inputs, grow_into, grown_config, grows_from, widen_inputs
from proxymat.proxy.model import DEFAULT_CHANNELS, ProxyConfig, build_proxy, upsample2x
from proxymat.proxy.train import train_proxy
from proxymat.proxy.weights import load_proxy

from test_proxy_train import MODEL, toy_spec, train_cfg


def test_grown_config_appends_levels_and_keeps_the_rest():
    big = grown_config(MODEL, 64)
    assert big.res == 64 and big.channels == MODEL.channels + (DEFAULT_CHANNELS[32], DEFAULT_CHANNELS[64])
    assert big.w_dim == MODEL.w_dim and big.map_depth == MODEL.map_depth
    assert grown_config(MODEL, 32, (4,)).channels == MODEL.channels + (4,)
    assert grows_from(MODEL, big) and grows_from(MODEL, MODEL) and not grows_from(big, MODEL)
    other = ProxyConfig(n_params=3, res=32, w_dim=32, map_depth=2, channels=(16, 8, 8, 8))
    assert not grows_from(MODEL, other)  # another style size is another model
    with pytest.raises(ValueError, match="adds 2 resolution level"):
        grown_config(MODEL, 64, (8,))
    with pytest.raises(ValueError, match="cannot grow a 16 px proxy down to 8 px"):
        grown_config(MODEL, 8)


def test_grown_proxy_starts_as_the_source_upsampled_and_then_learns_detail():
    src = build_proxy(MODEL, seed=1)
    big = build_proxy(grown_config(MODEL, 32), seed=2)
    grow_into(big, src.state_dict(), MODEL)
    p = torch.rand(5, MODEL.n_params)
    with torch.no_grad():
        want = upsample2x(src.forward_raw(p))
        got = big.forward_raw(p)
    assert got.shape == (5, 1, 32, 32)
    assert torch.allclose(got, want, atol=1e-5)
    # the new level's output layer is zero but still trainable: its gradient is not
    big.forward_raw(p).square().mean().backward()
    assert big.blocks[-1].torgb.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="does not grow from"):
        grow_into(build_proxy(MODEL), big.state_dict(), big.config)


def test_training_from_a_lower_resolution_file_grows_it(tmp_path):
    src = train_proxy(toy_spec(), MODEL, train_cfg(steps=2), tmp_path / "src.safetensors", progress=False)
    big_cfg = grown_config(MODEL, 32)
    start = train_proxy(toy_spec(), big_cfg, train_cfg(steps=0, res=32, init_from=str(src.out_path)),
                        tmp_path / "big.safetensors", progress=False)
    loaded = load_proxy(src.out_path)
    p = torch.rand(4, MODEL.n_params)
    with torch.no_grad():
        assert torch.allclose(start.model.forward_raw(p), upsample2x(loaded.net.forward_raw(p)), atol=1e-4)
    grown = load_proxy(start.out_path)
    assert grown.res == 32 and grown.training_info["init"]["steps"] == 2


def test_added_inputs_accepts_only_a_superset_in_the_same_order():
    a, b, c = ("a", 0.0, 1.0), ("b", 0.0, 1.0), ("c", 1.0, 4.0)
    assert added_inputs([a, c], [a, b, c]) == [0, 2]
    assert added_inputs([c], [a, b, c]) == [2]
    assert added_inputs([a, c], [a, c]) is None  # nothing added
    assert added_inputs([c, a], [a, b, c]) is None  # reordered
    assert added_inputs([a, ("c", 1.0, 5.0)], [a, b, c]) is None  # another range is another input
    assert added_inputs([a, ("d", 0.0, 1.0)], [a, b, c]) is None


def test_widened_proxy_ignores_its_new_input_until_trained():
    src_cfg = ProxyConfig(n_params=2, res=16, w_dim=16, map_depth=2, channels=(16, 8, 8))
    src = build_proxy(src_cfg, seed=3)
    state, cfg = widen_inputs(src.state_dict(), src_cfg, [0, 2], 3)
    assert cfg.n_params == 3 and state["mapping.embed.weight"].shape == (16, 3)
    assert state["mapping.embed.weight"][:, 1].abs().sum() == 0
    wide = build_proxy(cfg, seed=4)
    wide.load_state_dict(state)
    p = torch.rand(5, 2)
    with torch.no_grad():
        want = src.forward_raw(p)
        for new in (0.0, 0.4, 1.0):
            got = wide.forward_raw(torch.stack([p[:, 0], torch.full((5,), new), p[:, 1]], 1))
            assert torch.allclose(got, want, atol=1e-5)
    # the new column learns: its gradient is not zero
    wide.forward_raw(torch.rand(5, 3)).square().mean().backward()
    assert wide.mapping.embed.weight.grad[:, 1].abs().sum() > 0
    with pytest.raises(ValueError, match="one-hot"):
        widen_inputs(src.state_dict(), ProxyConfig(n_params=2, res=16, w_dim=16, map_depth=2, channels=(16, 8, 8),
                                                   categories=(3, 0)), [0, 1], 3)
