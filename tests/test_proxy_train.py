"""Proxy training loop (checkpoints, resume, GAN variant) and proxy weight files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from proxymat.nodes.generators.base import GeneratorSpec
from proxymat.params import e, f, i
from proxymat.proxy.model import ProxyConfig, build_proxy, normalize_params, sample_params
from proxymat.proxy.train import TrainConfig, checkpoint_path, log_path, read_checkpoint, train_proxy
from proxymat.proxy.weights import ProxyWeightsError, load_proxy, record_metrics, resolve_weights, save_proxy

MODEL = ProxyConfig(n_params=3, res=16, w_dim=16, map_depth=2, channels=(16, 8, 8))


def _blobs(params, res, seed):
    """Tileable soft blobs: ``count`` x ``count`` grid, shifted by ``x``, of width ``size``."""
    x, size, n = params["x"], params["size"], params["count"]
    u = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    dx = torch.frac(u[None, :] * n[:, None] - x[:, None] + 10.0) - 0.5
    dy = torch.frac(u[None, :] * n[:, None] + 10.0) - 0.5
    d2 = dx[:, None, :] ** 2 + dy[:, :, None] ** 2
    return torch.exp(-d2 / (2 * size[:, None, None] ** 2))[:, None]


def toy_spec(name: str = "toy_blobs", **kw) -> GeneratorSpec:
    params = (f("x", 0.0, 0.0, 1.0), f("size", 0.15, 0.05, 0.3), i("count", 2, 1, 4))
    return GeneratorSpec(name, _blobs, params, **kw)


def train_cfg(**kw) -> TrainConfig:
    base = dict(steps=6, batch=4, checkpoint_every=3, val_every=3, val_size=4, log_every=1, features="random",
                num_threads=1, feat_res=16)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------- training
def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    spec = toy_spec()
    full = train_proxy(spec, MODEL, train_cfg(), tmp_path / "a.safetensors", progress=False)
    train_proxy(spec, MODEL, train_cfg(steps=3), tmp_path / "b.safetensors", progress=False)
    resumed = train_proxy(spec, MODEL, train_cfg(), tmp_path / "b.safetensors", progress=False, resume=True)
    assert full.step == resumed.step == 6
    a, b = _state(full.model), _state(resumed.model)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert [r["step"] for r in resumed.history["train"]] == [1, 2, 3, 4, 5, 6]
    for ra, rb in zip(full.history["train"], resumed.history["train"]):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-5)
    assert [v["step"] for v in resumed.history["val"]] == [3, 6]


def test_fresh_run_ignores_old_checkpoint_unless_resume(tmp_path):
    spec = toy_spec()
    out = tmp_path / "p.safetensors"
    train_proxy(spec, MODEL, train_cfg(steps=3), out, progress=False)
    again = train_proxy(spec, MODEL, train_cfg(steps=3), out, progress=False)
    assert [r["step"] for r in again.history["train"]] == [1, 2, 3]


def test_resume_after_sigkill_loses_at_most_one_interval(tmp_path):
    out = tmp_path / "k.safetensors"
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_proxy_train as t\n"
        "from proxymat.proxy.train import train_proxy\n"
        f"train_proxy(t.toy_spec(), t.MODEL, t.train_cfg(steps=100000, log_every=100000), {str(out)!r}, progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = checkpoint_path(out)
    try:
        deadline = time.time() + 120
        while not ckpt.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint written"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _, meta = read_checkpoint(ckpt)
    k = meta["step"]
    assert k >= 3 and k % 3 == 0
    result = train_proxy(toy_spec(), MODEL, train_cfg(steps=k + 2, log_every=1), out, progress=False, resume=True)
    assert result.step == k + 2
    assert [r["step"] for r in result.history["train"]][-2:] == [k + 1, k + 2]
    assert [v["step"] for v in result.history["val"]][: k // 3] == list(range(3, k + 1, 3))


def test_gan_variant_trains_checkpoints_discriminator_and_resumes(tmp_path):
    spec = toy_spec(stochastic=True)
    out = tmp_path / "g.safetensors"
    first = train_proxy(spec, MODEL, train_cfg(steps=2, r1_interval=2, checkpoint_every=2), out, progress=False)
    row = first.history["train"][0]
    assert {"g_adv", "d", "r1", "l1", "feat", "style", "loss"} <= set(row)
    assert all(torch.isfinite(torch.tensor(v)) for v in row.values())
    tensors, meta = read_checkpoint(checkpoint_path(out))
    assert any(k.startswith("disc.") for k in tensors) and any(k.startswith("dopt.") for k in tensors)
    assert meta["train_config"]["gan"] is None and meta["step"] == 2
    again = train_proxy(spec, MODEL, train_cfg(steps=3, r1_interval=2), out, progress=False, resume=True)
    assert again.step == 3 and "g_adv" in again.history["train"][-1]


def test_training_lowers_the_loss(tmp_path):
    res = train_proxy(
        toy_spec(), MODEL, train_cfg(steps=40, lr=0.01, log_every=10, val_every=40), tmp_path / "l.safetensors", progress=False
    )
    train = res.history["train"]
    assert train[-1]["loss"] < 0.8 * train[0]["loss"]


def test_log_lines_files_and_final_weights(tmp_path):
    lines: list[str] = []
    out = tmp_path / "sub" / "w.safetensors"
    train_proxy(toy_spec(), MODEL, train_cfg(steps=2, log_every=2, val_every=2), out, progress=False, log=lines.append)
    assert lines[0].startswith("train toy_blobs: steps 0->2")
    assert any(line.startswith("step=2 ") and "l1=" in line for line in lines)
    assert any(line.startswith("step=2 val_l1=") for line in lines)
    assert log_path(out).read_text().splitlines() == lines
    proxy = load_proxy(out)
    assert proxy.training_info["steps"] == 2 and proxy.training_info["features"] == "random"
    assert 0 <= proxy.metrics["val_l1"] <= 1


def test_config_mismatches_raise(tmp_path):
    spec = toy_spec()
    with pytest.raises(ValueError, match="model takes 4 params but generator 'toy_blobs' has 3"):
        train_proxy(spec, ProxyConfig(n_params=4, res=16, channels=(8, 8, 8)), train_cfg(), tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="training res 32 differs"):
        train_proxy(spec, MODEL, train_cfg(res=32), tmp_path / "x.safetensors")
    out = tmp_path / "y.safetensors"
    train_proxy(spec, MODEL, train_cfg(steps=1, checkpoint_every=1), out, progress=False)
    other = ProxyConfig(n_params=3, res=16, w_dim=16, map_depth=1, channels=(16, 8, 8))
    with pytest.raises(ProxyWeightsError, match="model config"):
        train_proxy(spec, other, train_cfg(steps=2), out, progress=False, resume=True)
    with pytest.raises(ProxyWeightsError, match="not 'other'"):
        train_proxy(toy_spec("other"), MODEL, train_cfg(steps=2), out, progress=False, resume=True)


def test_config_roundtrip():
    cfg = train_cfg(betas=(0.5, 0.9))
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_ema_decay_has_the_stated_half_life_and_ramps_in():
    from proxymat.proxy.train import ema_decay

    assert ema_decay(500, 100_000) ** 500 == pytest.approx(0.5)
    assert ema_decay(500, 100) ** 10 == pytest.approx(0.5)  # early on: half-life step / 10
    assert ema_decay(0, 100) == 0.0
    with pytest.raises(ValueError, match="ema_halflife must be"):
        train_proxy(toy_spec(), MODEL, train_cfg(ema_halflife=-1.0), Path("unused.safetensors"))


def test_update_ema_moves_the_average_by_one_minus_decay():
    from proxymat.proxy.train_state import ema_decay, init_state

    st = init_state(toy_spec(), MODEL, train_cfg(), gan=False)
    with torch.no_grad():
        for t in st.ema.parameters():
            t.zero_()
        for t in st.model.parameters():
            t.fill_(1.0)
    st.step = 10_000
    st.update_ema(200.0)
    expected = 1.0 - ema_decay(200.0, 10_000)
    assert all(torch.allclose(t, torch.full_like(t, expected)) for t in st.ema.parameters())
    assert not any(t.requires_grad for t in st.ema.parameters())


def test_shipped_weights_and_validation_use_the_average_raw_kept_in_checkpoint(tmp_path):
    out = tmp_path / "e.safetensors"
    res = train_proxy(toy_spec(), MODEL, train_cfg(steps=6, lr=0.01, ema_halflife=2.0), out, progress=False)
    tensors, _ = read_checkpoint(checkpoint_path(out))
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    raw = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    assert ema.keys() == raw.keys()
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)
    assert all(torch.equal(ema[k], v) for k, v in _state(res.model).items())  # the result is the average
    shipped = load_proxy(out)
    p = torch.rand(3, 3)
    with torch.no_grad():
        assert torch.allclose(shipped(p), res.model(p), atol=2e-2)
    val = res.history["val"][-1]
    assert "l1_raw" in val and val["l1"] != val["l1_raw"]


def test_resume_from_a_checkpoint_without_average_starts_it_from_the_raw_weights(tmp_path):
    out = tmp_path / "o.safetensors"
    train_proxy(toy_spec(), MODEL, train_cfg(steps=3, ema_halflife=0.0), out, progress=False)
    tensors, _ = read_checkpoint(checkpoint_path(out))
    assert not any(k.startswith("ema.") for k in tensors)
    from proxymat.proxy.checkpoint import restore_checkpoint
    from proxymat.proxy.train_state import init_state

    st = init_state(toy_spec(), MODEL, train_cfg(), gan=False)
    restore_checkpoint(st, checkpoint_path(out), toy_spec(), MODEL)
    assert all(torch.equal(a, b) for a, b in zip(st.ema.state_dict().values(), st.model.state_dict().values()))
    no_avg = train_proxy(toy_spec(), MODEL, train_cfg(steps=3, ema_halflife=0.0), tmp_path / "n.safetensors", progress=False)
    assert "l1_raw" not in no_avg.history["val"][-1]


def test_init_from_weights_fine_tunes_a_narrower_family_and_counts_the_source_time(tmp_path):
    src = train_proxy(toy_spec(), MODEL, train_cfg(steps=4, lr=0.01), tmp_path / "src.safetensors", progress=False)
    src_meta = load_proxy(src.out_path).training_info
    narrow = toy_spec("toy_blobs_narrow", sample_box={"size": (0.05, 0.1)})
    out = tmp_path / "fine.safetensors"
    start = train_proxy(narrow, MODEL, train_cfg(steps=0, init_from=str(src.out_path)), out, progress=False)
    loaded = load_proxy(src.out_path)  # steps=0: the exported weights are the source's (fp16-rounded) ones
    assert all(torch.equal(a, b) for a, b in zip(_state(start.model).values(), _state(loaded.net).values()))
    info = load_proxy(out, spec=narrow).training_info
    assert info["init"] == {"weights": str(src.out_path), "generator": "toy_blobs", "steps": 4,
                            "seconds": src_meta["seconds_total"]}
    assert info["seconds_total"] >= src_meta["seconds_total"]
    tuned = train_proxy(narrow, MODEL, train_cfg(steps=3, init_from=str(src.out_path)), tmp_path / "t.safetensors",
                        progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(_state(tuned.model).values(), _state(loaded.net).values()))
    resumed = train_proxy(narrow, MODEL, train_cfg(steps=6, init_from=str(src.out_path)), tmp_path / "t.safetensors",
                          progress=False, resume=True)  # the checkpoint wins over init_from, and keeps its record
    assert resumed.step == 6 and load_proxy(resumed.out_path).training_info["init"]["steps"] == 4


def test_init_from_weights_rejects_other_inputs_or_model(tmp_path):
    src = train_proxy(toy_spec(), MODEL, train_cfg(steps=1), tmp_path / "src.safetensors", progress=False)
    wider = GeneratorSpec("toy_wide", _blobs, (f("x", 0.0, 0.0, 2.0), f("size", 0.15, 0.05, 0.3), i("count", 2, 1, 4)))
    with pytest.raises(ProxyWeightsError, match=r"inputs .*differ from generator 'toy_wide'"):
        train_proxy(wider, MODEL, train_cfg(steps=1, init_from=str(src.out_path)), tmp_path / "w.safetensors",
                    progress=False)
    bigger = ProxyConfig(n_params=3, res=16, w_dim=16, map_depth=2, channels=(16, 16, 8))
    with pytest.raises(ProxyWeightsError, match="model config"):
        train_proxy(toy_spec(), bigger, train_cfg(steps=1, init_from=str(src.out_path)), tmp_path / "b.safetensors",
                    progress=False)


# ---------------------------------------------------------------------- weights
def test_save_load_roundtrip_within_fp16(tmp_path):
    spec = toy_spec()
    net = build_proxy(MODEL, seed=3)
    path = save_proxy(tmp_path / "p.safetensors", net, spec, metrics={"l1": 0.5}, training={"steps": 7})
    proxy = load_proxy(path, spec=spec)
    assert proxy.spec_name == "toy_blobs" and proxy.param_names == ("x", "size", "count")
    assert proxy.metrics == {"l1": 0.5} and proxy.training_info == {"steps": 7} and proxy.res == 16
    assert proxy.config == MODEL
    p = torch.rand(5, 3)
    assert torch.allclose(proxy(p), net(p), atol=2e-2)
    assert (proxy(p) - net(p)).abs().max() > 0  # really stored in fp16
    assert proxy.at_res(p, 32).shape == (5, 1, 32, 32) and proxy.at_res(p, 8).shape == (5, 1, 8, 8)
    real = {"x": torch.tensor([0.5]), "size": torch.tensor([0.3]), "count": torch.tensor([4.0])}
    assert torch.allclose(proxy.normalize(real), normalize_params(spec, real))
    assert torch.allclose(proxy.normalize(real), torch.tensor([[0.5, 1.0, 1.0]]))


def test_record_metrics_merges_into_the_file_and_keeps_the_weights(tmp_path):
    spec = toy_spec()
    path = save_proxy(tmp_path / "p.safetensors", build_proxy(MODEL, seed=1), spec, metrics={"val_l1": 0.2})
    before = load_proxy(path, spec=spec)
    assert not before.below_flat_floor()  # nothing recorded: no verdict
    record_metrics(path, {"l1": 0.06, "flat_l1": 0.05, "ssim": 0.3, "flat_ssim": 0.4})
    after = load_proxy(path, spec=spec)
    assert after.metrics == {"val_l1": 0.2, "l1": 0.06, "flat_l1": 0.05, "ssim": 0.3, "flat_ssim": 0.4}
    assert all(torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values()))
    assert after.below_flat_floor()
    record_metrics(path, {"ssim": 0.5})  # better SSIM than flat: structure after all
    assert not load_proxy(path, spec=spec).below_flat_floor()
    with pytest.raises(ProxyWeightsError, match="not a proxymat proxy file"):
        from proxymat.proxy.weights import atomic_save_safetensors

        atomic_save_safetensors(tmp_path / "other.safetensors", {"w": torch.zeros(1)}, {"format": "other"})
        record_metrics(tmp_path / "other.safetensors", {"l1": 0.0})


def test_proxy_is_differentiable_wrt_inputs_but_frozen(tmp_path):
    spec = toy_spec()
    proxy = load_proxy(save_proxy(tmp_path / "p.safetensors", build_proxy(MODEL), spec))
    p = torch.rand(2, 3, requires_grad=True)
    proxy.net.forward_raw(p).sum().backward()
    assert p.grad.abs().sum() > 0 and not any(t.requires_grad for t in proxy.parameters())


def test_mismatched_generator_and_params_errors(tmp_path):
    path = save_proxy(tmp_path / "p.safetensors", build_proxy(MODEL), toy_spec())
    with pytest.raises(ProxyWeightsError, match="proxy is for generator 'toy_blobs', not 'other'"):
        load_proxy(path, spec=toy_spec("other"))
    changed = GeneratorSpec("toy_blobs", _blobs, (f("x", 0.0, 0.0, 2.0), f("size", 0.15, 0.05, 0.3), i("count", 2, 1, 4)))
    with pytest.raises(ValueError, match="differ from generator"):
        load_proxy(path, spec=changed)
    with pytest.raises(ValueError, match="model takes 3 params"):
        save_proxy(tmp_path / "q.safetensors", build_proxy(MODEL), toy_spec(fixed={"x": 0.0}))


def test_a_proxy_carries_what_it_pins(tmp_path):
    """A proxy trained with other pinned parameters (e.g. ``--unpin``: none) loads against the generator's spec
    and reports its own pins; one that pins a parameter the generator lacks is refused."""
    pinned = toy_spec(fixed={"x": 0.5})
    path = save_proxy(tmp_path / "pinned.safetensors", build_proxy(ProxyConfig(n_params=2, res=16, w_dim=16, map_depth=2,
                                                                                channels=(16, 8, 8))), pinned)
    proxy = load_proxy(path, spec=toy_spec())  # the spec pins nothing; the file pins x
    assert proxy.fixed == {"x": 0.5} and proxy.param_names == ("size", "count")
    unpinned = load_proxy(save_proxy(tmp_path / "all.safetensors", build_proxy(MODEL), toy_spec()), spec=pinned)
    assert unpinned.fixed == {} and unpinned.param_names == ("x", "size", "count")
    stray = GeneratorSpec("toy_blobs", _blobs, (f("size", 0.15, 0.05, 0.3), i("count", 2, 1, 4)))
    with pytest.raises(ProxyWeightsError, match=r"pins parameter\(s\) \['x'\] that generator 'toy_blobs' does not have"):
        load_proxy(path, spec=stray)


def test_one_hot_proxy_roundtrips_through_its_file(tmp_path):
    spec = GeneratorSpec("toy_enum", _blobs, (f("x", 0.0, 0.0, 2.0), e("mode", "a", ("a", "b", "c"))))
    net = build_proxy(ProxyConfig(n_params=2, res=16, w_dim=16, map_depth=2, channels=(16, 8, 8), categories=(0, 3)))
    loaded = load_proxy(save_proxy(tmp_path / "oh.safetensors", net, spec), spec=spec)
    assert loaded.config.categories == (0, 3)
    p = torch.tensor([[0.3, 0.0], [0.3, 1.0]])
    a, b = loaded.net(p), net(p).detach()
    assert torch.allclose(a, b, atol=5e-3) and not torch.allclose(a[0], a[1], atol=5e-2)  # fp16 file; choice matters


def test_corrupt_missing_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ValueError, match="cannot read proxy weights") as err:
        load_proxy(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(ProxyWeightsError, match="not found"):
        load_proxy(tmp_path / "absent.safetensors")
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(ProxyWeightsError, match="not a proxymat proxy file"):
        load_proxy(tmp_path / "foreign.safetensors")


def test_truncated_weights_and_name_resolution(tmp_path):
    path = save_proxy(tmp_path / "p.safetensors", build_proxy(MODEL), toy_spec())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProxyWeightsError, match="cannot read proxy weights"):
        load_proxy(path)
    resolved = resolve_weights("some_generator")
    assert resolved.parts[-3:] == ("proxymat", "weights", "some_generator.safetensors")
    with pytest.raises(ProxyWeightsError, match="not found"):
        load_proxy("no_such_generator_proxy")


def test_checkpoint_is_plain_safetensors_with_json_metadata(tmp_path):
    from safetensors import safe_open

    out = tmp_path / "c.safetensors"
    train_proxy(toy_spec(), MODEL, train_cfg(steps=3), out, progress=False)
    with safe_open(str(checkpoint_path(out)), framework="pt") as fh:
        meta = json.loads(fh.metadata()["checkpoint"])
        keys = set(fh.keys())
    assert meta["step"] == 3 and meta["generator"] == "toy_blobs" and len(meta["history"]["train"]) == 3
    assert "rng.sampler" in keys and any(k.startswith("opt.") for k in keys)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    from proxymat.atomic import atomic_write_text

    atomic_write_text(tmp_path / "plain.txt", "x")  # 0666 minus the umask, not safetensors' own 0600
    usual = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert {(tmp_path / n).stat().st_mode & 0o777 for n in ("c.safetensors", "c.ckpt.safetensors")} == {usual}


def test_sampler_state_in_checkpoint_continues_the_stream(tmp_path):
    out = tmp_path / "s.safetensors"
    train_proxy(toy_spec(), MODEL, train_cfg(steps=3), out, progress=False)
    tensors, _ = read_checkpoint(checkpoint_path(out))
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        sample_params(toy_spec(), 4, gen)
    assert torch.equal(tensors["rng.sampler"], gen.get_state())


# -------------------------------------------------------------------- baselines
def test_autoencoder_baseline_trains_saves_and_decodes(tmp_path):
    from proxymat.benchmarks.baselines import AutoencoderConfig, load_baseline, train_autoencoder

    spec = toy_spec()
    cfg = AutoencoderConfig(res=16, latent_channels=4, base=4, cmax=8)
    rows: list[str] = []
    ae = train_autoencoder(spec, cfg, train_cfg(steps=2, log_every=1), tmp_path / "ae.safetensors", log=rows.append)
    assert len(rows) == 2 and rows[0].startswith("step=1 ")
    z = ae.latent_init(spec, n=4).requires_grad_(True)
    assert z.shape == (1, 4, 4, 4)
    out = ae(z)
    assert out.shape == (1, 1, 16, 16)
    out.mean().backward()
    assert z.grad.abs().sum() > 0
    again = load_baseline(tmp_path / "ae.safetensors")
    assert again.spec_name == "toy_blobs" and torch.equal(again(z.detach()), ae(z.detach()))


def test_gan_latent_baseline_wplus(tmp_path):
    from proxymat.benchmarks.baselines import GanLatentProxy, load_baseline, train_gan_latent

    cfg = ProxyConfig(n_params=4, res=16, w_dim=8, map_depth=1, channels=(8, 4, 4))
    g = train_gan_latent(toy_spec(), cfg, train_cfg(steps=2, r1_interval=2), tmp_path / "gan.safetensors")
    assert isinstance(g, GanLatentProxy) and g.num_ws == 2 + 3 + 3
    assert torch.allclose(g.w_avg, g.net.mapping(torch.randn(10_000, 4, generator=torch.Generator().manual_seed(0))).mean(0), atol=1e-5)
    wplus = g.init_wplus(2).requires_grad_(True)
    assert wplus.shape == (2, 8, 8)
    g(wplus).sum().backward()
    assert wplus.grad.abs().sum() > 0
    loaded = load_baseline(tmp_path / "gan.safetensors")
    assert torch.equal(loaded.w_avg, g.w_avg)
