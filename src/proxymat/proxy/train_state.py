"""What evolves during proxy training: the proxy, its optimizer, the discriminator, the weight average.

:func:`init_state` builds a fresh :class:`TrainState` from the configs;
:func:`init_from_weights` starts one from a trained proxy file (fine-tuning).
GAN runs also hold a :class:`~.discriminator.Discriminator` and its optimizer.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..nodes.generators.base import GeneratorSpec
from .discriminator import Discriminator
from .grow import added_inputs, grow_into, grows_from, widen_inputs
from .model import ProxyConfig, ProxyNet, build_proxy
from .train_config import TrainConfig
from .weights import ProxyWeightsError, load_proxy, param_signature, param_table


@dataclass
class TrainState:
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


def new_ema(model: ProxyNet) -> ProxyNet:
    """A frozen copy of ``model`` in eval mode, to hold the weight average."""
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def init_state(spec: GeneratorSpec, mcfg: ProxyConfig, cfg: TrainConfig, gan: bool, sampler_seed: int | None = None) -> TrainState:
    """Fresh state: proxy and Adam from ``cfg.seed``, D (``gan``) from ``cfg.seed + 1`` without touching the
    global RNG, the sampler from ``sampler_seed`` (default ``cfg.seed``), the average when ``cfg.ema_halflife``."""
    model = build_proxy(mcfg, seed=cfg.seed).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=1e-8)
    disc = dopt = None
    if gan:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 1)
            disc = Discriminator(mcfg.n_params, mcfg.res).to(cfg.device)
        dopt = torch.optim.Adam(disc.parameters(), lr=cfg.d_lr, betas=tuple(cfg.betas), eps=1e-8)
    sampler = torch.Generator().manual_seed(cfg.seed if sampler_seed is None else sampler_seed)
    ema = new_ema(model) if cfg.ema_halflife > 0 else None
    return TrainState(model, opt, sampler, disc, dopt, ema=ema)


def init_from_weights(st: TrainState, source: str | Path, spec: GeneratorSpec, mcfg: ProxyConfig) -> dict[str, Any]:
    """Start ``st`` (model and weight average) from a trained proxy file, for fine-tuning on another sample box.

    The file must take the same inputs as ``spec`` (names and normalization ranges), or a subset of them in
    the same order (the others start with no effect: :func:`.grow.widen_inputs`), and have the model config
    ``mcfg`` (with ``spec``'s input count), or one that ``mcfg`` grows from (progressive resolution,
    :mod:`.grow`); its generator
    may differ (e.g. a narrower family of the same generator). The optimizer starts fresh. ``st.seconds`` becomes the source's training time, so ``seconds_total`` stays cumulative.
    Returns what the weights file records about the start (``training.init``)."""
    proxy = load_proxy(source)
    want, got = param_signature(param_table(spec)), param_signature(proxy.param_table)
    state, config = proxy.net.state_dict(), proxy.config
    if want != got:
        where = added_inputs(got, want)
        if where is None:
            raise ProxyWeightsError(f"{source}: proxy inputs {got} differ from generator {spec.name!r} inputs {want} "
                                    f"(a proxy can only gain inputs, keeping its own in order)")
        try:
            state, config = widen_inputs(state, config, where, len(want))
        except ValueError as err:
            raise ProxyWeightsError(f"{source}: {err}") from None
    if config == mcfg:
        st.model.load_state_dict(state)
    elif grows_from(config, mcfg):
        grow_into(st.model, state, config)
    else:
        raise ProxyWeightsError(f"{source}: model config {config.to_dict()} differs from {mcfg.to_dict()} "
                                f"(and {mcfg.res} px does not grow from it)")
    if st.ema is not None:
        st.ema.load_state_dict(st.model.state_dict())
    info = proxy.training_info
    seconds = float(info.get("seconds_total", 0.0) or 0.0)
    st.seconds = seconds
    return {"weights": str(source), "generator": proxy.spec_name, "steps": info.get("steps"), "seconds": seconds}
