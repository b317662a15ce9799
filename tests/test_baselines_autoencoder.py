"""The autoencoder baseline must encode per-image detail instead of collapsing to the batch mean."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.benchmarks.baselines import AutoencoderConfig, AutoencoderProxy, load_baseline, save_baseline, train_autoencoder
from proxymat.proxy.model import sample_params
from proxymat.proxy.train import TrainConfig, render_batch

RES = 32


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def cells_maps(n: int = 8, seed: int = 0, res: int = RES) -> torch.Tensor:
    spec = get_generator("cells")
    _, real = sample_params(spec, n, torch.Generator().manual_seed(seed))
    return render_batch(spec, real, res, 0, "cpu")


def make_ae(res: int = RES, **kw) -> AutoencoderProxy:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return AutoencoderProxy(AutoencoderConfig(res=res, **kw))


def constant_l1(target: torch.Tensor) -> float:
    """Best L1 of one constant prediction (the median) for maps in [-1, 1]."""
    return (target - target.median()).abs().mean().item()


@pytest.mark.parametrize("res", [8, 16, 64])
def test_shapes(res):
    ae = make_ae(res, latent_channels=8, base=4, cmax=16)
    img = torch.rand(3, 1, res, res)
    z = ae.encode(img)
    assert z.shape == (3, 8, 4, 4)
    assert ae.decode_raw(z).shape == (3, 1, res, res)
    out = ae(z)
    assert out.shape == (3, 1, res, res) and out.min() >= 0 and out.max() <= 1


def test_rejects_bad_res():
    with pytest.raises(ValueError, match="power of two >= 8"):
        AutoencoderProxy(AutoencoderConfig(res=48))


def test_untrained_output_varies_across_inputs():
    """Collapse symptom of an avg-pool / smooth-upsample design: code and output nearly image-independent."""
    img = cells_maps()
    ae = make_ae()
    with torch.no_grad():
        z = ae.encode(img)
        raw = ae.decode_raw(z)
    assert z.std(dim=0).mean() > 0.4 * z.std()  # old design: 0.18
    assert raw.std(dim=0).mean() > 0.2  # old design: 0.07 (target maps: 0.43)


def test_overfits_fixed_batch():
    img = cells_maps()
    target = img * 2 - 1
    ae = make_ae()
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    for _ in range(200):
        loss = (ae.decode_raw(ae.encode(img)) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        l1 = (ae.decode_raw(ae.encode(img)) - target).abs().mean().item()
    assert l1 < 0.3 * constant_l1(target)  # about 0.04x; the collapsed design stays at 1.0x


def test_save_load_roundtrip(tmp_path):
    ae = make_ae(16, latent_channels=8, base=4, cmax=16)
    spec = get_generator("cells")
    save_baseline(tmp_path / "ae.safetensors", "autoencoder", ae, spec, asdict(ae.config), {})
    again = load_baseline(tmp_path / "ae.safetensors")
    assert isinstance(again, AutoencoderProxy) and again.config == ae.config
    z = torch.randn(2, 8, 4, 4)
    assert torch.equal(again(z), ae.eval()(z))


@pytest.mark.slow
def test_train_autoencoder_generalizes_to_held_out_maps():
    spec = get_generator("cells")
    cfg = TrainConfig(steps=400, batch=8, lr=1e-3, betas=(0.9, 0.99), feat_weight=0.0, style_weight=0.0,
                      features="random", log_every=100, num_threads=1, seed=3)
    ae = train_autoencoder(spec, AutoencoderConfig(res=RES), cfg)
    img = cells_maps(16, seed=123)
    target = img * 2 - 1
    with torch.no_grad():
        l1 = (ae.decode_raw(ae.encode(img)) - target).abs().mean().item()
    assert l1 < 0.5 * constant_l1(target)
