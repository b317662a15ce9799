"""Material matching loss: texture statistics, colour and patch distributions, spectrum and a coarse L1.

``L = gram_weight * mean|G(render) - G(target)|``
``  + l1_weight * mean|ds(render) - ds(target)|``
``  + color_weight * SW(Lab pixels) + spectrum_weight * mean|log P(render) - log P(target)|``
``  + feature_sw_weight * SW(texture features) + profile_weight * mean|log R(render) - log R(target)|``
``  + patch_weight * mean over Laplacian levels of SW(7x7 colour patches)``
``  + band_weight * mean|log E(render) - log E(target)|``
``  + ps_weight * PS(render, target)``

G concatenates Gram matrices of texture features at scales 1, 1/2, 1/4; ds is
an area downsampling to ``ds_res`` pixels (colour and layout at a coarse
level, which Gram statistics ignore); SW is a sliced Wasserstein distance
(:mod:`.loss_terms`), P the luminance power spectrum, R the mean luminance in rings around the
centre (the flash highlight's falloff), E the luminance's mean power in oriented frequency bands and PS
the distance between the luminance's Portilla-Simoncelli statistics (:mod:`.loss_ps`).
Terms whose weight is 0 cost nothing.
"""

from __future__ import annotations


import torch

from ..exact_ops import adaptive_avg_pool
from ..features import TextureFeatures, downscale, gram
from .loss_config import LOSS_PRESETS, LossConfig, pick_scales  # noqa: F401  (re-exported)
from .loss_ps import ps_distance, ps_reference
from .loss_terms import (band_l1, band_reference, color_reference, color_sw, directions, feature_references,
                         feature_sw, patch_reference, patch_sw, profile_l1, profile_reference, spectrum_distance,
                         spectrum_reference)


class MaterialLoss:
    """Callable loss against a fixed target; the target's side of every term is computed once."""

    def __init__(self, target: torch.Tensor, config: LossConfig = LOSS_PRESETS["default"],
                 features: TextureFeatures | None = None):
        self.config = config
        self.features = (features or TextureFeatures(config.features)).to(target.device)
        self.target = target
        # Scales that would shrink the image below 32 px are dropped (small test resolutions).
        self.scales = pick_scales(int(target.shape[-1]), config.scales)
        c = config
        with torch.no_grad():
            feats = self._features(target)
            self._t_gram = self._gram(feats)
            self._t_ds = self._ds(target)
            self._color = color_reference(target, directions(3, c.color_directions, c.seed), c.color_pool) \
                if c.color_weight else None
            self._spectrum = spectrum_reference(target, c.spectrum_res, c.spectrum_smooth, c.spectrum_sectors) \
                if c.spectrum_weight else None
            self._profile = profile_reference(target, c.profile_rings) if c.profile_weight else None
            self._bands = band_reference(target, c.spectrum_res, c.band_bands, c.band_sectors, c.band_shape) \
                if c.band_weight else None
            self._ps = ps_reference(target, c.ps_res, c.ps_scales, c.ps_orientations) if c.ps_weight else None
            self._patch = patch_reference(target, c.patch_count, c.patch_directions, c.seed + 101) \
                if c.patch_weight else None
            self._fsw = [feature_references(f, c.feature_sw_directions, c.seed + 17 * k) for k, f in enumerate(feats)] \
                if c.feature_sw_weight else None

    def _features(self, img: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Texture features at every scale (only when a term needs them)."""
        if not (self.config.gram_weight or self.config.feature_sw_weight):
            return []
        out = []
        for s in self.scales:
            x = downscale(img, s)
            if min(x.shape[-2:]) < self.features.stride:
                raise ValueError(f"MaterialLoss: image {tuple(img.shape[-2:])} too small for scale {s} "
                                 f"(needs >= {self.features.stride} px)")
            out.append(self.features(x, self.config.layers))
        return out

    def _gram(self, feats: list[dict[str, torch.Tensor]]) -> torch.Tensor | None:
        if not self.config.gram_weight:
            return None
        return torch.cat([gram(f[n]).flatten(1) for f in feats for n in self.config.layers], dim=1)

    def _ds(self, img: torch.Tensor) -> torch.Tensor:
        return adaptive_avg_pool(img, self.config.ds_res)

    def terms(self, render: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each weighted term's unweighted value per image, ``{name: (B,)}`` (terms of weight 0 left out)."""
        c = self.config
        out: dict[str, torch.Tensor] = {}
        feats = self._features(render)
        if c.gram_weight:
            out["gram"] = (self._gram(feats) - self._t_gram).abs().mean(1)
        if c.l1_weight:
            out["l1"] = (self._ds(render) - self._t_ds).abs().flatten(1).mean(1)
        if self._color is not None:
            out["color"] = color_sw(render, self._color)
        if self._spectrum is not None:
            out["spectrum"] = spectrum_distance(render, self._spectrum)
        if self._profile is not None:
            out["profile"] = profile_l1(render, self._profile)
        if self._bands is not None:
            out["bands"] = band_l1(render, self._bands)
        if self._patch is not None:
            out["patch"] = patch_sw(render, self._patch)
        if self._ps is not None:
            out["ps"] = ps_distance(render, self._ps)
        if self._fsw is not None:
            out["feature_sw"] = sum(feature_sw(f, r) for f, r in zip(feats, self._fsw)) / len(self._fsw)
        return out

    def per_image(self, render: torch.Tensor) -> torch.Tensor:
        """Loss of each image of a batch (B,)."""
        weights = self.weights()
        total = torch.zeros(render.shape[0], device=render.device)
        for name, value in self.terms(render).items():
            total = total + weights[name] * value
        return total

    def weights(self) -> dict[str, float]:
        c = self.config
        return {"gram": c.gram_weight, "l1": c.l1_weight, "color": c.color_weight, "spectrum": c.spectrum_weight,
                "feature_sw": c.feature_sw_weight, "profile": c.profile_weight,
                "patch": c.patch_weight, "bands": c.band_weight, "ps": c.ps_weight}

    def __call__(self, render: torch.Tensor) -> torch.Tensor:
        return self.per_image(render).mean()


def describe(config: LossConfig, features: TextureFeatures) -> str:
    parts = []
    if config.gram_weight:
        parts.append(f"Gram L1 (x{config.gram_weight:g}, scales {list(config.scales)}, {features.backbone} features)")
    if config.l1_weight:
        parts.append(f"{config.ds_res}px L1 (x{config.l1_weight:g})")
    if config.color_weight:
        parts.append(f"Lab colour sliced Wasserstein (x{config.color_weight:g}, {config.color_directions} directions)")
    if config.spectrum_weight:
        parts.append(f"log power spectrum L1 (x{config.spectrum_weight:g}, {config.spectrum_res}px"
                     + (f", power averaged over {config.spectrum_smooth}x{config.spectrum_smooth} frequencies)"
                        if config.spectrum_smooth > 1 else
                        f", power averaged over 1-frequency rings x {config.spectrum_sectors} sectors)"
                        if config.spectrum_sectors else ")"))
    if config.profile_weight:
        parts.append(f"flash profile L1 (x{config.profile_weight:g}, {config.profile_rings} rings)")
    if config.band_weight:
        parts.append(f"oriented band energy{' (spread over orientations only)' if config.band_shape else ''} L1 "
                     f"(x{config.band_weight:g}, {config.band_bands} bands x "
                     f"{config.band_sectors} orientations at {config.spectrum_res}px)")
    if config.patch_weight:
        parts.append(f"patch sliced Wasserstein (x{config.patch_weight:g}, {config.patch_count} 7x7 patches per "
                     f"pyramid level, {config.patch_directions} directions)")
    if config.ps_weight:
        parts.append(f"Portilla-Simoncelli statistics L1 (x{config.ps_weight:g}, {config.ps_scales} scales x "
                     f"{config.ps_orientations} orientations at {config.ps_res}px)")
    if config.feature_sw_weight:
        parts.append(f"feature sliced Wasserstein (x{config.feature_sw_weight:g}, {features.backbone} features)")
    return " + ".join(parts) or "nothing (every weight is 0)"


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
