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

Checkpoints (``<out stem>.ckpt.safetensors``, written atomically every
``checkpoint_every`` steps) hold the model, optimizer and discriminator tensors,
the sampler RNG state and a JSON ``checkpoint`` metadata entry (step, configs,
loss history). ``resume=True`` continues from it, so a killed run loses at
most one interval. Nothing is pickled.

With ``cache_dir`` every training batch is also stored on disk (see
:class:`BatchCache`): P in float32, the rendered targets in float16, one file
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

import copy
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..features import FEATURE_LAYERS, STYLE_LAYERS, TextureFeatures, downscale, feature_loss, style_loss
from ..nodes.generators.base import GeneratorSpec
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
from .model import ProxyConfig, ProxyNet, build_proxy, proxy_inputs, sample_params
from .weights import ProxyWeightsError, atomic_save_safetensors, param_table, read_safetensors, save_proxy

CHECKPOINT_VERSION = 1
VAL_SEED_OFFSET = 1_000_003
CACHE_CHUNK_STEPS = 100
CACHE_FORMAT = "proxymat-batch-cache"


@dataclass(frozen=True)
class TrainConfig:
    """Proxy training settings (``res=None``: the model's resolution; ``gan=None``: ``spec.stochastic``)."""

    steps: int = 10_000
    batch: int = 8
    res: int | None = None
    lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    l1_weight: float = 1.0
    feat_weight: float = 10.0
    style_weight: float = 1.0
    gan: bool | None = None
    gan_weight: float = 0.1
    gan_feat_weight: float = 1.0
    d_lr: float = 0.001
    r1_gamma: float = 10.0
    r1_interval: int = 16
    feat_res: int = 128
    features: str = "auto"
    checkpoint_every: int = 500
    val_every: int = 500
    val_size: int = 64
    log_every: int = 50
    seed: int = 0
    gen_seed: int = 0
    device: str = "cpu"
    num_threads: int | None = None
    cache_dir: str | None = None
    ema_halflife: float = 500.0
    init_from: str | None = None  # proxy weights to start from instead of random ones (fine-tuning)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "betas" in known:
            known["betas"] = tuple(float(b) for b in known["betas"])
        return cls(**known)


@dataclass
class TrainResult:
    model: ProxyNet
    step: int
    history: dict[str, list[dict[str, float]]]
    out_path: Path
    checkpoint_path: Path
    seconds: float = 0.0


# ------------------------------------------------------------------ discriminator
class Discriminator(nn.Module):
    """Small conditional D: conv pyramid down to 4x4, projection with an embedding of P.

    With ``n_params=0`` it is unconditional (no projection term).
    """

    def __init__(self, n_params: int, res: int, base: int = 16, cmax: int = 128, hidden: int = 128):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, base, 3, padding=1, padding_mode="circular"), nn.LeakyReLU(0.2)]
        c, r = base, res
        while r > 4:
            c_out = min(c * 2, cmax)
            layers += [nn.Conv2d(c, c_out, 3, padding=1, padding_mode="circular"), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
            c, r = c_out, r // 2
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c * r * r, hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 1)
        self.embed = (
            nn.Sequential(nn.Linear(n_params, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden)) if n_params else None
        )
        self.hidden = hidden

    def forward(self, img: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(self.convs(img))
        logit = self.out(h).squeeze(1)
        if self.embed is None or p is None:
            return logit
        return logit + (h * self.embed(p)).sum(dim=1) / math.sqrt(self.hidden)


# ------------------------------------------------------------------------ helpers
def checkpoint_path(out_path: str | Path) -> Path:
    out = Path(out_path)
    return out.with_name(f"{out.name.removesuffix('.safetensors')}.ckpt.safetensors")


def log_path(out_path: str | Path) -> Path:
    out = Path(out_path)
    return out.with_name(f"{out.name.removesuffix('.safetensors')}.log")


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


# -------------------------------------------------------------------- batch cache
def cache_key(spec: GeneratorSpec, res: int, batch: int, seed: int, gen_seed: int, chunk_steps: int) -> str:
    """Folder name of one data stream: generator, res, batch, sampler seed, generator seed, chunk size
    and a short hash of the parameter table, ``sample_box`` and ``fixed`` (a changed family never matches)."""
    family = {
        "params": param_table(spec),
        "sample_box": {k: [float(a), float(b)] for k, (a, b) in sorted(spec.sample_box.items())},
        "fixed": {k: float(v) for k, v in sorted(spec.fixed.items())},
    }
    digest = hashlib.sha256(json.dumps(family, sort_keys=True).encode()).hexdigest()[:10]
    return f"train_{spec.name}_r{res}_b{batch}_s{seed}_g{gen_seed}_c{chunk_steps}_{digest}"


class BatchCache:
    """Training batches of one data stream on disk, ``chunk_steps`` steps per safetensors file.

    ``chunk_NNNNNN.safetensors`` holds ``P`` (n, batch, n_params) float32 and
    ``images`` (n, batch, 1, res, res) float16 for the first ``n`` steps of
    the chunk. One chunk is held in memory; it is written atomically when full,
    on :meth:`flush` (checkpoints, end of run) and before moving to another
    chunk. An unreadable file, or one whose P differ from the live parameter
    stream, is reported through ``warn`` and re-rendered/rewritten.
    """

    def __init__(self, folder: str | Path, chunk_steps: int = CACHE_CHUNK_STEPS, warn: Callable[[str], None] = print):
        if chunk_steps < 1:
            raise ValueError("chunk_steps must be >= 1")
        self.folder, self.chunk_steps, self.warn = Path(folder), chunk_steps, warn
        self._chunk = -1
        self._p: list[torch.Tensor] = []
        self._img: list[torch.Tensor] = []
        self._dirty = False

    def chunk_path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:06d}.safetensors"

    def _read(self, path: Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if not path.is_file():
            return [], []
        try:
            tensors, meta = read_safetensors(path)
            p, img = tensors["P"], tensors["images"]
            if meta.get("format") != CACHE_FORMAT or p.ndim != 3 or img.ndim != 5 or img.dtype != torch.float16:
                raise ValueError("not a batch-cache chunk")
            if p.shape[:2] != img.shape[:2] or p.shape[0] > self.chunk_steps:
                raise ValueError(f"inconsistent shapes {tuple(p.shape)} / {tuple(img.shape)}")
        except (ProxyWeightsError, KeyError, ValueError) as exc:
            self.warn(f"cache: ignoring unreadable {path} ({str(exc).splitlines()[0]}); re-rendering")
            return [], []
        return list(p.unbind(0)), list(img.unbind(0))

    def _select(self, index: int) -> None:
        if index != self._chunk:
            self.flush()
            self._chunk, self._dirty = index, False
            self._p, self._img = self._read(self.chunk_path(index))

    def get(self, step: int, p: torch.Tensor) -> torch.Tensor | None:
        """Cached targets (float32, CPU) of ``step`` if stored for exactly these ``p``, else ``None``."""
        index, j = divmod(step, self.chunk_steps)
        self._select(index)
        if j >= len(self._p):
            return None
        if not torch.equal(self._p[j], p.detach().cpu()):
            self.warn(f"cache: {self.chunk_path(index)} differs from the parameter stream at step {step}; re-rendering")
            del self._p[j:], self._img[j:]
            self._dirty = True
            return None
        return self._img[j].float()

    def put(self, step: int, p: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Record freshly rendered ``images`` of ``step``; returns them as stored (float16-rounded, float32).

        Only a step that extends the held chunk contiguously is recorded (a run
        resumed in the middle of a chunk with nothing cached renders that chunk's
        rest without storing it).
        """
        half = images.detach().to(torch.float16)
        index, j = divmod(step, self.chunk_steps)
        self._select(index)
        if j == len(self._p):
            self._p.append(p.detach().cpu().clone())
            self._img.append(half.cpu())
            self._dirty = True
            if len(self._p) == self.chunk_steps:
                self.flush()
        return half.float()

    def flush(self) -> None:
        """Write the held chunk if it changed since it was read or written."""
        if self._dirty and self._p:
            tensors = {"P": torch.stack(self._p), "images": torch.stack(self._img)}
            atomic_save_safetensors(self.chunk_path(self._chunk), tensors, {"format": CACHE_FORMAT, "steps": str(len(self._p))})
        self._dirty = False


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


# --------------------------------------------------------------------- checkpoint
def _optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            out[f"{prefix}.{idx}.{name}"] = torch.as_tensor(value)
    return out


def _load_optimizer(opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], prefix: str) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


@dataclass
class _State:
    """Everything that evolves during training."""

    model: ProxyNet
    opt: torch.optim.Optimizer
    sampler: torch.Generator
    disc: Discriminator | None = None
    dopt: torch.optim.Optimizer | None = None
    step: int = 0
    history: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {"train": [], "val": []})
    seconds: float = 0.0  # training wall-clock over all runs, up to the last checkpoint
    started: float = field(default_factory=time.time)
    ddp_model: nn.Module | None = None  # DistributedDataParallel(RawForward(model)) in a multi-process run
    ddp_disc: nn.Module | None = None  # DistributedDataParallel(disc) in a multi-process GAN run
    ema: ProxyNet | None = None  # moving average of ``model`` (None: ``ema_halflife`` 0)
    init: dict[str, Any] | None = None  # the weights this run started from (``init_from``), if any

    def exported(self) -> ProxyNet:
        """The weights to validate and ship: the moving average when kept, else the raw model."""
        return self.ema if self.ema is not None else self.model

    def update_ema(self, halflife: float) -> None:
        """Move the average towards the current weights (half-life ``halflife`` steps, ramped in early on)."""
        if self.ema is None:
            return
        decay = ema_decay(halflife, self.step)
        with torch.no_grad():
            for avg, cur in zip(self.ema.state_dict().values(), self.model.state_dict().values()):
                if avg.is_floating_point():
                    avg.lerp_(cur, 1.0 - decay)
                else:
                    avg.copy_(cur)

    def elapsed(self) -> float:
        """Total training seconds including this run so far."""
        return self.seconds + (time.time() - self.started)

    def forward_raw(self, p: torch.Tensor) -> torch.Tensor:
        """Training forward of the proxy (through DDP when wrapped, so gradients are averaged)."""
        return self.ddp_model(p) if self.ddp_model is not None else self.model.forward_raw(p)


def ema_decay(halflife: float, step: int) -> float:
    """Per-step decay of the weight average: half-life ``halflife`` steps, but at most ``step / 10``
    (so early on the average does not hold on to the random initialization)."""
    h = min(float(halflife), max(step, 1) / 10.0)
    return 0.5 ** (1.0 / h) if h > 0 else 0.0


def _new_ema(model: ProxyNet) -> ProxyNet:
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def save_checkpoint(
    path: Path,
    st: _State,
    spec: GeneratorSpec,
    mcfg: ProxyConfig,
    tcfg: TrainConfig,
    backbone: str,
    rank_samplers: Sequence[torch.Tensor] = (),
) -> None:
    """Write the training state; ``rank_samplers`` are the sampler states of ranks 1.. (``rng.sampler.R``)."""
    tensors = {f"model.{k}": v for k, v in st.model.state_dict().items()}
    if st.ema is not None:
        tensors.update({f"ema.{k}": v for k, v in st.ema.state_dict().items()})
    tensors.update(_optimizer_tensors(st.opt, "opt"))
    if st.disc is not None and st.dopt is not None:
        tensors.update({f"disc.{k}": v for k, v in st.disc.state_dict().items()})
        tensors.update(_optimizer_tensors(st.dopt, "dopt"))
    tensors["rng.sampler"] = st.sampler.get_state()
    tensors.update({f"rng.sampler.{r}": s for r, s in enumerate(rank_samplers, start=1)})
    meta = {
        "version": CHECKPOINT_VERSION,
        "generator": spec.name,
        "step": st.step,
        "model_config": mcfg.to_dict(),
        "train_config": tcfg.to_dict(),
        "features": backbone,
        "history": st.history,
        "seconds_total": round(st.elapsed(), 2),
        "world_size": 1 + len(rank_samplers),
        "init": st.init,
    }
    atomic_save_safetensors(path, tensors, {"format": "proxymat-checkpoint", "checkpoint": json.dumps(meta)})


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and parsed metadata of a training checkpoint."""
    tensors, raw = read_safetensors(path)
    try:
        meta = json.loads(raw["checkpoint"])
    except (KeyError, ValueError) as exc:
        raise ProxyWeightsError(f"{path}: not a proxymat training checkpoint") from exc
    return tensors, meta


def _restore(st: _State, path: Path, spec: GeneratorSpec, mcfg: ProxyConfig, rank: int = 0) -> bool:
    """Load a checkpoint into ``st``; False when it holds no sampler state for ``rank`` (fresh stream kept)."""
    tensors, meta = read_checkpoint(path)
    if meta.get("generator") != spec.name:
        raise ProxyWeightsError(f"{path}: checkpoint is for generator {meta.get('generator')!r}, not {spec.name!r}")
    if ProxyConfig.from_dict(meta["model_config"]) != mcfg:
        raise ProxyWeightsError(f"{path}: checkpoint model config {meta['model_config']} differs from {mcfg.to_dict()}")
    st.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if st.ema is not None:
        ema_state = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        st.ema.load_state_dict(ema_state or st.model.state_dict())
    _load_optimizer(st.opt, tensors, "opt")
    if st.disc is not None and st.dopt is not None:
        disc_state = {k[5:]: v for k, v in tensors.items() if k.startswith("disc.")}
        if disc_state:  # a GAN run may resume a non-GAN checkpoint: D then starts fresh
            st.disc.load_state_dict(disc_state)
            _load_optimizer(st.dopt, tensors, "dopt")
    key = "rng.sampler" if rank == 0 else f"rng.sampler.{rank}"
    if key in tensors:
        st.sampler.set_state(tensors[key])
    st.seconds = float(meta.get("seconds_total", 0.0))
    st.init = meta.get("init")
    st.started = time.time()
    st.step = int(meta["step"])
    st.history = {"train": list(meta["history"].get("train", [])), "val": list(meta["history"].get("val", []))}
    return key in tensors


# -------------------------------------------------------------------- train steps
def _generator_step(
    st: _State, features: TextureFeatures, p: torch.Tensor, target: torch.Tensor, cfg: TrainConfig, gan: bool
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


def _d_loss_local(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor, p: torch.Tensor, with_r1: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(logistic D loss, R1 penalty or None) with separate fake / real / R1 passes (single process)."""
    loss = F.softplus(disc(fake, p)).mean() + F.softplus(-disc(real, p)).mean()
    if not with_r1:
        return loss, None
    real_r = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(real_r, p).sum(), real_r, create_graph=True)
    return loss, grad.square().sum(dim=(1, 2, 3)).mean()


def _d_loss_one_pass(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor, p: torch.Tensor, with_r1: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Same losses from ONE forward over [fake; real] (DDP allows one forward per backward)."""
    real_in = real.detach().requires_grad_(with_r1)
    fake_logit, real_logit = disc(torch.cat([fake, real_in]), torch.cat([p, p])).split(fake.shape[0])
    loss = F.softplus(fake_logit).mean() + F.softplus(-real_logit).mean()
    if not with_r1:
        return loss, None
    (grad,) = torch.autograd.grad(real_logit.sum(), real_in, create_graph=True)
    return loss, grad.square().sum(dim=(1, 2, 3)).mean()


def _discriminator_step(st: _State, p: torch.Tensor, target: torch.Tensor, cfg: TrainConfig) -> dict[str, float]:
    assert st.disc is not None and st.dopt is not None
    real = target * 2 - 1
    with torch.no_grad():
        fake = st.model.forward_raw(p)
    with_r1 = cfg.r1_gamma > 0 and st.step % cfg.r1_interval == 0
    if st.ddp_disc is None:
        loss, r1 = _d_loss_local(st.disc, fake, real, p, with_r1)
    else:
        loss, r1 = _d_loss_one_pass(st.ddp_disc, fake, real, p, with_r1)
    logs = {"d": loss.item()}
    if r1 is not None:
        loss = loss + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
        logs["r1"] = r1.item()
    st.dopt.zero_grad(set_to_none=True)
    loss.backward()
    st.dopt.step()
    return logs


# ------------------------------------------------------------------------- driver
def _init_state(spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, gan: bool, sampler_seed: int | None = None) -> _State:
    model = build_proxy(mcfg, seed=cfg.seed).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=1e-8)
    disc = dopt = None
    if gan:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 1)
            disc = Discriminator(mcfg.n_params, mcfg.res).to(cfg.device)
        dopt = torch.optim.Adam(disc.parameters(), lr=cfg.d_lr, betas=tuple(cfg.betas), eps=1e-8)
    sampler = torch.Generator().manual_seed(cfg.seed if sampler_seed is None else sampler_seed)
    ema = _new_ema(model) if cfg.ema_halflife > 0 else None
    return _State(model, opt, sampler, disc, dopt, ema=ema)


def init_from_weights(st: _State, source: str | Path, spec: GeneratorSpec, mcfg: ProxyConfig) -> dict[str, Any]:
    """Start ``st`` (model and weight average) from a trained proxy file, for fine-tuning on another sample box.

    The file must take the same inputs as ``spec`` (names and normalization ranges) and have the model
    config ``mcfg``; its generator may differ (e.g. a narrower family of the same generator). The optimizer
    starts fresh. ``st.seconds`` becomes the source's training time, so ``seconds_total`` stays cumulative.
    Returns what the weights file records about the start (``training.init``)."""
    from .weights import ProxyWeightsError, load_proxy, param_signature, param_table

    proxy = load_proxy(source)
    want, got = param_signature(param_table(spec)), param_signature(proxy.param_table)
    if want != got:
        raise ProxyWeightsError(f"{source}: proxy inputs {got} differ from generator {spec.name!r} inputs {want}")
    if proxy.config != mcfg:
        raise ProxyWeightsError(f"{source}: model config {proxy.config.to_dict()} differs from {mcfg.to_dict()}")
    state = proxy.net.state_dict()
    st.model.load_state_dict(state)
    if st.ema is not None:
        st.ema.load_state_dict(state)
    info = proxy.training_info
    seconds = float(info.get("seconds_total", 0.0) or 0.0)
    st.seconds = seconds
    return {"weights": str(source), "generator": proxy.spec_name, "steps": info.get("steps"), "seconds": seconds}


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
        st = _init_state(spec, mcfg, cfg, gan)
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


def _wrap_ddp(st: _State, device: str) -> None:
    """Wrap the proxy (training forward) and the discriminator in DistributedDataParallel."""
    st.ddp_model = wrap_ddp(RawForward(st.model), device)
    if st.disc is not None:
        st.ddp_disc = wrap_ddp(st.disc, device)


def _checkpoint_all(
    path: Path, st: _State, spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, backbone: str, ctx: DistContext
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
        st = _init_state(spec, mcfg, cfg, gan, sampler_seed=rank_seed(cfg.seed, ctx.rank))
        own_sampler = True
        if resume and ckpt.is_file():
            own_sampler = _restore(st, ckpt, spec, mcfg, rank=ctx.rank)
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
    out_path: Path, st: _State, spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, backbone: str,
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
