"""Proxy training: on-the-fly data from the real generator, losses, checkpoints, resume.

Each step draws ``batch`` parameter sets uniformly in the generator's sample
box (discrete parameters as integers, fixed ones pinned), renders them with the
real generator at ``res`` and a fixed seed (the proxy learns one image per
parameter vector), and fits the proxy on the parameters normalized over their
FULL [low, high] range (the sample box only narrows where data is drawn, so a
proxy input keeps its meaning whatever box it was trained on).

Loss: ``l1_weight * L1`` (images in [-1, 1]) ``+ feat_weight * L_feat``
(relu2_2, relu3_2, relu4_2) ``+ style_weight * L_style`` (Grams at
relu1_1..relu5_1) on :class:`~proxymat.features.TextureFeatures`; with
``gan`` (default: ``spec.stochastic``) the feature weight becomes
``gan_feat_weight`` and ``gan_weight * softplus(-D(G(P), P))`` is added, D
being a small projection-conditional discriminator trained with the logistic
loss and a lazy R1 penalty.

Checkpoints (:mod:`.checkpoint`, written atomically every ``checkpoint_every``
steps) hold the whole training state (:mod:`.train_state`); ``resume=True``
continues from one, so a killed run loses at most one interval. Nothing is
pickled.

With ``cache_dir`` every training batch is also stored on disk (see
:mod:`.batch_cache`): P in float32, the rendered targets in float16, one file
per :data:`CACHE_CHUNK_STEPS` steps, and re-used by later runs on the same
data stream. A run with ``cache_dir`` trains on the float16-rounded targets
whether they were just rendered or read back, so cached and uncached epochs of
that run are bit-identical.

Alongside the trained weights an exponential moving average of them is kept
(``ema_halflife`` steps; 0 turns it off). With Adam at beta1 = 0 the raw
weights jitter from step to step, so validation, the exported weights and the
checkpoint's ``ema.*`` tensors use the average; a checkpoint without them (an
older run) starts the average from its raw weights.

Passing a multi-process :class:`~.distributed.DistContext` (``proxymat proxy
train`` does under ``torchrun``) trains data-parallel: see :mod:`.distributed`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from ..features import FEATURE_LAYERS, STYLE_LAYERS, TextureFeatures, downscale, feature_loss, style_loss
from ..nodes.generators.base import GeneratorSpec
from .batch_cache import CACHE_CHUNK_STEPS, CACHE_FORMAT, BatchCache, cache_key
from .checkpoint import CHECKPOINT_VERSION, checkpoint_path, log_path, read_checkpoint, restore_checkpoint, save_checkpoint
from .discriminator import Discriminator, d_loss_local, d_loss_one_pass
from .distributed import (
    DistContext,
    RawForward,
    barrier,
    gather_tensor,
    process_group,
    rank_device,
    rank_seed,
    wrap_ddp,
)
from .model import ProxyConfig, ProxyNet, proxy_inputs, sample_params
from .train_config import TrainConfig
from .train_state import TrainState, ema_decay, init_from_weights, init_state
from .weights import ProxyWeightsError, atomic_save_safetensors, read_safetensors, save_proxy

__all__ = [
    "CACHE_CHUNK_STEPS", "CACHE_FORMAT", "CHECKPOINT_VERSION", "VAL_SEED_OFFSET", "BatchCache", "Discriminator",
    "TrainConfig", "TrainResult", "TrainState", "cache_key", "checkpoint_path", "ema_decay", "init_from_weights",
    "log_path", "measure_throughput", "next_batch", "read_checkpoint", "render_batch", "save_checkpoint",
    "texture_losses", "train_proxy", "validation_l1", "validation_set",
]  # fmt: skip

VAL_SEED_OFFSET = 1_000_003


@dataclass
class TrainResult:
    model: ProxyNet
    step: int
    history: dict[str, list[dict[str, float]]]
    out_path: Path
    checkpoint_path: Path
    seconds: float = 0.0


# ------------------------------------------------------------------------ helpers
def render_batch(spec: GeneratorSpec, real: Mapping[str, torch.Tensor], res: int, seed: int, device: str) -> torch.Tensor:
    """Real generator output (B, 1, res, res) in [0, 1] on ``device``."""
    out = spec({k: v.to(device) for k, v in real.items()}, res, seed)
    if out.shape[1:] != (1, res, res):
        raise ValueError(f"generator {spec.name!r} returned shape {tuple(out.shape)}, expected (B, 1, {res}, {res})")
    return out.to(device=device, dtype=torch.float32)


def validation_set(spec: GeneratorSpec, cfg: TrainConfig, res: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out (P, images) from a separate RNG seed, cached in ``cache_dir`` when set."""
    cache = None
    if cfg.cache_dir:
        cache = Path(cfg.cache_dir) / f"val_{spec.name}_r{res}_n{cfg.val_size}_s{cfg.seed}_g{cfg.gen_seed}.safetensors"
        if cache.is_file():
            try:
                tensors, _ = read_safetensors(cache)
                return tensors["P"], tensors["images"]
            except (ProxyWeightsError, KeyError):
                pass
    gen = torch.Generator().manual_seed(cfg.seed + VAL_SEED_OFFSET)
    ps, imgs = [], []
    for start in range(0, cfg.val_size, cfg.batch):
        p, real = sample_params(spec, min(cfg.batch, cfg.val_size - start), gen)
        ps.append(p)
        imgs.append(render_batch(spec, real, res, cfg.gen_seed, "cpu"))
    p_all, img_all = torch.cat(ps), torch.cat(imgs)
    if cache is not None:
        atomic_save_safetensors(cache, {"P": p_all, "images": img_all}, {"generator": spec.name})
    return p_all, img_all


def next_batch(
    spec: GeneratorSpec, cfg: TrainConfig, res: int, step: int, sampler: torch.Generator, cache: BatchCache | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, target) of ``step`` on ``cfg.device``; the sampler advances whether or not the cache hits."""
    p, real = sample_params(spec, cfg.batch, sampler)
    target = cache.get(step, p) if cache is not None else None
    if target is None:
        target = render_batch(spec, real, res, cfg.gen_seed, cfg.device)
        if cache is not None:
            target = cache.put(step, p, target)
    return p.to(cfg.device), target.to(cfg.device)


@torch.no_grad()
def validation_l1(model: ProxyNet, p: torch.Tensor, images: torch.Tensor, batch: int, device: str) -> float:
    """Mean |proxy - real| in [0, 1] over the validation set."""
    total = 0.0
    for start in range(0, p.shape[0], batch):
        out = model(p[start : start + batch].to(device))
        total += (out - images[start : start + batch].to(device)).abs().sum().item()
    return total / images.numel()


def texture_losses(
    features: TextureFeatures, pred01: torch.Tensor, target01: torch.Tensor, feat_res: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature loss, style loss) between prediction and target in [0, 1]."""
    if pred01.shape[-1] > feat_res:
        pred01 = downscale(pred01, feat_res / pred01.shape[-1])
        target01 = downscale(target01, feat_res / target01.shape[-1])
    layers = tuple(dict.fromkeys(STYLE_LAYERS + FEATURE_LAYERS))
    fp = features(pred01, layers)
    with torch.no_grad():
        ft = features(target01, layers)
    return feature_loss(fp, ft, FEATURE_LAYERS), style_loss(fp, ft, STYLE_LAYERS)


# -------------------------------------------------------------------- train steps
def _generator_step(
    st: TrainState, features: TextureFeatures, p: torch.Tensor, target: torch.Tensor, cfg: TrainConfig, gan: bool
) -> dict[str, float]:
    raw = st.forward_raw(p)
    l1 = (raw - (target * 2 - 1)).abs().mean()
    feat, style = texture_losses(features, (raw + 1) * 0.5, target, cfg.feat_res)
    feat_w = cfg.gan_feat_weight if gan else cfg.feat_weight
    loss = cfg.l1_weight * l1 + feat_w * feat + cfg.style_weight * style
    logs = {"l1": l1.item(), "feat": feat.item(), "style": style.item()}
    if gan and st.disc is not None:
        st.disc.requires_grad_(False)
        adv = F.softplus(-st.disc(raw, p)).mean()
        st.disc.requires_grad_(True)
        loss = loss + cfg.gan_weight * adv
        logs["g_adv"] = adv.item()
    st.opt.zero_grad(set_to_none=True)
    loss.backward()
    st.opt.step()
    logs["loss"] = loss.item()
    return logs


def _discriminator_step(st: TrainState, p: torch.Tensor, target: torch.Tensor, cfg: TrainConfig) -> dict[str, float]:
    assert st.disc is not None and st.dopt is not None
    real = target * 2 - 1
    with torch.no_grad():
        fake = st.model.forward_raw(p)
    with_r1 = cfg.r1_gamma > 0 and st.step % cfg.r1_interval == 0
    if st.ddp_disc is None:
        loss, r1 = d_loss_local(st.disc, fake, real, p, with_r1)
    else:
        loss, r1 = d_loss_one_pass(st.ddp_disc, fake, real, p, with_r1)
    logs = {"d": loss.item()}
    if r1 is not None:
        loss = loss + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
        logs["r1"] = r1.item()
    st.dopt.zero_grad(set_to_none=True)
    loss.backward()
    st.dopt.step()
    return logs


# ------------------------------------------------------------------------- driver
def _check_configs(spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig) -> int:
    n = len(proxy_inputs(spec))
    if mcfg.n_params != n:
        raise ValueError(f"model takes {mcfg.n_params} params but generator {spec.name!r} has {n} proxy inputs")
    res = cfg.res or mcfg.res
    if res != mcfg.res:
        raise ValueError(f"training res {res} differs from the model res {mcfg.res}")
    if cfg.batch < 1 or cfg.steps < 0 or cfg.checkpoint_every < 1 or cfg.val_every < 1 or cfg.log_every < 1:
        raise ValueError("batch, checkpoint_every, val_every and log_every must be >= 1 and steps >= 0")
    if not (cfg.ema_halflife >= 0 and math.isfinite(cfg.ema_halflife)):
        raise ValueError(f"ema_halflife must be a finite number >= 0, got {cfg.ema_halflife}")
    return res


def _mean_logs(logs: list[dict[str, float]], step: int) -> dict[str, float]:
    keys = sorted({k for row in logs for k in row})
    out = {k: sum(r[k] for r in logs if k in r) / max(1, sum(k in r for r in logs)) for k in keys}
    return {"step": step, **out}


def measure_throughput(
    spec: GeneratorSpec, model_config: ProxyConfig, train_config: TrainConfig, steps: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Seconds per training step (generator + proxy + losses + Adam), nothing written to disk."""
    cfg, mcfg = train_config, model_config
    res = _check_configs(spec, mcfg, cfg)
    gan = spec.stochastic if cfg.gan is None else bool(cfg.gan)
    old_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        features = TextureFeatures(cfg.features).to(cfg.device)
        st = init_state(spec, mcfg, cfg, gan)
        times = {"generator": 0.0, "step": 0.0}
        for k in range(warmup + steps):
            t0 = time.perf_counter()
            p, real = sample_params(spec, cfg.batch, st.sampler)
            target = render_batch(spec, real, res, cfg.gen_seed, cfg.device)
            t1 = time.perf_counter()
            _generator_step(st, features, p.to(cfg.device), target, cfg, gan)
            if gan:
                _discriminator_step(st, p.to(cfg.device), target, cfg)
            if str(cfg.device).startswith("cuda"):
                torch.cuda.synchronize()
            st.step += 1
            if k >= warmup:
                times["generator"] += t1 - t0
                times["step"] += time.perf_counter() - t0
        per_step = times["step"] / steps
        return {
            "s_per_step": per_step,
            "steps_per_s": 1.0 / per_step,
            "generator_s_per_step": times["generator"] / steps,
            "params": float(sum(q.numel() for q in st.model.parameters())),
        }
    finally:
        torch.set_num_threads(old_threads)


def _wrap_ddp(st: TrainState, device: str) -> None:
    """Wrap the proxy (training forward) and the discriminator in DistributedDataParallel."""
    st.ddp_model = wrap_ddp(RawForward(st.model), device)
    if st.disc is not None:
        st.ddp_disc = wrap_ddp(st.disc, device)


def _checkpoint_all(
    path: Path, st: TrainState, spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, backbone: str, ctx: DistContext
) -> None:
    """Collective: gather every rank's sampler state; rank 0 writes the checkpoint."""
    states = gather_tensor(st.sampler.get_state(), ctx, cfg.device)
    if ctx.is_main:
        save_checkpoint(path, st, spec, mcfg, cfg, backbone, rank_samplers=states[1:])


def _open_cache(spec: GeneratorSpec, cfg: TrainConfig, res: int, rank: int, warn: Callable[[str], None]) -> BatchCache | None:
    if not cfg.cache_dir:
        return None
    key = cache_key(spec, res, cfg.batch, rank_seed(cfg.seed, rank), cfg.gen_seed, CACHE_CHUNK_STEPS)
    return BatchCache(Path(cfg.cache_dir) / key, CACHE_CHUNK_STEPS, warn)


def train_proxy(
    spec: GeneratorSpec,
    model_config: ProxyConfig,
    train_config: TrainConfig,
    out_path: str | Path,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    resume: bool = False,
    distributed: DistContext | None = None,
) -> TrainResult:
    """Train a proxy of ``spec`` and write it to ``out_path`` (fp16, see :mod:`.weights`).

    With ``resume`` an existing checkpoint next to ``out_path`` is continued
    (up to ``train_config.steps`` total steps); otherwise training starts fresh.
    ``distributed`` (see :func:`~.distributed.dist_context`) makes this process
    one rank of a data-parallel ``torchrun`` job: the process group is set up
    and torn down here, a CUDA device becomes ``cuda:LOCAL_RANK``, and only
    rank 0 writes the log, checkpoint and weights (every rank returns a result).
    """
    ctx = distributed or DistContext()
    cfg = replace(train_config, device=rank_device(train_config.device, ctx)) if ctx.enabled else train_config
    with process_group(ctx, cfg.device):
        return _train(spec, model_config, cfg, Path(out_path), progress, log, resume, ctx)


def _train(
    spec: GeneratorSpec,
    mcfg: ProxyConfig,
    cfg: TrainConfig,
    out_path: Path,
    progress: bool,
    log: Callable[[str], None] | None,
    resume: bool,
    ctx: DistContext,
) -> TrainResult:
    from tqdm.auto import tqdm

    res = _check_configs(spec, mcfg, cfg)
    gan = spec.stochastic if cfg.gan is None else bool(cfg.gan)
    ckpt = checkpoint_path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    old_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    logfile = log_path(out_path).open("a", encoding="utf-8") if ctx.is_main else None
    bar = None

    def emit(line: str) -> None:
        if logfile is None:
            return
        logfile.write(line + "\n")
        logfile.flush()
        if log is not None:
            log(line)
        elif bar is not None and progress:
            bar.write(line)

    def warn(line: str) -> None:
        if ctx.is_main:
            emit(line)
        else:
            print(f"[rank {ctx.rank}] {line}", file=sys.stderr, flush=True)

    try:
        t0 = time.time()
        features = TextureFeatures(cfg.features).to(cfg.device)
        st = init_state(spec, mcfg, cfg, gan, sampler_seed=rank_seed(cfg.seed, ctx.rank))
        own_sampler = True
        if resume and ckpt.is_file():
            own_sampler = restore_checkpoint(st, ckpt, spec, mcfg, rank=ctx.rank)
        elif cfg.init_from:
            st.init = init_from_weights(st, cfg.init_from, spec, mcfg)
            warn(f"starting from {cfg.init_from} ({st.init['generator']}, {st.init['steps']} steps, "
                 f"{st.init['seconds'] / 3600:.2f} h of training counted in seconds_total)")
        if ctx.enabled:
            _wrap_ddp(st, cfg.device)
        cache = _open_cache(spec, cfg, res, ctx.rank, warn)
        val_p, val_img = validation_set(spec, cfg, res) if ctx.is_main else (None, None)
        bar = tqdm(total=cfg.steps, initial=min(st.step, cfg.steps), disable=not (progress and ctx.is_main),
                   desc=f"proxy {spec.name}", dynamic_ncols=True)  # fmt: skip
        header = f"train {spec.name}: steps {st.step}->{cfg.steps}, res {res}, batch {cfg.batch}, gan {gan}, features {features.backbone}"
        if ctx.enabled:
            header += f", world size {ctx.world_size} (effective batch {cfg.batch * ctx.world_size})"
        emit(header + (f", cache {cache.folder}" if cache is not None else ""))
        if not own_sampler:
            warn(f"checkpoint {ckpt} holds no sampler state for rank {ctx.rank}: starting its fresh stream")
        window: list[dict[str, float]] = []
        while st.step < cfg.steps:
            p, target = next_batch(spec, cfg, res, st.step, st.sampler, cache)
            logs = _generator_step(st, features, p, target, cfg, gan)
            if gan:
                logs.update(_discriminator_step(st, p, target, cfg))
            st.step += 1
            st.update_ema(cfg.ema_halflife)
            window.append(logs)
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}", l1=f"{logs['l1']:.4f}")
            if st.step % cfg.log_every == 0 or st.step == cfg.steps:
                row = _mean_logs(window, st.step)
                st.history["train"].append(row)
                window = []
                emit(" ".join(f"{k}={v:.5g}" if k != "step" else f"step={int(v)}" for k, v in row.items()))
            if ctx.is_main and (st.step % cfg.val_every == 0 or st.step == cfg.steps):
                val = validation_l1(st.exported(), val_p, val_img, cfg.batch, cfg.device)
                row = {"step": st.step, "l1": val}
                line = f"step={st.step} val_l1={val:.5f}"
                if st.ema is not None:
                    row["l1_raw"] = validation_l1(st.model, val_p, val_img, cfg.batch, cfg.device)
                    line += f" (raw weights {row['l1_raw']:.5f})"
                st.history["val"].append(row)
                emit(line)
            if st.step % cfg.checkpoint_every == 0:
                if cache is not None:
                    cache.flush()
                _checkpoint_all(ckpt, st, spec, mcfg, cfg, features.backbone, ctx)
        if cache is not None:
            cache.flush()
        _checkpoint_all(ckpt, st, spec, mcfg, cfg, features.backbone, ctx)
        seconds = time.time() - t0
        if ctx.is_main:
            _save_final(out_path, st, spec, mcfg, cfg, features.backbone, seconds, ctx)
            emit(f"saved {out_path} (step {st.step}, {seconds:.1f} s)")
        barrier(ctx)
        return TrainResult(st.exported(), st.step, st.history, out_path, ckpt, seconds)
    finally:
        if bar is not None:
            bar.close()
        if logfile is not None:
            logfile.close()
        torch.set_num_threads(old_threads)


def _save_final(
    out_path: Path, st: TrainState, spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, backbone: str,
    seconds: float, ctx: DistContext,
) -> None:  # fmt: skip
    """Write the fp16 proxy weights (the unwrapped model) with training info and the last val metric."""
    val_hist = st.history["val"]
    training: dict[str, Any] = {
        "steps": st.step,
        "train_config": cfg.to_dict(),
        "features": backbone,
        "seconds_this_run": round(seconds, 2),
        "seconds_total": round(st.elapsed(), 2),
        "val_l1_history": [[int(v["step"]), float(v["l1"])] for v in val_hist],
    }
    if st.init:
        training["init"] = st.init
    if ctx.enabled:
        training.update(world_size=ctx.world_size, effective_batch=cfg.batch * ctx.world_size)
    metrics = {"val_l1": val_hist[-1]["l1"]} if val_hist else {}
    save_proxy(out_path, st.exported(), spec, mcfg, metrics=metrics, training=training)
