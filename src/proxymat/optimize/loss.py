"""Material matching loss: multi-scale Gram descriptors plus a low-resolution L1.

``L = gram_weight * mean|G(render) - G(target)| + l1_weight * mean|ds(render) - ds(target)|``
where G concatenates Gram matrices of texture features at scales 1, 1/2, 1/4
and ds is an area downsampling to ``ds_res`` pixels (colour and layout at a
coarse level, which Gram statistics ignore).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..features import STYLE_LAYERS, TextureFeatures, gram_descriptor


@dataclass(frozen=True)
class LossConfig:
    gram_weight: float = 1.0
    l1_weight: float = 1.0
    scales: tuple[float, ...] = (1.0, 0.5, 0.25)
    ds_res: int = 16
    layers: tuple[str, ...] = tuple(STYLE_LAYERS)
    features: str = "auto"  # "auto" (VGG19 if present, else built-in), "random", or a weights path


class MaterialLoss:
    """Callable loss against a fixed target; the target's descriptor is computed once."""

    def __init__(self, target: torch.Tensor, config: LossConfig = LossConfig(), features: TextureFeatures | None = None):
        self.config = config
        self.features = (features or TextureFeatures(config.features)).to(target.device)
        self.target = target
        # Scales that would shrink the image below 32 px are dropped (small test resolutions).
        self.scales = pick_scales(int(target.shape[-1]), config.scales)
        with torch.no_grad():
            self._t_gram = self._gram(target)
            self._t_ds = self._ds(target)

    def _gram(self, img: torch.Tensor) -> torch.Tensor:
        return gram_descriptor(img, self.features, self.scales, self.config.layers)

    def _ds(self, img: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(img, self.config.ds_res)

    def per_image(self, render: torch.Tensor) -> torch.Tensor:
        """Loss of each image of a batch (B,)."""
        c = self.config
        total = torch.zeros(render.shape[0], device=render.device)
        if c.gram_weight:
            total = total + c.gram_weight * (self._gram(render) - self._t_gram).abs().mean(1)
        if c.l1_weight:
            total = total + c.l1_weight * (self._ds(render) - self._t_ds).abs().flatten(1).mean(1)
        return total

    def __call__(self, render: torch.Tensor) -> torch.Tensor:
        return self.per_image(render).mean()


def describe(config: LossConfig, features: TextureFeatures) -> str:
    return (f"Gram L1 (x{config.gram_weight:g}, scales {list(config.scales)}, {features.backbone} features) "
            f"+ {config.ds_res}px L1 (x{config.l1_weight:g})")


def pick_scales(res: int, scales: Sequence[float], min_px: int = 32) -> tuple[float, ...]:
    """Drop scales whose image would be smaller than ``min_px`` (small test resolutions)."""
    kept = tuple(s for s in scales if res * s >= min_px)
    return kept or (1.0,)


def encode_like_render(target: torch.Tensor, encoding: str) -> torch.Tensor:
    """Bring a target photo to the renders' encoding (gamma 2.2 on linear radiance).

    ``"srgb"``: the photo is already display encoded and is compared as is;
    ``"linear"``: the photo holds linear values and is gamma encoded.
    """
    if encoding == "srgb":
        return target
    if encoding == "linear":
        return target.clamp(0.0, 1.0).pow(1.0 / 2.2)
    raise ValueError(f"target encoding must be 'srgb' or 'linear', not {encoding!r}")
