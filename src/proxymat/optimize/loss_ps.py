"""Portilla-Simoncelli texture statistics as a material-loss term (through the ``plenoptic`` package).

Portilla and Simoncelli (2000) describe a texture by the statistics of a steerable pyramid: pixel
moments, the auto-correlation of each scale's low-pass image and of each band's magnitude, the
correlations between orientations and between neighbouring scales, and the high-pass residual's
variance. ``plenoptic`` (MIT, differentiable PyTorch) computes them; it is an optional dependency
(``pip install 'proxymat[ps]'``), imported only when a loss with ``ps_weight > 0`` is built.

The term compares the luminance's statistics at ``res`` px (renders are area-resized to it, so its cost
does not grow with the fit's resolution). The statistics come in groups of very different magnitudes
(a kurtosis near 3, a high-pass variance near 1e-4), so each group's mean absolute difference is divided
by a scale and the groups are averaged: every group has the same say whatever its size or units. Groups
with units (variances, standard deviations, pixel moments) and the kurtosis are divided by the target's
mean magnitude in the group; the correlations and skewnesses, signed and without units, by at least 1,
since a mean near 0 (a symmetric texture's skewness) would blow their layout-to-layout scatter up.

>>> ref = ps_reference(target, res=128)
>>> ps_distance(render, ref)       # (B,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .loss_terms import luminance

PS_EPS = 1e-4  # added to each group's target magnitude (a flat target's statistics are near 0)
DITHER = 1e-4  # standard deviation of the fixed noise added to every luminance (see _statistics)
DITHER_SEED = 20001
SIGNED_GROUPS = ("correlation", "skew")  # plenoptic group names holding signed, unit-free statistics


class PlenopticMissing(ImportError):
    """The Portilla-Simoncelli term was asked for without the ``plenoptic`` package installed."""


def _model(res: int, scales: int, orientations: int) -> Any:
    try:
        from plenoptic.models import PortillaSimoncelli
    except ImportError as e:  # one line the command line can print as is
        raise PlenopticMissing("the Portilla-Simoncelli loss term needs the plenoptic package: "
                               "pip install 'proxymat[ps]'") from e
    if res < 2 ** (scales + 3):  # the coarsest low-pass image must hold the 7x7 auto-correlation
        raise ValueError(f"Portilla-Simoncelli statistics over {scales} scales need images of at least "
                         f"{2 ** (scales + 3)} px, not {res}")
    return PortillaSimoncelli((res, res), n_scales=scales, n_orientations=orientations)


@dataclass(frozen=True)
class PSReference:
    """The target's statistics ``(S,)``, each statistic's group normalizer ``(S,)`` and group index ``(S,)``,
    the number of statistics in each group ``(groups,)`` and the dither (:func:`_dither`) every luminance gets."""

    model: Any
    res: int
    stats: torch.Tensor
    scale: torch.Tensor
    group: torch.Tensor
    counts: torch.Tensor
    dither: torch.Tensor


def _dither(res: int, like: torch.Tensor) -> torch.Tensor:
    """A fixed Gaussian noise image ``(res, res)`` of standard deviation :data:`DITHER`."""
    g = torch.Generator().manual_seed(DITHER_SEED)
    return (DITHER * torch.randn(res, res, generator=g, dtype=torch.float64)).to(like)


def _statistics(model: Any, img: torch.Tensor, res: int, dither: torch.Tensor) -> torch.Tensor:
    """The luminance's statistics ``(B, S)`` of images ``(B, C, H, W)`` at ``res`` px.

    The same faint fixed noise (``dither``, :func:`_dither`) is added to every luminance: a band with no energy at all (a flat image, an
    axis-aligned grid's diagonal bands) makes plenoptic's correlations 0 / 0, whose NaN would end a fit. The
    noise's variance (1e-8) is a ten-thousandth of the faintest grain's high-pass variance in the examples."""
    return model((luminance(img, res) + dither.to(img)).unsqueeze(1))[:, 0]


def _groups(model: Any, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The group index of each of the ``count`` statistics (plenoptic's named groups, in its order) and each
    group's scale floor: 1 for signed unit-free groups (:data:`SIGNED_GROUPS`), else 0."""
    index = model.convert_to_dict(torch.arange(count, dtype=torch.float32).view(1, 1, count))
    group = torch.full((count,), -1, dtype=torch.long)
    floors = []
    for g, (name, values) in enumerate(index.items()):
        positions = values[~torch.isnan(values)].long()
        group[positions] = g
        floors.append(1.0 if any(word in name for word in SIGNED_GROUPS) else 0.0)
    if bool((group < 0).any()):
        raise RuntimeError("plenoptic's statistics did not map onto its named groups")
    return group, torch.tensor(floors)


def ps_reference(target: torch.Tensor, res: int = 128, scales: int = 4, orientations: int = 4) -> PSReference:
    """The target's side of :func:`ps_distance` (the first image of ``target``)."""
    model = _model(res, scales, orientations).to(target.device)
    dither = _dither(res, target)
    with torch.no_grad():
        stats = _statistics(model, target[:1], res, dither)[0]
    group, floors = _groups(model, stats.numel())
    group = group.to(target.device)
    counts = torch.bincount(group, minlength=len(floors)).to(stats)
    magnitude = torch.zeros_like(counts).index_add_(0, group, stats.abs()) / counts
    scale = torch.maximum(magnitude + PS_EPS, floors.to(magnitude))
    return PSReference(model, res, stats, scale[group], group, counts, dither)


def ps_distance(render: torch.Tensor, ref: PSReference) -> torch.Tensor:
    """Mean over the statistics' groups of each group's mean relative absolute difference: (B,)."""
    diff = (_statistics(ref.model, render, ref.res, ref.dither) - ref.stats).abs() / ref.scale
    per_group = diff.new_zeros(diff.shape[0], ref.counts.numel()).index_add(1, ref.group, diff)
    return (per_group / ref.counts.to(diff)).mean(1)
