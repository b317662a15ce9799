"""Settings of the material loss and its named variants (torch-free, so the command line reads them).

:class:`LossConfig` holds every weight of :class:`~proxymat.optimize.loss.MaterialLoss`;
:data:`LOSS_PRESETS` names the variants that ``proxymat bench recovery`` compares and
``optimize --loss`` offers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from ..feature_layers import STYLE_LAYERS


@dataclass(frozen=True)
class LossConfig:
    """Weights and settings of every term of the material loss (a weight of 0 turns its term off)."""

    gram_weight: float = 1.0
    l1_weight: float = 1.0
    scales: tuple[float, ...] = (1.0, 0.5, 0.25)
    ds_res: int = 16
    layers: tuple[str, ...] = tuple(STYLE_LAYERS)
    features: str = "auto"  # "auto" (VGG19 if present, else built-in), "random", or a weights path
    color_weight: float = 0.0
    color_directions: int = 32
    color_pool: int = 0  # 0: every pixel; N: area-pool to N x N first
    spectrum_weight: float = 0.0
    spectrum_res: int = 128
    spectrum_smooth: int = 1  # > 1: power averaged over smooth x smooth frequency blocks before the log
    spectrum_sectors: int = 0  # > 0: power averaged over polar cells (1-frequency rings x this many sectors)
    profile_weight: float = 0.0
    profile_rings: int = 16
    band_weight: float = 0.0
    band_bands: int = 6  # log-spaced radial bands of the oriented band energy
    band_sectors: int = 8  # orientation sectors per band
    band_shape: bool = False  # compare only each band's spread over the orientations, not its level
    ps_weight: float = 0.0  # Portilla-Simoncelli statistics (needs the plenoptic package)
    ps_res: int = 128  # the statistics are computed at this size (renders area-resized to it)
    ps_scales: int = 4
    ps_orientations: int = 4
    feature_sw_weight: float = 0.0
    feature_sw_directions: int = 0  # 0: as many as the layer has channels
    patch_weight: float = 0.0
    patch_count: int = 1024  # random 7x7 patch positions per pyramid level
    patch_directions: int = 64
    seed: int = 0  # random projection directions


# Named loss variants compared by the recovery benchmark (``proxymat bench recovery``). ``default`` is what
# optimize, fit and the benchmarks use: Gram statistics, the Lab colour distribution, the log power spectrum
# and the sliced Wasserstein distance between 7x7 colour patches over a Laplacian pyramid (grain and local
# structure that Gram statistics average away; the patch-SWD metric's family, with its own positions and
# directions). The 16 px L1 of ``gram`` compares coarse layouts, which differ between a photo and any render,
# so it rewards bland renders (less cell disorder, averaged hues); the recovery benchmark chose to drop it,
# to add the spectrum, then the patch term (docs/RESULTS.md). ``no_patch`` is the default without the patch
# term (1.2x faster at 256 px, 1.8x at 128 px); the variants below it change one thing of ``no_patch``,
# which they were measured against.
_COLOR = LossConfig(l1_weight=0.0, color_weight=1.0, color_pool=64, color_directions=16)
_SPECTRUM = replace(_COLOR, spectrum_weight=0.02)
_BASE = replace(_SPECTRUM, patch_weight=3.0)
LOSS_PRESETS: dict[str, LossConfig] = {
    "default": _BASE,
    "patch": _BASE,  # the default's name while it was a variant
    "no_patch": _SPECTRUM,
    "color": _COLOR,  # without the spectrum term either
    "gram": LossConfig(),  # the first default: Gram + 16 px L1
    "color_full": replace(_SPECTRUM, color_pool=0, color_directions=32),  # colour SW on every pixel (slower)
    "fsw": replace(_SPECTRUM, gram_weight=0.0, feature_sw_weight=1.0),  # feature sliced Wasserstein, not Gram
    "all": replace(_SPECTRUM, feature_sw_weight=1.0),
    # the spectrum's envelope: power averaged over 4 x 4 frequency blocks (single bins scatter as noise)
    "smooth_spectrum": replace(_SPECTRUM, spectrum_smooth=4),
    "smooth2_spectrum": replace(_SPECTRUM, spectrum_smooth=2),  # 2 x 2 blocks: keeps the low frequencies' resolution
    # power averaged over polar cells, 1 frequency wide and a quarter of the orientations (centred on the
    # axes): the scatter shrinks as with blocks, but a count or a cell size moves the peak by whole rings
    "polar_spectrum": replace(_SPECTRUM, spectrum_sectors=4),
    # the flash highlight's falloff: mean log luminance in 16 rings around the centre
    "profile": replace(_SPECTRUM, profile_weight=0.05),
    # the default with the spectrum weighted twice: of the terms, the spectrum varies least between two
    # layouts of one material, and it sees the scratches' orientation spread
    "spectrum2": replace(_BASE, spectrum_weight=0.04),
    # the default with the oriented band energy: the log power in 6 bands x 8 orientations, which sees the
    # feature size and the orientation spread (parallel scratches against a tangle) with little scatter
    "bands": replace(_BASE, band_weight=0.05),
    "bands2": replace(_BASE, band_weight=0.1),  # the same, weighted twice
    # the band term's orientation part only: each band's log energy minus its mean over the orientations, which
    # an isotropic texture leaves at 0 whatever its grain (specks and dense bumps alike) and strokes do not
    "orient": replace(_BASE, band_weight=0.05, band_shape=True),
    # the default with Portilla-Simoncelli statistics of the luminance (a steerable pyramid's moments,
    # auto- and cross-correlations; plenoptic package): the classic parametric texture model
    "ps": replace(_BASE, ps_weight=0.2),
}


LOSS_NAMES: tuple[str, ...] = tuple(LOSS_PRESETS)


def pick_scales(res: int, scales: Sequence[float], min_px: int = 32) -> tuple[float, ...]:
    """Drop scales whose image would be smaller than ``min_px`` (small test resolutions)."""
    kept = tuple(s for s in scales if res * s >= min_px)
    return kept or (1.0,)


def material_loss_config(res: int, features: str = "auto", name: str = "default") -> LossConfig:
    """The named variant at the scales that fit ``res`` (1, 1/2, 1/4 down to 32 px) with ``features``."""
    if name not in LOSS_PRESETS:
        raise ValueError(f"unknown loss variant {name!r} (known: {', '.join(LOSS_PRESETS)})")
    return replace(LOSS_PRESETS[name], scales=pick_scales(res, (1.0, 0.5, 0.25)), features=features)
