"""Ablation baselines of the supplemental (§2): latent-space proxies.

* :class:`AutoencoderProxy`: a conv autoencoder trained to reconstruct the
  generator's maps; matching optimizes its 4x4xC latent ``z`` (initialized
  with the mean code of random maps, :meth:`AutoencoderProxy.latent_init`).
* :class:`GanLatentProxy`: an unconditional StyleGAN-like generator (the
  :class:`ProxyNet` synthesis fed with Gaussian ``z``) trained adversarially on
  the generator's maps; matching optimizes a W+ code initialized at the mean
  w of 10,000 random ``z`` (:meth:`GanLatentProxy.init_wplus`).

Both latents are more expressive than the generator's parameters, which is
the point of the ablation. Training reuses the sampling of :mod:`.train`;
there is no checkpoint/resume here. Files are safetensors with JSON metadata.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..nodes.generators.base import GeneratorSpec
from ..proxy.model import ProxyConfig, ProxyNet, sample_params
from ..proxy.train import Discriminator, TrainConfig, render_batch, texture_losses
from ..proxy.weights import ProxyWeightsError, atomic_save_safetensors, read_safetensors
from ..resolution import PROXY_RES, ResolutionRule

AUTOENCODER_RES = ResolutionRule(8, PROXY_RES.hi, power_of_two=True)
"""The proxy rule from 8 px: the encoder halves the map down to a 4x4 latent at least once."""

BASELINE_FORMAT = "proxymat-baseline"


# ------------------------------------------------------------------- autoencoder
@dataclass(frozen=True)
class AutoencoderConfig:
    res: int = 128
    latent_channels: int = 64
    base: int = 16
    cmax: int = 128

    def widths(self) -> list[int]:
        """Channels at res, res/2, ..., 4."""
        n = int(self.res).bit_length() - 3  # levels from res down to 4
        return [min(self.base << k, self.cmax) for k in range(n + 1)]


def _conv(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    """Circular conv (3x3, or 4x4 stride 2 to halve the size), He-initialized for leaky ReLU."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2 if stride == 1 else 1,
                     padding_mode="circular")
    nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")
    nn.init.zeros_(conv.bias)
    return conv


class AutoencoderProxy(nn.Module):
    """Conv encoder to a (C, 4, 4) latent and decoder back to (1, res, res); ``forward(z)`` decodes.

    Resampling must keep pixel-level detail: the generators' maps are stationary textures
    whose per-image content is almost all high-frequency (per-image means hardly differ), so
    an avg-pool encoder and a smoothing ([1,3,3,1]) upsampling decoder can only produce the
    batch mean and collapse to it. Hence strided 4x4 convs down and sub-pixel convs
    (3x3 conv to 4x channels + pixel shuffle) up.
    """

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        if not AUTOENCODER_RES.accepts(config.res):
            raise ValueError(f"AutoencoderConfig: res must be a power of two >= {AUTOENCODER_RES.lo} "
                             f"(at most {AUTOENCODER_RES.hi}), got {config.res}")
        self.config = config
        ws = config.widths()
        enc: list[nn.Module] = [_conv(1, ws[0]), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(ws[:-1], ws[1:]):
            enc += [_conv(c_in, c_out, 4, 2), nn.LeakyReLU(0.2)]
        enc.append(_conv(ws[-1], config.latent_channels))
        self.encoder = nn.Sequential(*enc)
        self.dec_in = _conv(config.latent_channels, ws[-1])
        self.dec = nn.ModuleList(_conv(c_in, 4 * c_out) for c_in, c_out in zip(ws[::-1][:-1], ws[::-1][1:]))
        self.dec_out = _conv(ws[0], 1)

    def encode(self, img: torch.Tensor) -> torch.Tensor:
        return self.encoder(img * 2 - 1)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.dec_in(z), 0.2)
        for conv in self.dec:
            x = F.leaky_relu(F.pixel_shuffle(conv(x), 2), 0.2)
        return self.dec_out(x)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ((self.decode_raw(z) + 1) * 0.5).clamp(0.0, 1.0)

    @torch.no_grad()
    def latent_init(self, spec: GeneratorSpec, n: int = 64, seed: int = 0, gen_seed: int = 0) -> torch.Tensor:
        """Mean latent code of ``n`` random maps of ``spec`` -> (1, C, 4, 4)."""
        p_gen = torch.Generator().manual_seed(seed)
        _, real = sample_params(spec, n, p_gen)
        dev = next(self.parameters()).device
        img = render_batch(spec, real, self.config.res, gen_seed, str(dev))
        return self.encode(img).mean(dim=0, keepdim=True)


def train_autoencoder(
    spec: GeneratorSpec,
    config: AutoencoderConfig,
    train_config: TrainConfig,
    out_path: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> AutoencoderProxy:
    """Fit the autoencoder on on-the-fly maps (L1 + feature + style losses)."""
    cfg = train_config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = AutoencoderProxy(config).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))

    def step(img: torch.Tensor, _p: torch.Tensor, features) -> dict[str, float]:
        raw = model.decode_raw(model.encode(img))
        l1 = (raw - (img * 2 - 1)).abs().mean()
        feat, style = texture_losses(features, (raw + 1) * 0.5, img, cfg.feat_res)
        loss = cfg.l1_weight * l1 + cfg.feat_weight * feat + cfg.style_weight * style
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "l1": l1.item()}

    history = _loop(spec, cfg, config.res, step, log)
    if out_path is not None:
        save_baseline(out_path, "autoencoder", model, spec, asdict(config), {"history": history})
    return model


# ------------------------------------------------------------------- GAN latent
class GanLatentProxy(nn.Module):
    """Unconditional StyleGAN-like generator; ``forward(wplus)`` -> map in [0, 1]."""

    def __init__(self, config: ProxyConfig):
        super().__init__()
        self.net = ProxyNet(config)
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    @property
    def z_dim(self) -> int:
        return self.net.config.n_params

    @property
    def num_ws(self) -> int:
        return self.net.num_ws

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Raw image from Gaussian codes z (B, z_dim)."""
        return self.net.forward_raw(z)

    def forward(self, wplus: torch.Tensor) -> torch.Tensor:
        return ((self.net.synthesis(wplus) + 1) * 0.5).clamp(0.0, 1.0)

    @torch.no_grad()
    def compute_w_avg(self, n: int = 10_000, seed: int = 0) -> torch.Tensor:
        """Store and return the mean w over ``n`` Gaussian z."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.z_dim, generator=gen).to(self.w_avg.device)
        self.w_avg.copy_(self.net.mapping(z).mean(dim=0))
        return self.w_avg

    def init_wplus(self, batch: int = 1) -> torch.Tensor:
        """A W+ code (B, num_ws, w_dim) at the mean w, ready to optimize."""
        return self.w_avg[None, None].expand(batch, self.num_ws, -1).clone()


def train_gan_latent(
    spec: GeneratorSpec,
    model_config: ProxyConfig,
    train_config: TrainConfig,
    out_path: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> GanLatentProxy:
    """Non-saturating logistic GAN with lazy R1 on the generator's maps (``n_params`` = z dim)."""
    cfg = train_config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = GanLatentProxy(model_config).to(cfg.device)
        disc = Discriminator(0, model_config.res).to(cfg.device)
    g_opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    d_opt = torch.optim.Adam(disc.parameters(), lr=cfg.d_lr, betas=tuple(cfg.betas))
    z_gen = torch.Generator().manual_seed(cfg.seed + 17)
    counter = {"step": 0}

    def step(img: torch.Tensor, _p: torch.Tensor, _features) -> dict[str, float]:
        z = torch.randn(img.shape[0], model.z_dim, generator=z_gen).to(cfg.device)
        disc.requires_grad_(False)
        g_loss = F.softplus(-disc(model.sample(z))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        disc.requires_grad_(True)
        real = (img * 2 - 1).detach().requires_grad_(counter["step"] % cfg.r1_interval == 0)
        with torch.no_grad():
            fake = model.sample(z)
        real_logit = disc(real)
        d_loss = F.softplus(disc(fake)).mean() + F.softplus(-real_logit).mean()
        if real.requires_grad and cfg.r1_gamma > 0:
            (grad,) = torch.autograd.grad(real_logit.sum(), real, create_graph=True)
            d_loss = d_loss + grad.square().sum(dim=(1, 2, 3)).mean() * (cfg.r1_gamma / 2) * cfg.r1_interval
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        counter["step"] += 1
        return {"g": g_loss.item(), "d": d_loss.item()}

    history = _loop(spec, cfg, model_config.res, step, log, need_features=False)
    model.compute_w_avg()
    if out_path is not None:
        save_baseline(out_path, "gan_latent", model, spec, model_config.to_dict(), {"history": history})
    return model


# ------------------------------------------------------------------------ shared
def _loop(
    spec: GeneratorSpec,
    cfg: TrainConfig,
    res: int,
    step: Callable[[torch.Tensor, torch.Tensor, Any], dict[str, float]],
    log: Callable[[str], None] | None,
    need_features: bool = True,
) -> list[dict[str, float]]:
    """Run ``cfg.steps`` steps on freshly sampled maps; returns the logged rows."""
    from ..features import TextureFeatures

    features = TextureFeatures(cfg.features).to(cfg.device) if need_features else None
    sampler = torch.Generator().manual_seed(cfg.seed)
    old_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    history: list[dict[str, float]] = []
    t0 = time.time()
    try:
        for k in range(cfg.steps):
            p, real = sample_params(spec, cfg.batch, sampler)
            row = step(render_batch(spec, real, res, cfg.gen_seed, cfg.device), p.to(cfg.device), features)
            if (k + 1) % cfg.log_every == 0 or k + 1 == cfg.steps:
                history.append({"step": k + 1, **row})
                if log is not None:
                    log(f"step={k + 1} " + " ".join(f"{n}={v:.5g}" for n, v in row.items()) + f" t={time.time() - t0:.1f}s")
    finally:
        torch.set_num_threads(old_threads)
    return history


def save_baseline(
    path: str | Path, kind: str, model: nn.Module, spec: GeneratorSpec, config: Mapping[str, Any], extra: Mapping[str, Any]
) -> None:
    meta = {"format": BASELINE_FORMAT, "kind": kind, "generator": spec.name, "config": json.dumps(dict(config))}
    meta["extra"] = json.dumps(dict(extra))
    atomic_save_safetensors(path, model.state_dict(), meta)


def load_baseline(path: str | Path, device: str | torch.device = "cpu") -> AutoencoderProxy | GanLatentProxy:
    """Load a file written by :func:`save_baseline`."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != BASELINE_FORMAT:
        raise ProxyWeightsError(f"{path}: not a proxymat baseline file")
    config = json.loads(meta["config"])
    with torch.random.fork_rng(devices=[]):
        if meta["kind"] == "autoencoder":
            model: nn.Module = AutoencoderProxy(AutoencoderConfig(**config))
        elif meta["kind"] == "gan_latent":
            model = GanLatentProxy(ProxyConfig.from_dict(config))
        else:
            raise ProxyWeightsError(f"{path}: unknown baseline kind {meta['kind']!r}")
    model.load_state_dict(tensors)
    model.spec_name = meta["generator"]  # type: ignore[assignment]
    return model.to(device).eval()


__all__ = [
    "AutoencoderConfig",
    "AutoencoderProxy",
    "GanLatentProxy",
    "load_baseline",
    "save_baseline",
    "train_autoencoder",
    "train_gan_latent",
]
