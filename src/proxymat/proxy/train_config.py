"""Proxy training settings: a plain dataclass with no torch import, so a parser can read its defaults cheaply."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


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
