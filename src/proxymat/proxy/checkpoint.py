"""Training checkpoints: the whole training state in one safetensors file, written atomically.

A checkpoint (``<out stem>.ckpt.safetensors``, see :func:`checkpoint_path`)
holds the model, weight-average, optimizer and discriminator tensors, the
sampler RNG state of every rank and a JSON ``checkpoint`` metadata entry (step,
configs, loss history, training seconds). Nothing is pickled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..nodes.generators.base import GeneratorSpec
from .model import ProxyConfig
from .train_config import TrainConfig
from .train_state import TrainState
from .weights import ProxyWeightsError, atomic_save_safetensors, read_safetensors

CHECKPOINT_VERSION = 1


def checkpoint_path(out_path: str | Path) -> Path:
    """The checkpoint next to the weights file ``out_path``: ``<stem>.ckpt.safetensors``."""
    out = Path(out_path)
    return out.with_name(f"{out.name.removesuffix('.safetensors')}.ckpt.safetensors")


def log_path(out_path: str | Path) -> Path:
    """The training log next to the weights file ``out_path``: ``<stem>.log``."""
    out = Path(out_path)
    return out.with_name(f"{out.name.removesuffix('.safetensors')}.log")


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


def save_checkpoint(
    path: Path,
    st: TrainState,
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


def restore_checkpoint(st: TrainState, path: Path, spec: GeneratorSpec, mcfg: ProxyConfig, rank: int = 0) -> bool:
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
