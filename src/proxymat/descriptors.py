"""Compact, weight-free image descriptors for graph retrieval.

:func:`describe` reduces each image of a batch (B, 3, H, W) in [0, 1] to one
vector made of named blocks (:data:`BLOCKS`):

* ``colour``: Lab means and standard deviations, and the 10/50/90 % quantiles
  of L (9 numbers);
* ``texture``: log mean energy of the fixed oriented filter bank
  (:class:`~proxymat.features.FilterBankFeatures`, layers ``relu2_2``,
  ``relu3_2``, ``relu4_2``: quadrature energy per opponent colour channel
  and orientation at three scales, and the rectified low-pass), 54 numbers;
* ``spectrum``: the radially averaged log power spectrum of the luminance
  in :data:`SPECTRUM_BINS` log-spaced frequency bands, its mean removed
  (the shape of the spectrum: scale and regularity), and the share of
  energy in 4 orientation wedges (anisotropy), 16 numbers.

Nothing is downloaded. :func:`distances` compares descriptors in the space
of a :class:`Metric` fitted to the index's own samples (no other data): a
per-dimension standardization with every block weighted equally, whatever its
length, then a whitening by the pooled within-graph covariance, shrunk toward
its mean eigenvalue by :data:`SHRINK`. The whitening plays down what a graph's
free parameters vary anyway (its colours, which every graph can reach) and
plays up what stays the same across a graph's samples (its structure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from .colorspace import srgb_to_lab

DESCRIPTOR_RES = 128
"""Side (pixels) at which images are described; larger ones are area-averaged down."""

SPECTRUM_BINS = 12
WEDGES = 4
TEXTURE_LAYERS = ("relu2_2", "relu3_2", "relu4_2")
BLOCKS: dict[str, int] = {"colour": 9, "texture": 54, "spectrum": SPECTRUM_BINS + WEDGES}
"""Block name -> length, in descriptor order."""


@lru_cache(maxsize=1)
def _filter_bank() -> torch.nn.Module:
    from .features import TextureFeatures

    return TextureFeatures("filters")


def _colour(x: torch.Tensor) -> torch.Tensor:
    lab = srgb_to_lab(x).flatten(2)
    q = torch.quantile(lab[:, 0], torch.tensor([0.1, 0.5, 0.9], dtype=lab.dtype), dim=1).T
    return torch.cat((lab.mean(2), lab.std(2, unbiased=False), q), dim=1) / torch.tensor([100.0, 50, 50, 25, 25, 25, 100, 100, 100])


def _texture(x: torch.Tensor) -> torch.Tensor:
    feats = _filter_bank()(x, TEXTURE_LAYERS)
    return torch.cat([torch.log(feats[name].mean(dim=(2, 3)) + 1e-3) for name in TEXTURE_LAYERS], dim=1)


def _spectrum_weights(res: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(band masks (bins, res, res//2+1) normalized per band, wedge masks (wedges, res, res//2+1))."""
    fy = torch.fft.fftfreq(res).view(-1, 1)
    fx = torch.fft.rfftfreq(res).view(1, -1)
    radius = (fx.square() + fy.square()).sqrt()
    edges = torch.logspace(math.log10(1.0 / res), math.log10(0.5), SPECTRUM_BINS + 1)
    bands = torch.stack([((radius >= lo) & (radius < hi)).float() for lo, hi in zip(edges[:-1], edges[1:])])
    bands = bands / bands.sum(dim=(1, 2), keepdim=True).clamp_min(1.0)
    angle = torch.atan2(fy, fx.expand_as(radius)) % math.pi  # orientation of the frequency, [0, pi)
    ring = (radius > 2.0 / res).float()
    wedge = torch.stack([((angle >= k * math.pi / WEDGES) & (angle < (k + 1) * math.pi / WEDGES)).float() * ring
                         for k in range(WEDGES)])
    return bands, wedge


def _spectrum(x: torch.Tensor) -> torch.Tensor:
    lum = (0.2126 * x[:, 0] + 0.7152 * x[:, 1] + 0.0722 * x[:, 2])
    lum = lum - lum.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.rfft2(lum, norm="ortho").abs().square()
    bands, wedge = _spectrum_weights(x.shape[-1])
    radial = torch.log(torch.einsum("bhw,khw->bk", power, bands) + 1e-8)
    radial = radial - radial.mean(dim=1, keepdim=True)
    share = torch.einsum("bhw,khw->bk", power, wedge)
    share = share / share.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.cat((radial, share * WEDGES), dim=1)


@torch.no_grad()
def describe(images: torch.Tensor) -> torch.Tensor:
    """Descriptors ``(B, sum(BLOCKS.values()))`` of images ``(B, 3, H, W)`` in [0, 1] (square or not:
    the centre square is used), described at :data:`DESCRIPTOR_RES` pixels."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"describe: expected images (B, 3, H, W), got {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(0.0, 1.0)
    h, w = x.shape[-2:]
    side = min(h, w)
    x = x[..., (h - side) // 2: (h - side) // 2 + side, (w - side) // 2: (w - side) // 2 + side]
    if side != DESCRIPTOR_RES:
        mode = "area" if side > DESCRIPTOR_RES else "bilinear"
        x = F.interpolate(x, size=(DESCRIPTOR_RES, DESCRIPTOR_RES), mode=mode,
                          align_corners=None if mode == "area" else False).clamp(0.0, 1.0)
    return torch.cat((_colour(x), _texture(x), _spectrum(x)), dim=1)


SHRINK = 0.1
"""Shrinkage of the within-graph covariance toward ``SHRINK * mean eigenvalue * I`` before it is inverted:
the whitening then never amplifies a direction more than ``1 / sqrt(SHRINK)``-fold beyond the average one."""


def block_weights() -> torch.Tensor:
    """Per-dimension weights ``(D,)`` that give every block of :data:`BLOCKS` the same say."""
    return torch.cat([torch.full((n,), 1.0 / math.sqrt(n)) for n in BLOCKS.values()])


@dataclass(frozen=True)
class Metric:
    """Where descriptors are compared: ``((d - mean) / std * block_weights()) @ whiten``."""

    mean: torch.Tensor  # (D,)
    std: torch.Tensor  # (D,)
    whiten: torch.Tensor  # (D, D), symmetric

    @staticmethod
    def fit(groups: list[torch.Tensor], shrink: float = SHRINK) -> "Metric":
        """From descriptors grouped by graph (each ``(N_g, D)``, N_g >= 1): the pool's mean and floored
        standard deviation, then the inverse square root of the shrunk within-graph covariance."""
        pool = torch.cat(groups).double()
        mean = pool.mean(dim=0)
        std = pool.std(dim=0, unbiased=False)
        std = std.clamp_min(max(float(std.mean()) * 1e-2, 1e-6))
        w = block_weights().double()
        centred = torch.cat([((g.double() - mean) / std * w) - ((g.double() - mean) / std * w).mean(dim=0) for g in groups])
        within = centred.T @ centred / max(len(centred) - len(groups), 1)
        evals, evecs = torch.linalg.eigh(within)
        evals = evals.clamp_min(0.0) + shrink * float(evals.clamp_min(0.0).mean()) + 1e-12
        whiten = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
        return Metric(mean.float(), std.float(), whiten.float())

    def __call__(self, d: torch.Tensor) -> torch.Tensor:
        return ((d - self.mean) / self.std * block_weights()) @ self.whiten


def distances(query: torch.Tensor, pool: torch.Tensor, metric: Metric) -> torch.Tensor:
    """Euclidean distances ``(Q, N)`` between query ``(Q, D)`` and pool ``(N, D)`` descriptors in ``metric``'s space."""
    return torch.cdist(metric(query.reshape(-1, query.shape[-1])), metric(pool))
