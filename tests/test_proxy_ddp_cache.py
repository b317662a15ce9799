"""On-disk training-batch cache and multi-process (torchrun / DDP) proxy training."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from proxymat.nodes.generators import get_generator
from proxymat.proxy import train as T
from proxymat.proxy.checkpoint import restore_checkpoint
from proxymat.proxy.distributed import RANK_SEED_STRIDE, DistContext, backend_for, dist_context, rank_device, rank_seed
from proxymat.proxy.model import ProxyConfig, proxy_inputs, sample_params
from proxymat.proxy.train import BatchCache, TrainConfig, cache_key, checkpoint_path, log_path, read_checkpoint, train_proxy
from proxymat.proxy.train_state import init_state
from proxymat.proxy.weights import atomic_save_safetensors, load_proxy, read_safetensors

CLOUDS = get_generator("clouds")


def counting_spec(calls: list[int]):
    """The clouds generator, recording the batch size of every call."""

    def fn(params, res, seed):
        calls.append(int(next(iter(params.values())).shape[0]))
        return CLOUDS.fn(params, res, seed)

    return dataclasses.replace(CLOUDS, fn=fn)


def model_cfg() -> ProxyConfig:
    return ProxyConfig(n_params=len(proxy_inputs(CLOUDS)), res=16, w_dim=16, map_depth=1, channels=(8, 8, 8))


def train_cfg(cache: Path, **kw) -> TrainConfig:
    base = dict(steps=6, batch=2, checkpoint_every=3, val_every=3, val_size=4, log_every=1, features="random",
                num_threads=1, feat_res=16, r1_interval=2, cache_dir=str(cache))  # fmt: skip
    return TrainConfig(**{**base, **kw})


def stream_dir(cache: Path, seed: int = 0, chunk: int = 4) -> Path:
    return cache / cache_key(CLOUDS, 16, 2, seed, 0, chunk)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(T, "CACHE_CHUNK_STEPS", 4)


# ------------------------------------------------------------------------ cache
def test_second_run_reads_the_cache_and_ends_with_equal_weights(tmp_path, small_chunks):
    cache, calls = tmp_path / "cache", []
    first = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), tmp_path / "a.safetensors", progress=False)
    assert sum(calls) == 6 * 2 + 4  # six training batches + the validation set
    folder = stream_dir(cache)
    assert sorted(p.name for p in folder.iterdir()) == ["chunk_000000.safetensors", "chunk_000001.safetensors"]
    c0, _ = read_safetensors(folder / "chunk_000000.safetensors")
    c1, _ = read_safetensors(folder / "chunk_000001.safetensors")
    assert c0["P"].shape == (4, 2, 4) and c0["images"].shape == (4, 2, 1, 16, 16) and c0["images"].dtype == torch.float16
    assert c1["P"].shape[0] == 2
    # stored batch 5 is what a fresh render of the same stream gives, rounded to float16
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        p, real = sample_params(CLOUDS, 2, gen)
    assert torch.equal(c1["P"][1], p)
    assert torch.equal(c1["images"][1], T.render_batch(CLOUDS, real, 16, 0, "cpu").half())

    calls.clear()
    second = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), tmp_path / "b.safetensors", progress=False)
    assert calls == []  # generator never called: batches and validation set come from the cache
    assert same_weights(first.model, second.model)
    ta, _ = read_checkpoint(checkpoint_path(tmp_path / "a.safetensors"))
    tb, _ = read_checkpoint(checkpoint_path(tmp_path / "b.safetensors"))
    assert torch.equal(ta["rng.sampler"], tb["rng.sampler"])  # the sampler stayed in step
    assert "cache " + str(folder) in log_path(tmp_path / "b.safetensors").read_text().splitlines()[0]


def test_resume_extends_a_partial_chunk_and_matches_an_uninterrupted_run(tmp_path, small_chunks):
    cache, calls = tmp_path / "cache", []
    out = tmp_path / "r.safetensors"
    train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache, steps=3), out, progress=False)
    assert read_safetensors(stream_dir(cache) / "chunk_000000.safetensors")[0]["P"].shape[0] == 3
    resumed = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), out, progress=False, resume=True)
    assert sum(calls) == 6 * 2 + 4
    assert read_safetensors(stream_dir(cache) / "chunk_000000.safetensors")[0]["P"].shape[0] == 4
    calls.clear()
    whole = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), tmp_path / "w.safetensors", progress=False)
    assert calls == [] and same_weights(resumed.model, whole.model)


def test_corrupt_cache_files_are_rerendered_with_a_warning(tmp_path, small_chunks):
    cache, calls = tmp_path / "cache", []
    first = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), tmp_path / "a.safetensors", progress=False)
    c0, c1 = stream_dir(cache) / "chunk_000000.safetensors", stream_dir(cache) / "chunk_000001.safetensors"
    c0.write_bytes(c0.read_bytes()[:200])  # truncated
    c1.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    calls.clear()
    lines: list[str] = []
    again = train_proxy(counting_spec(calls), model_cfg(), train_cfg(cache), tmp_path / "b.safetensors",
                        progress=False, log=lines.append)  # fmt: skip
    assert sum(calls) == 6 * 2  # training batches re-rendered, validation set still cached
    warnings = [line for line in lines if line.startswith("cache: ignoring unreadable")]
    assert len(warnings) == 2 and str(c0) in warnings[0] and str(c1) in warnings[1]
    assert same_weights(first.model, again.model)
    assert read_safetensors(c0)[0]["P"].shape[0] == 4 and read_safetensors(c1)[0]["P"].shape[0] == 2  # rewritten


def test_stale_chunk_with_other_parameters_is_replaced(tmp_path):
    warnings: list[str] = []
    cache = BatchCache(tmp_path, chunk_steps=3, warn=warnings.append)
    img = torch.rand(2, 1, 4, 4)
    for step in range(2):
        stored = cache.put(step, torch.full((2, 1), float(step)), img)
    assert torch.equal(stored, img.half().float())
    cache.flush()
    fresh = BatchCache(tmp_path, chunk_steps=3, warn=warnings.append)
    assert torch.equal(fresh.get(0, torch.zeros(2, 1)), img.half().float()) and warnings == []
    assert fresh.get(1, torch.full((2, 1), 7.0)) is None  # P differ from what was stored
    assert len(warnings) == 1 and "differs from the parameter stream at step 1" in warnings[0]
    fresh.put(1, torch.full((2, 1), 7.0), img)
    fresh.flush()
    assert torch.equal(read_safetensors(tmp_path / "chunk_000000.safetensors")[0]["P"][1], torch.full((2, 1), 7.0))


def test_cache_key_changes_with_the_family_and_stream():
    base = cache_key(CLOUDS, 16, 2, 0, 0, 100)
    assert base == cache_key(dataclasses.replace(CLOUDS), 16, 2, 0, 0, 100)
    boxed = dataclasses.replace(CLOUDS, sample_box={**CLOUDS.sample_box, "roughness": (0.2, 0.4)})
    pinned = dataclasses.replace(CLOUDS, fixed={"disorder": 0.0})
    keys = {base, cache_key(boxed, 16, 2, 0, 0, 100), cache_key(pinned, 16, 2, 0, 0, 100),
            cache_key(CLOUDS, 32, 2, 0, 0, 100), cache_key(CLOUDS, 16, 4, 0, 0, 100),
            cache_key(CLOUDS, 16, 2, 1, 0, 100), cache_key(CLOUDS, 16, 2, 0, 1, 100)}  # fmt: skip
    assert len(keys) == 7 and base.startswith("train_clouds_r16_b2_s0_g0_c100_")


# ------------------------------------------------------------------ distributed
def test_dist_context_rank_seeds_and_devices():
    assert dist_context({}) == DistContext() and not DistContext().enabled
    assert dist_context({"WORLD_SIZE": "1", "RANK": "0"}) == DistContext()
    ctx = dist_context({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.enabled, ctx.is_main) == (3, 4, 1, True, False)
    with pytest.raises(ValueError, match="RANK=5"):
        dist_context({"WORLD_SIZE": "2", "RANK": "5"})
    with pytest.raises(ValueError, match="bad torchrun environment"):
        dist_context({"WORLD_SIZE": "two"})
    assert rank_seed(7, 0) == 7 and rank_seed(7, 2) == 7 + 2 * RANK_SEED_STRIDE
    seeds = {rank_seed(0, r) for r in range(64)}
    assert len(seeds) == 64 and T.VAL_SEED_OFFSET not in seeds  # no rank trains on the validation stream
    assert rank_device("cuda", ctx) == "cuda:1" and rank_device("cuda:0", ctx) == "cuda:1"
    assert rank_device("cpu", ctx) == "cpu" and rank_device("cuda:3", DistContext()) == "cuda:3"
    assert backend_for("cuda:1") == "nccl" and backend_for("cpu") == "gloo"


def test_restore_picks_the_sampler_state_of_its_rank(tmp_path):
    spec, mcfg, cfg = CLOUDS, model_cfg(), train_cfg(tmp_path, gan=False)
    st = init_state(spec, mcfg, cfg, gan=False)
    other = [torch.Generator().manual_seed(rank_seed(0, r)).get_state() for r in (1, 2)]
    path = tmp_path / "c.ckpt.safetensors"
    T.save_checkpoint(path, st, spec, mcfg, cfg, "random", rank_samplers=other)
    assert read_checkpoint(path)[1]["world_size"] == 3
    for rank in (0, 1, 2):
        fresh = init_state(spec, mcfg, cfg, gan=False, sampler_seed=999)
        assert restore_checkpoint(fresh, path, spec, mcfg, rank=rank)
        assert torch.equal(fresh.sampler.get_state(), ([st.sampler.get_state()] + other)[rank])
    fresh = init_state(spec, mcfg, cfg, gan=False, sampler_seed=rank_seed(0, 3))
    assert not restore_checkpoint(fresh, path, spec, mcfg, rank=3)  # no state stored: keeps its own fresh stream
    assert torch.equal(fresh.sampler.get_state(), torch.Generator().manual_seed(rank_seed(0, 3)).get_state())


def torchrun(tmp_path: Path, out: Path, *extra: str, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--standalone",
           "-m", "proxymat.cli", "proxy", "train", "clouds", "--res", "16", "--batch", "2", "--w-dim", "16",
           "--channels", "8", "8", "8", "--features", "random", "--threads", "1", "--quiet",
           "--checkpoint-every", "2", "--val-every", "2", "--out", str(out), *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_process_torchrun_run_writes_rank0_outputs_only(tmp_path):
    out = tmp_path / "w.safetensors"
    proc = torchrun(tmp_path, out, "--steps", "4", "--cache-dir", str(tmp_path / "cache"))
    assert proc.stdout.count("saved ") == 1  # only rank 0 reports
    proxy = load_proxy(out, spec=CLOUDS)
    info = proxy.training_info
    assert info["steps"] == 4 and info["world_size"] == 2 and info["effective_batch"] == 4
    log = log_path(out).read_text().splitlines()
    assert len([line for line in log if line.startswith("train clouds:")]) == 1
    assert "world size 2 (effective batch 4)" in log[0]
    # each rank drew its own stream: rank 0 the single-process one, rank 1 from rank_seed(0, 1)
    tensors, meta = read_checkpoint(checkpoint_path(out))
    assert meta["world_size"] == 2 and meta["step"] == 4
    for key, rank in (("rng.sampler", 0), ("rng.sampler.1", 1)):
        gen = torch.Generator().manual_seed(rank_seed(0, rank))
        for _ in range(4):
            sample_params(CLOUDS, 2, gen)
        assert torch.equal(tensors[key], gen.get_state())
    streams = sorted(p.name.split("_")[4] for p in (tmp_path / "cache").glob("train_clouds_*"))
    assert streams == ["s0", f"s{RANK_SEED_STRIDE}"]
    # rank 1's gradients were averaged in: the result differs from rank 0's stream trained alone
    from proxymat.cli import main

    single = tmp_path / "single.safetensors"
    args = ["proxy", "train", "clouds", "--res", "16", "--batch", "2", "--w-dim", "16", "--channels", "8", "8", "8",
            "--features", "random", "--threads", "1", "--quiet", "--checkpoint-every", "2", "--val-every", "2",
            "--steps", "4", "--cache-dir", str(tmp_path / "cache"), "--out", str(single)]  # fmt: skip
    assert main(args) == 0
    alone, _ = read_safetensors(single)
    both, _ = read_safetensors(out)
    assert alone.keys() == both.keys() and any(not torch.equal(alone[k], both[k]) for k in alone)
    assert "world_size" not in load_proxy(single, spec=CLOUDS).training_info


@pytest.mark.slow
def test_two_process_resume_matches_an_uninterrupted_run(tmp_path):
    whole, part = tmp_path / "whole.safetensors", tmp_path / "part.safetensors"
    torchrun(tmp_path, whole, "--steps", "4")
    torchrun(tmp_path, part, "--steps", "2")
    proc = torchrun(tmp_path, part, "--steps", "4")
    assert proc.stdout.count("resuming from") == 1
    assert "steps 2->4" in log_path(part).read_text()
    a, _ = read_safetensors(whole)
    b, _ = read_safetensors(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
