"""Differentiable distribution and spectrum terms of the material loss.

Each term compares a batch of renders ``(B, 3, H, W)`` with one target whose
side of the comparison is computed once (``*_reference``) and returns one
value per image ``(B,)``. All of them are 0 for identical images and do not
change under circular shifts (to within the sort's ties), as a texture
distance should.

* colour distribution: sliced Wasserstein distance between the pixel colours
  (CIE Lab, scaled to about [0, 1]) — a palette absent from the target costs,
  even when complementary hues average to the right mean;
* log power spectrum: mean absolute difference of the log power spectra of the
  luminance — periodicity, regularity, counts and orientation; optionally
  averaged over square frequency blocks, or over polar cells (one frequency
  wide, a sector of angles) that keep the radial resolution counts need;
* oriented band energy: the log of the luminance's mean power in log-spaced
  frequency bands split into orientation sectors — the energy of an oriented
  band-pass filter bank, as the marginal statistics of a steerable pyramid hold
  it. Most cells average hundreds of frequencies (and count by their number), so
  two samples of one texture score close where single spectrum bins scatter; it
  sees the feature size, the contrast at each scale and how strokes or grains
  are oriented (parallel scratches against a tangle), but not whether the
  energy comes from dense grain or sparse specks;
* feature distributions: sliced Wasserstein distance between the feature
  vectors of a texture network at each layer (Heitz et al. 2021), which sees
  the whole distribution where a Gram matrix sees second moments;
* patch distribution: sliced Wasserstein distance between random 7x7 colour
  patches at each level of a Laplacian pyramid — the family of the field's
  patch-SWD metric (:func:`proxymat.metrics.patch_swd`), with its own patch
  positions and directions; it sees local structure, grain and colour together;
* flash profile: the mean log luminance in rings around the image centre,
  where the co-located flash's highlight sits in a render and in a flash
  photograph. It is the one term that does not ignore position, on purpose:
  the highlight's falloff with distance is how roughness, specular level and
  normal strength show in a single flash image, and ring averages are nearly
  the same for any two samples of a stationary texture.

>>> ref = color_reference(target, directions(3, 32, seed=0))
>>> color_sw(render, ref)        # (B,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..colorspace import srgb_to_lab
from ..exact_ops import adaptive_avg_pool
from ..metrics import PATCH, laplacian_pyramid, patches_at, pyramid_levels
from ..sorting import sort_last

_LAB_SCALE = torch.tensor([1.0 / 100.0, 1.0 / 128.0, 1.0 / 128.0])
_LUMA = (0.299, 0.587, 0.114)


def directions(dim: int, count: int, seed: int) -> torch.Tensor:
    """``count`` fixed random unit vectors in R^dim, as columns ``(dim, count)``."""
    gen = torch.Generator().manual_seed(int(seed))
    d = torch.randn(dim, count, generator=gen)
    return d / d.norm(dim=0, keepdim=True)


def _quantiles(sorted_ref: torch.Tensor, n: int) -> torch.Tensor:
    """Resample sorted values ``(K, M)`` to ``n`` evenly spaced quantiles ``(K, n)`` (identity if M == n)."""
    m = sorted_ref.shape[-1]
    if m == n:
        return sorted_ref
    return F.interpolate(sorted_ref.unsqueeze(0), size=n, mode="linear", align_corners=True).squeeze(0)


def sliced_distance(samples: torch.Tensor, sorted_ref: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein-1 of samples ``(B, N, D)`` against a reference already projected and sorted ``(K, M)``.

    Projections on the ``K`` directions ``dirs (D, K)`` are sorted and compared
    quantile by quantile (the reference resampled to N quantiles): mean |difference| -> (B,).
    """
    proj = dirs.to(samples).t() @ samples.transpose(1, 2)  # (B, K, N): each direction's values contiguous
    sp = sort_last(proj)  # sorting along the last dimension is about twice as fast as along the middle one
    ref = _quantiles(sorted_ref.to(samples), sp.shape[-1])  # (K, N)
    return (sp - ref.unsqueeze(0)).abs().mean(dim=(1, 2))


def sorted_projections(samples: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Reference side of :func:`sliced_distance`: samples ``(N, D)`` -> sorted projections ``(K, N)``."""
    return sort_last((samples @ dirs.to(samples)).transpose(0, 1))


# ------------------------------------------------------------------ colour
def lab_pixels(img: torch.Tensor, pool: int = 0) -> torch.Tensor:
    """Pixels of ``(B, 3, H, W)`` sRGB images as scaled Lab rows ``(B, N, 3)``; ``pool`` > 0 area-pools to pool² first."""
    if pool and img.shape[-1] > pool:
        img = adaptive_avg_pool(img, pool)
    lab = srgb_to_lab(img.clamp(0.0, 1.0)) * _LAB_SCALE.to(img).view(1, 3, 1, 1)
    return lab.flatten(2).transpose(1, 2)


@dataclass(frozen=True)
class ColorReference:
    dirs: torch.Tensor
    sorted_ref: torch.Tensor
    pool: int


def color_reference(target: torch.Tensor, dirs: torch.Tensor, pool: int = 0) -> ColorReference:
    """Precompute the target side of :func:`color_sw` (``target`` is ``(1, 3, H, W)``)."""
    return ColorReference(dirs, sorted_projections(lab_pixels(target, pool)[0], dirs), pool)


def color_sw(render: torch.Tensor, ref: ColorReference) -> torch.Tensor:
    """Sliced Wasserstein distance between the Lab pixel colours of each render and the target: (B,)."""
    return sliced_distance(lab_pixels(render, ref.pool), ref.sorted_ref, ref.dirs)


# ---------------------------------------------------------------- spectrum
def luminance(img: torch.Tensor, res: int) -> torch.Tensor:
    """Luminance ``(B, res, res)`` of ``(B, C, H, W)`` images (C = 3, or 1: the map itself), area-resized down
    to ``res`` px or bilinearly resized up."""
    if img.shape[-1] > res:  # area resize (the same as F.interpolate(..., mode="area"))
        img = adaptive_avg_pool(img, res)
    elif img.shape[-1] != res or img.shape[-2] != res:
        img = F.interpolate(img, size=(res, res), mode="bilinear", align_corners=False)
    w = torch.tensor(_LUMA, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img * w).sum(1) if img.shape[1] == 3 else img[:, 0]


def _centred_luminance(img: torch.Tensor, res: int) -> torch.Tensor:
    """:func:`luminance` at ``res`` px with each image's mean removed (the spectra leave out the DC term)."""
    luma = luminance(img, res)
    return luma - luma.mean(dim=(-2, -1), keepdim=True)


def log_spectrum(img: torch.Tensor, res: int = 128, smooth: int = 1) -> torch.Tensor:
    """Log power spectrum of the luminance, mean removed, at ``res`` px (area-resized): ``(B, res, res // 2 + 1)``.

    ``smooth`` > 1 averages the power over ``smooth`` x ``smooth`` blocks of frequencies (the whole, centred
    spectrum) before the log: ``(B, res // smooth, res // smooth)``. A single periodogram bin of a random
    texture scatters about its mean by a factor of order 1 (exponentially), so the unsmoothed log spectra of
    two samples of one texture differ by about 1.4 on average; block averages keep the spectral envelope
    (peaks of a regular layout, the feature size) and shrink that scatter."""
    luma = _centred_luminance(img, res)
    if smooth <= 1:
        power = torch.fft.rfft2(luma, norm="ortho").abs().square()
        return torch.log(power + 1e-4)
    if res % smooth:
        raise ValueError(f"log_spectrum: smooth {smooth} must divide res {res}")
    power = torch.fft.fftshift(torch.fft.fft2(luma, norm="ortho").abs().square(), dim=(-2, -1))
    return torch.log(F.avg_pool2d(power[:, None], smooth)[:, 0] + 1e-4)


def spectrum_l1(render: torch.Tensor, ref_spectrum: torch.Tensor, res: int | None = None, smooth: int = 1) -> torch.Tensor:
    """Mean absolute difference of log power spectra against the target's ``ref_spectrum`` (made by
    :func:`log_spectrum` at ``res`` px, default its own size, and ``smooth``): (B,)."""
    res = ref_spectrum.shape[-2] * max(smooth, 1) if res is None else res
    return (log_spectrum(render, res, smooth) - ref_spectrum).abs().mean(dim=(-2, -1))


@dataclass(frozen=True)
class PolarBins:
    """Polar cells of the ``rfft2`` frequencies of a ``res`` x ``res`` image (made by :func:`polar_bins`)."""

    res: int
    cell: torch.Tensor  # (res * (res // 2 + 1),) cell of each frequency; n_cells for the dropped ones
    counts: torch.Tensor  # (n_cells,) frequencies per cell
    keep: torch.Tensor  # (n_kept,) cells that hold at least one frequency

    @property
    def n_cells(self) -> int:
        return int(self.counts.numel())


def _polar_frequencies(res: int, sectors: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``rfft2`` frequencies of a ``res`` x ``res`` image in polar form, ``(res, res // 2 + 1)`` each: the
    radius in cycles per image, and the orientation sector out of ``sectors`` equal ones over 180 degrees (the
    spectrum of a real image is symmetric), centred on the axes."""
    ky = torch.fft.fftfreq(res, d=1.0 / res, device=device).view(-1, 1)
    kx = torch.fft.rfftfreq(res, d=1.0 / res, device=device).view(1, -1)
    radius = torch.sqrt(ky.square() + kx.square())
    angle = torch.atan2(ky, kx).expand_as(radius)  # kx >= 0: (-pi/2, pi/2]
    return radius, ((angle + math.pi / 2) / math.pi * sectors + 0.5).floor().long() % sectors


def polar_bins(res: int, sectors: int, device: torch.device | None = None) -> PolarBins:
    """Cells of rings one frequency wide (radius ``round(|k|)`` from 1 to ``res // 2``) split into ``sectors``
    equal sectors of orientation over 180 degrees (the spectrum of a real image is symmetric), centred on the
    axes (rows, columns and grids keep their energy inside one sector); the DC term and the corners beyond
    ``res // 2`` are dropped."""
    if sectors < 1:
        raise ValueError(f"polar_bins: sectors must be >= 1, got {sectors}")
    radius, sector = _polar_frequencies(res, sectors, device)
    ring = radius.round().long()
    n_cells = (res // 2) * sectors
    valid = (ring >= 1) & (ring <= res // 2)
    cell = torch.where(valid, (ring - 1) * sectors + sector, torch.full_like(ring, n_cells)).flatten()
    counts = torch.bincount(cell, minlength=n_cells + 1)[:n_cells]
    return PolarBins(res, cell, counts, torch.nonzero(counts > 0).flatten())


def polar_log_spectrum(img: torch.Tensor, bins: PolarBins) -> torch.Tensor:
    """Log of the mean power (luminance, mean removed, at ``bins.res`` px) in each non-empty polar cell of
    ``bins``: ``(B, n_kept)``. A cell keeps the exact ring of its frequencies, so a count or a cell size moves
    the peak by whole rings, while the average over the sector shrinks the periodogram's scatter."""
    power = torch.fft.rfft2(_centred_luminance(img, bins.res), norm="ortho").abs().square().flatten(1)
    sums = power.new_zeros(power.shape[0], bins.n_cells + 1).index_add_(1, bins.cell, power)
    mean = sums[:, bins.keep] / bins.counts[bins.keep].to(power.dtype)
    return torch.log(mean + 1e-4)


@dataclass(frozen=True)
class SpectrumReference:
    spectrum: torch.Tensor  # the target's log spectrum: :func:`log_spectrum`, or :func:`polar_log_spectrum` with bins
    res: int
    smooth: int
    bins: PolarBins | None  # polar cells, or None for the square grid of frequencies


def spectrum_reference(target: torch.Tensor, res: int = 128, smooth: int = 1, sectors: int = 0) -> SpectrumReference:
    """Precompute the target side of :func:`spectrum_distance`: its log spectrum on the square grid (averaged over
    ``smooth`` x ``smooth`` blocks when > 1) or, with ``sectors`` > 0, over :func:`polar_bins` (made here once)."""
    if sectors and smooth > 1:
        raise ValueError("log spectrum: polar sectors and smooth > 1 are two ways to average the spectrum; choose one")
    bins = polar_bins(res, sectors, target.device) if sectors else None
    spectrum = log_spectrum(target, res, smooth) if bins is None else polar_log_spectrum(target, bins)
    return SpectrumReference(spectrum, res, smooth, bins)


def spectrum_distance(render: torch.Tensor, ref: SpectrumReference) -> torch.Tensor:
    """Mean absolute difference of the renders' log spectra against the target's, as ``ref`` averages them: (B,)."""
    if ref.bins is None:
        return spectrum_l1(render, ref.spectrum, ref.res, ref.smooth)
    return (polar_log_spectrum(render, ref.bins) - ref.spectrum).abs().mean(1)


# ---------------------------------------------------- oriented band energy
@dataclass(frozen=True)
class BandReference:
    masks: torch.Tensor  # (bands * sectors, res, res // 2 + 1), each cell's frequencies, normalized to mean
    energy: torch.Tensor  # (1, bands * sectors), the target's :func:`band_energy` (with ``shape``, its orientation shape)
    weights: torch.Tensor  # (bands * sectors,), :func:`band_weights`
    sectors: int
    shape: bool  # compare only how each band's energy spreads over the orientations (:func:`orientation_shape`)


def band_masks(res: int, bands: int, sectors: int, device: torch.device | None = None) -> torch.Tensor:
    """Cells of the ``rfft2`` frequencies of a ``res`` x ``res`` image: ``bands`` log-spaced radial bands from
    1.5 cycles per image to the Nyquist frequency, each split into ``sectors`` orientation sectors
    (:func:`_polar_frequencies`); ``(bands * sectors, res, res // 2 + 1)``, each row averaging its cell (a cell
    with no frequency, possible only at the lowest band of a small image, is all zeros)."""
    if bands < 1 or sectors < 1:
        raise ValueError(f"band_masks: bands and sectors must be >= 1, got {bands} and {sectors}")
    radius, sector = _polar_frequencies(res, sectors, device)
    edges = torch.logspace(math.log10(1.5), math.log10(res / 2), bands + 1).tolist()
    edges[-1] = float(res)  # the corners beyond Nyquist along the diagonal join the finest band
    cells = [((radius >= lo) & (radius < hi) & (sector == k)).float()
             for lo, hi in zip(edges[:-1], edges[1:]) for k in range(sectors)]
    masks = torch.stack(cells)
    return masks / masks.sum(dim=(1, 2), keepdim=True).clamp_min(1.0)


def band_energy(img: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Log mean power of the luminance (mean removed, at the masks' resolution) in each cell of
    :func:`band_masks`: ``(B, cells)``."""
    power = torch.fft.rfft2(_centred_luminance(img, masks.shape[-2]), norm="ortho").abs().square()
    return torch.log(torch.einsum("bhw,khw->bk", power, masks.to(power)) + 1e-6)


def band_weights(masks: torch.Tensor) -> torch.Tensor:
    """Each cell's say in :func:`band_l1`: the square root of its number of frequencies, normalized to mean 1.
    The log mean power of a cell of ``n`` frequencies scatters between two samples of a random texture about as
    ``1 / sqrt(n)``, so the few-frequency cells of the lowest bands (the layout of a handful of large features)
    would otherwise drown the rest; weighted, each cell counts by how reliably it measures the texture."""
    n = (masks > 0).flatten(1).sum(1).to(masks.dtype)
    w = n.sqrt()
    return w / w.mean().clamp_min(1e-12)


def orientation_shape(energy: torch.Tensor, sectors: int) -> torch.Tensor:
    """:func:`band_energy` ``(B, bands * sectors)`` with each band's mean over its sectors removed: how the band's
    energy spreads over the orientations, whatever its level (0 everywhere for an isotropic texture)."""
    e = energy.view(energy.shape[0], -1, sectors)
    return (e - e.mean(dim=-1, keepdim=True)).flatten(1)


def _band_statistic(img: torch.Tensor, masks: torch.Tensor, sectors: int, shape: bool) -> torch.Tensor:
    """What :func:`band_l1` compares: :func:`band_energy`, or with ``shape`` its :func:`orientation_shape`."""
    energy = band_energy(img, masks)
    return orientation_shape(energy, sectors) if shape else energy


def band_reference(target: torch.Tensor, res: int = 128, bands: int = 6, sectors: int = 8,
                   shape: bool = False) -> BandReference:
    """Precompute the target side of :func:`band_l1` (``target`` is ``(1, 3, H, W)``) and the cells; ``shape``:
    compare each band's spread over the orientations only (:func:`orientation_shape`)."""
    masks = band_masks(res, bands, sectors, target.device)
    return BandReference(masks, _band_statistic(target, masks, sectors, shape), band_weights(masks), sectors, shape)


def band_l1(render: torch.Tensor, ref: BandReference) -> torch.Tensor:
    """Weighted mean absolute difference of :func:`band_energy` (or its :func:`orientation_shape`) against the
    target's (:func:`band_weights`): (B,)."""
    diff = (_band_statistic(render, ref.masks, ref.sectors, ref.shape) - ref.energy).abs()
    return (diff * ref.weights.to(diff)).mean(-1)


# ----------------------------------------------------------- flash profile
def ring_masks(res: int, rings: int, device: torch.device | None = None) -> torch.Tensor:
    """``(rings, res * res)`` rows that average a ``res`` x ``res`` image over equal-width rings around its
    centre, out to the inscribed circle's radius (the corners are left out)."""
    c = (torch.arange(res, dtype=torch.float32, device=device) + 0.5) / res - 0.5
    r = torch.sqrt(c.view(-1, 1).square() + c.view(1, -1).square()).flatten() / 0.5
    idx = (r * rings).floor().long()
    masks = (idx.view(1, -1) == torch.arange(rings, device=device).view(-1, 1)).float()
    return masks / masks.sum(1, keepdim=True)


def flash_profile(img: torch.Tensor, rings: int = 16, res: int = 64, masks: torch.Tensor | None = None) -> torch.Tensor:
    """Log of the mean luminance in each of ``rings`` rings around the centre of ``(B, 3, H, W)`` images
    (resized to ``res`` px first, as :func:`luminance`): ``(B, rings)``. ``masks`` are :func:`ring_masks`
    ``(res, rings)`` made once by the caller (made here when None)."""
    masks = ring_masks(res, rings, img.device) if masks is None else masks
    luma = luminance(img, res).clamp_min(0.0).flatten(1)
    return torch.log(luma @ masks.to(luma).t() + 1e-3)


@dataclass(frozen=True)
class ProfileReference:
    masks: torch.Tensor  # (rings, res * res), :func:`ring_masks`
    profile: torch.Tensor  # (1, rings), the target's :func:`flash_profile`
    res: int


def profile_reference(target: torch.Tensor, rings: int = 16, res: int = 64) -> ProfileReference:
    """Precompute the target side of :func:`profile_l1` (``target`` is ``(1, 3, H, W)``) and the ring masks."""
    masks = ring_masks(res, rings, target.device)
    return ProfileReference(masks, flash_profile(target, rings, res, masks), res)


def profile_l1(render: torch.Tensor, ref: ProfileReference) -> torch.Tensor:
    """Mean absolute difference of :func:`flash_profile` against the target's: (B,)."""
    return (flash_profile(render, ref.masks.shape[0], ref.res, ref.masks) - ref.profile).abs().mean(-1)


# ---------------------------------------------------------------- features
def feature_rows(feat: torch.Tensor) -> torch.Tensor:
    """Feature maps ``(B, C, H, W)`` -> one C-vector per position ``(B, H*W, C)``."""
    return feat.flatten(2).transpose(1, 2)


def feature_references(feats: dict[str, torch.Tensor], count: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per layer: (directions, sorted target projections) for :func:`feature_sw` (``feats`` of one target image)."""
    out = {}
    for k, (name, f) in enumerate(sorted(feats.items())):
        dirs = directions(f.shape[1], count or f.shape[1], seed + 101 * k)
        out[name] = (dirs, sorted_projections(feature_rows(f)[0], dirs))
    return out


def feature_sw(feats: dict[str, torch.Tensor], refs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Mean over layers of the sliced Wasserstein distance between feature distributions: (B,)."""
    total = 0.0
    for name, (dirs, ref) in refs.items():
        total = total + sliced_distance(feature_rows(feats[name]), ref, dirs)
    return total / max(1, len(refs))


# ----------------------------------------------------------------- patches
@dataclass(frozen=True)
class PatchReference:
    positions: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per pyramid level: rows, columns (N,)
    dirs: torch.Tensor  # (3 * 7 * 7, K)
    sorted_refs: tuple[torch.Tensor, ...]  # per level (K, N)


def patch_reference(target: torch.Tensor, patches: int, count: int, seed: int) -> PatchReference:
    """Precompute the target side of :func:`patch_sw` (``target`` is ``(1, 3, H, W)``): ``patches`` random
    positions per pyramid level and ``count`` random directions, fixed by ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    levels = laplacian_pyramid(target, pyramid_levels(int(target.shape[-1])))
    dirs = directions(3 * PATCH * PATCH, count, seed)
    positions, refs = [], []
    for lv in levels:
        h, w = lv.shape[-2:]
        ys, xs = torch.randint(0, h, (patches,), generator=gen), torch.randint(0, w, (patches,), generator=gen)
        positions.append((ys, xs))
        refs.append(sorted_projections(patches_at(lv, ys, xs)[0], dirs))
    return PatchReference(tuple(positions), dirs, tuple(refs))


def patch_sw(render: torch.Tensor, ref: PatchReference) -> torch.Tensor:
    """Mean over pyramid levels of the sliced Wasserstein distance between 7x7 colour patches of each render
    and of the target, at the reference's positions and directions: (B,)."""
    levels = laplacian_pyramid(render, len(ref.positions))
    total = sum(sliced_distance(patches_at(lv, ys, xs), r, ref.dirs)
                for lv, (ys, xs), r in zip(levels, ref.positions, ref.sorted_refs))
    return total / len(levels)
