"""PPTBF: Point Process Texture Basis Function (Guehl et al. 2020), full model, GPU-code variant.

Implemented from the model's description: PPTBF(x) = sum_k W_k(x) F_k(x)
over the feature points of a tiling-based point process (18 tilings), with a
cellular + classic window W and a mixture of random stringed-Gabor kernels F.

Differences from the reference shader, all deliberate:

* ``zoom`` (continuous, tiles across) replaces the integer ``resolution``
  (tile size in pixels): zoom = image width / resolution.
* Tileability: pixel UV maps to tile space by an *integer* matrix closest to
  ``diag(zoom / aspect, zoom) R(rotation)`` and random values are keyed by units
  reduced modulo that lattice, so every output tiles exactly, rotated or not.
  The price is that zoom, aspect and rotation are quantised (rotation in steps
  of about 1/zoom radian; row-shifted tilings round the row count to a multiple
  of 2 or 3). With rotation, irregular tilings keep random column borders but
  their row heights repeat with a short period.
* Distortion uses 4 octaves of periodic value noise; a non-integer octave
  frequency cross-fades the two neighbouring integer frequencies.
* The closest point (k = 0, the cellular window's cell) is chosen with the
  ordering distance with norm 2 (and larp), the metric of the cellular border,
  so the cellular window is always consistent; the window norm only shapes the
  classic window.
* The cellular border radius comes from a per-cell table of radii: closed-form
  Voronoi radius for larp = 0, Newton iterations for larp > 0, sampled at the
  sector angles (at most 4-64 per cell depending on the cell size in pixels;
  finer sectors interpolate the table).
* All mixtures use every candidate cell of the neighbour block (up to 36;
  the shader keeps the 18 nearest): no sort is needed, windowed sums have no
  truncation seams, and pairs without kernels are skipped, so it costs about
  the same (measured: max / bombing images differ from the 18-nearest variant
  by 0.005 on average over the sampling box).

As in the shader, the phase only affects mixtures 1-2, the windows only
mixtures 0-2, and the candidate block (3 x 3 tiles, or the tiles touching the
pixel's tile for pattern tilings) can miss the nearest point in rare spots of
irregular and pattern tilings (measured: < 1% of pixels).

The soft output is remapped per image piecewise-linearly (min -> 0, mean -> 0.5,
max -> 1). ``pptbf_mask`` thresholds it at the quantile that leaves the
requested fraction white (ties broken by the un-normalised value, a blurred
copy, then a hash), with a 1-pixel anti-aliased edge when that keeps the white
fraction within 0.005.

Gradients (``grad=True``): the window and point-process parameters keep the
graph through the per-image tables and the per-pixel sums (the closest-cell
choice is not differentiated: the cellular window is 0 where it changes); the
mask's gradient flows through its edge ramp, the threshold level moving with
the white fraction. Zoom, aspect and rotation only choose the integer lattice
and have none. ``direct`` lists what tests check against finite differences:
for the soft PPTBF the window parameters that change values, not positions
(moving points cross the jumps of bombing kernels, box windows and the rare
candidate misses); for the cellular masks also jitter, distortion and the
threshold (as slopes over a few pixels of border motion: single pixels flip).

Speed: each image builds small per-cell tables (points, border radii, kernels,
candidate lists) and is then evaluated in pixel chunks with no per-pixel sort
or branch; the batch is a loop over images because every image has its own
tables and code path. Cost grows with the number of (pixel, cell) pairs that
need kernels: mixtures 3-4 on subdivided tilings and windowed mixtures with
many small cells are the slow cases (several times the default's cost).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import torch

from ...params import e, f, i
from .base import GeneratorSpec
from .pptbf_eval import PPTBFParams, distort, evaluate_uv, periodic_noise, render_raw
from .pptbf_remap import edge_ramp, equalize, quantile_mask, rank_field
from .pptbf_tilings import TILING_NAMES

__all__ = [
    "MIXTURES", "SPECS", "WINDOW_SHAPES", "PPTBFParams", "distort", "edge_ramp", "equalize", "evaluate_uv",
    "periodic_noise", "pptbf", "pptbf_mask", "pptbf_rank", "pptbf_raw", "quantile_mask", "rank_field", "render_raw",
]  # fmt: skip

WINDOW_SHAPES = ("normalized_gaussian", "gaussian", "triangle", "box")
MIXTURES = ("constant", "random_gabor", "gabor", "bombing", "max")


# --------------------------------------------------------------------------- generators
def pptbf_raw(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """Un-remapped PPTBF values (B, 1, res, res) (not clamped to [0, 1]); for inspection and tests."""
    batch = next(iter(params.values())).reshape(-1).shape[0]
    out = [render_raw(PPTBFParams.from_batch(params, b), res, seed)[0] for b in range(batch)]
    return torch.stack(out)[:, None]


def pptbf(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """Soft PPTBF (B, 1, res, res), remapped per image (min 0, mean 0.5, max 1).

    Each image has its own lattice, cell tables and code path (tiling, mixture),
    so the batch is evaluated item by item; all per-pixel work is vectorised.

    Example::

        {"type": "pptbf", "params": {"tiling": "relaxed", "jitter": 0.4, "zoom": 8.0}}
    """
    raw = pptbf_raw(params, res, seed)
    return equalize(raw.reshape(raw.shape[0], -1)).view_as(raw)


def pptbf_mask(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """Binary PPTBF structure map (B, 1, res, res): the ``threshold`` fraction of pixels is white.

    Examples::

        {"type": "pptbf_mask", "params": {"threshold": 0.4, "tiling": "regular", "zoom": 6.0}}
        {"type": "pptbf_mask_cellular", "params": {"threshold": 0.5, "zoom": 6.0, "jitter": 0.2}}
        {"type": "pptbf_mask_cellular_coarse", "params": {"threshold": 0.5, "zoom": 4.0}}
    """
    batch = params["threshold"].reshape(-1).shape[0]
    out = []
    for b in range(batch):
        raw, aux = render_raw(PPTBFParams.from_batch(params, b), res, seed)
        soft = equalize(raw.reshape(1, -1)).view(res, res)
        threshold = params["threshold"].reshape(-1)[b]
        keep = torch.is_grad_enabled() and threshold.requires_grad
        out.append(quantile_mask(soft, aux, threshold if keep else float(threshold.detach()), seed))
    return torch.stack(out)[:, None]


def pptbf_rank(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """PPTBF rank field (B, 1, res, res): the order in which ``pptbf_mask`` turns pixels white,
    uniform in (0, 1); thresholding it at ``1 - t`` gives the mask of white fraction ``t``.

    Example::

        {"type": "pptbf_rank_cellular", "params": {"zoom": 6.0, "jitter": 0.2}}
    """
    batch = next(iter(params.values())).reshape(-1).shape[0]
    out = []
    for b in range(batch):
        raw, aux = render_raw(PPTBFParams.from_batch(params, b), res, seed)
        out.append(rank_field(equalize(raw.reshape(1, -1)).view(res, res), aux, seed))
    return torch.stack(out)[:, None]


_PARAMS = (
    e("tiling", "regular", TILING_NAMES, doc="Point process: base tiling, subdivision (…_sub: psub 0.5) and relaxation."),
    f("jitter", 0.5, doc="Feature point: 0 = cell centre, 1 = anywhere in 90% of the cell."),
    f("zoom", 8.0, 2.0, 30.0, doc="Tiles across the image (replaces the shader's resolution = width / zoom); rounded to the integer lattice."),
    f("rotation", 0.0, 0.0, 2.0, doc="Rotation in half turns (alpha = rotation * pi); quantised to keep the pattern tileable."),
    f("aspect", 1.0, 0.1, 10.0, doc="Tile aspect ratio: x is divided by it before the zoom."),
    f("distortion_amplitude", 0.0, 0.0, 0.25, doc="Turbulence displacement amplitude, in image units."),
    f("distortion_gain", 0.0, 0.0, 4.0, doc="Amplitude factor between the 4 turbulence octaves."),
    f("distortion_frequency", 0.0, 0.0, 2.0, doc="Turbulence frequency relative to the zoom."),
    e(
        "window_shape",
        "gaussian",
        WINDOW_SHAPES,
        doc="Classic window: normalised clamped Gaussian, clamped Gaussian, triangle, box. Default 'gaussian': with "
        "the normalised window the constant feature gives a flat image.",
    ),
    i("window_arity", 3, 2, 10, doc="The cellular window's polygon has 2^arity sectors."),
    f("window_larp", 0.0, doc="Cell metric: 0 = Euclidean point distance (Voronoi), 1 = tile-rectangle distance."),
    f("window_norm", 2.0, 1.0, 3.0, doc="Lp norm of the classic window (above 2: blend towards L-infinity)."),
    f("window_smoothness", 0.0, 0.0, 2.0, doc="Cell border: 0 polygon, 1 corner-cut, 2 Bézier-smoothed."),
    f("window_blend", 1.0, doc="Window = blend * cellular + (1 - blend) * classic."),
    f("window_sigma", 1.0, 0.01, 4.0, doc="Decay sigma_w of the cellular window."),
    e("mixture", "constant", MIXTURES, doc="Feature: constant, random-sign Gabor sum, Gabor sum, priority bombing, max."),
    f("feature_norm", 2.0, 1.0, 3.0, doc="Lp norm of the kernel envelope."),
    f("winfeatcorrel", 0.0, doc="Pulls the kernel centres onto the feature point."),
    f("anisotropy", 0.0, 0.0, 5.0, doc="Kernel elongation: local y divided by 2^anisotropy."),
    i("np_min", 1, 0, 12, doc="Minimum number of kernels per cell (Npmin)."),
    i("np_max", 1, 0, 12, doc="Maximum number of kernels per cell (Npmax)."),
    f("sigcos", 1.0, 0.0, 10.0, doc="Kernel envelope sharpness (larger = smaller kernels)."),
    f("sigcos_var", 0.2, doc="Random relative increase of sigcos per kernel."),
    i("frequency", 0, 0, 16, doc="Number of cosine stripes in a kernel (0: plain envelope)."),
    f("phase", 0.0, doc="Phase shift, in quarter turns (phi = phase * pi / 2); 1 inverts the feature (mixtures 1-2)."),
    f("thickness", 1.0, 0.001, 1.0, doc="Stripe profile exponent 1 / thickness."),
    f("curvature", 0.0, doc="Stripes from straight (0) to rings (1)."),
    f("orientation", 0.0, 0.0, 0.5, doc="Maximum random kernel angle, in half turns."),
)

# Proxy-training box: the ranges of DiffProxy's "PPTBF2" sampler, adapted to this parameter set
# (resolution 20-150 at 512 px -> zoom 3.4-25.6). Degenerate ranges are pinned instead.
_SAMPLE_BOX: dict[str, tuple[float, float]] = {
    "jitter": (0.01, 0.91),
    "zoom": (3.4, 25.0),
    "rotation": (0.0, 0.125),
    "aspect": (1.0, 3.0),
    "distortion_amplitude": (0.0, 0.18),
    "distortion_gain": (0.0, 0.5),
    "distortion_frequency": (1.0, 2.0),
    "window_arity": (3, 10),
    "window_larp": (0.0, 0.9),
    "window_blend": (0.6, 1.0),
    "window_sigma": (0.5, 0.7),
    "winfeatcorrel": (0.0, 0.7),
    "np_min": (1, 9),
    "np_max": (1, 9),
    "sigcos": (1.0, 2.0),
    "frequency": (0, 8),
    "thickness": (0.1, 1.0),
    "orientation": (0.0, 0.45),
}
_FIXED = {"feature_norm": 2.0, "sigcos_var": 0.2, "phase": 0.0}

# A cellular sub-family for mask fitting (benchmark E4): regular tiling, constant feature,
# the window and point-process parameters free. Small enough for a CPU-trained proxy.
_CELLULAR_BOX: dict[str, tuple[float, float]] = {
    "threshold": (0.2, 0.8),
    "jitter": (0.0, 0.9),
    "zoom": (3.0, 10.0),
    "aspect": (1.0, 2.5),
    "distortion_amplitude": (0.0, 0.08),
    "window_larp": (0.0, 0.9),
    "window_norm": (1.0, 3.0),
    "window_smoothness": (0.0, 2.0),
    "window_blend": (0.6, 1.0),
    "window_sigma": (0.3, 2.0),
}
_CELLULAR_FIXED: dict[str, float] = {
    **{p.name: p.to_numbers(p.default)[0] for p in _PARAMS if p.name not in _CELLULAR_BOX},
    "distortion_gain": 0.5,
    "distortion_frequency": 1.0,
}

# Gradients through the mask's edge ramp (the level moving with the white fraction); zoom and aspect
# only change the integer tile lattice, so they have none.
_MASK_DIRECT = ("threshold", "jitter", "distortion_amplitude", "window_larp", "window_norm", "window_smoothness",
                "window_blend", "window_sigma")

_CELLULAR_MASK = GeneratorSpec(
    name="pptbf_mask_cellular",
    fn=pptbf_mask,
    params=(f("threshold", 0.5, doc="Fraction of white pixels (quantile threshold of the soft PPTBF)."),) + _PARAMS,
    doc="PPTBF mask restricted to cells: regular tiling, constant feature; jitter, zoom, aspect, distortion "
    "and the window free (the mask-fitting proxy's family).",
    sample_box=_CELLULAR_BOX,
    fixed=_CELLULAR_FIXED,
    stochastic=True,
    direct=_MASK_DIRECT,
)

SPECS = (
    GeneratorSpec(
        name="pptbf",
        fn=pptbf,
        params=_PARAMS,
        doc="Point Process Texture Basis Function (full model, 18 tilings), soft output remapped per image.",
        sample_box=_SAMPLE_BOX,
        fixed=_FIXED,
        stochastic=True,
        direct=("window_smoothness", "window_blend", "window_sigma"),
    ),
    GeneratorSpec(
        name="pptbf_mask",
        fn=pptbf_mask,
        params=(f("threshold", 0.7, doc="Fraction of white pixels (quantile threshold of the soft PPTBF)."),) + _PARAMS,
        doc="Binary PPTBF structure map: the brightest `threshold` fraction of the soft PPTBF.",
        sample_box={"threshold": (0.05, 0.95), **_SAMPLE_BOX},
        fixed=_FIXED,
        stochastic=True,
    ),
    _CELLULAR_MASK,
    replace(
        _CELLULAR_MASK,
        name="pptbf_mask_cellular_coarse",
        doc="pptbf_mask_cellular with 3-5 tiles across (zoom 3-5 instead of 3-10): cells of 13-21 px in a 64 px "
        "map, a family whose edges a 64 px proxy can place.",
        sample_box={**_CELLULAR_BOX, "zoom": (3.0, 5.0)},
    ),
    GeneratorSpec(
        name="pptbf_rank_cellular",
        fn=pptbf_rank,
        params=_PARAMS,
        doc="PPTBF rank field of the cellular mask family (pptbf_mask_cellular without its threshold): the "
        "order in which the mask turns pixels white, so its level sets are the masks of every white fraction.",
        sample_box={k: v for k, v in _CELLULAR_BOX.items() if k != "threshold"},
        fixed=_CELLULAR_FIXED,
        stochastic=True,
    ),
)
