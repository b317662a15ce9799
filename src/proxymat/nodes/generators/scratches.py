"""Scratches generator: many thin wobbly strokes, max-blended on a torus.

Each spline ``s`` draws its random attributes from ``hash(s, seed, stream)``,
so adding splines never changes the existing ones. A spline is a polyline of
``max_segments`` straight segments through points displaced sideways by smooth
1-D value noise. Segments are cut into pieces of at most half a pixel, and each
piece splats a small square kernel (toroidal indices) holding the anti-aliased
coverage of a line of the spline's width; pixels keep the maximum. Cost grows
with total stroke length x width, not with pixels x segments.

Widths are in units of 1/256 UV (1 px at 256x256), so images at different
resolutions show the same strokes; sub-pixel strokes come out dimmer (their
pixel coverage), which keeps the output continuous in the width.

Autograd differentiates the splatting (``GeneratorSpec(..., grad=True)``): the
width, intensity and fade parameters are declared ``direct``. Parameters that
move strokes (rotation, position, length, wobble) get the per-pixel
derivative, but a one-pixel-wide stroke's coverage kinks within every pixel it
crosses and the fade is constant along each half-pixel piece (pieces re-cut as
lengths change), so finite differences disagree with it: they are not declared.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import Tensor

from ...params import e, f, i
from .base import GeneratorSpec
from .hashing import signed, uniform

FADE_MODES: tuple[str, ...] = ("none", "start", "end", "both")
WIDTH_UNIT = 1.0 / 256.0  # UV per unit of spline_width
PIECE_PX = 0.5  # longest splatted piece, in pixels
_MAX_ENTRIES = 1 << 21  # kernel entries splatted per chunk (bounds memory)
_MAX_PIECES = 1 << 18  # pieces built per chunk

# Hash streams of the per-spline random values.
_S_POS_X, _S_POS_Y, _S_ROT, _S_SCALE, _S_WIDTH, _S_DIST, _S_LUM, _S_PHASE, _S_NOISE = range(9)


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    """Hermite smoothstep of x clamped to [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def noise1d(x: torch.Tensor, spline: torch.Tensor, seed: int) -> torch.Tensor:
    """Smooth 1-D value noise in [-1, 1] along ``x``, one independent curve per spline id."""
    x0 = torch.floor(x)
    i0 = x0.to(torch.int64)
    v0 = signed(spline, seed, _S_NOISE, i0)
    v1 = signed(spline, seed, _S_NOISE, i0 + 1)
    return torch.lerp(v0, v1, _smoothstep(x - x0))


def fade(t: torch.Tensor, mode: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """Intensity fade along a spline at parameter ``t`` in [0, 1] (mode indexes FADE_MODES)."""
    span = length.clamp_min(1e-6)
    start = _smoothstep(t / span)
    end = _smoothstep((1.0 - t) / span)
    out = torch.where(mode == 1, start, torch.ones_like(t))
    out = torch.where(mode == 2, end, out)
    return torch.where(mode == 3, start * end, out)


def _spline_attrs(p: Mapping[str, torch.Tensor], n_splines: int, res: int, seed: int) -> dict[str, torch.Tensor]:
    """Per (item, spline) attributes, shape (B, S), lengths in pixels."""
    device = p["spline_number"].device
    sid = torch.arange(n_splines, device=device)

    def rnd(stream: int) -> torch.Tensor:
        return uniform(sid, seed, stream)[None, :]

    def col(name: str) -> torch.Tensor:
        return p[name][:, None]

    length = col("spline_scale") * (1.0 - col("spline_scale_random") * rnd(_S_SCALE)) * res
    amp = col("spline_distortion") * (1.0 - col("spline_distortion_random") * rnd(_S_DIST)) * 0.25 * length
    width = col("spline_width") * (1.0 - col("spline_width_random") * rnd(_S_WIDTH)) * (WIDTH_UNIT * res)
    spread = col("spline_position_random")
    return {
        "cx": (0.5 + spread * (rnd(_S_POS_X) - 0.5)) * res,
        "cy": (0.5 + spread * (rnd(_S_POS_Y) - 0.5)) * res,
        "theta": 2.0 * math.pi * (col("spline_rotation") + col("spline_rotation_random") * (rnd(_S_ROT) - 0.5)),
        "length": length,
        "amp": amp,
        "half_width": 0.5 * width,
        "lum": 1.0 - col("luminance_random") * rnd(_S_LUM),
        "phase": rnd(_S_PHASE).expand_as(length),
    }


def _vertices(p: Mapping[str, Tensor], a: dict[str, Tensor], seed: int) -> tuple[Tensor, Tensor]:
    """Polyline vertices (B, S, Mmax+1, 2) in pixels and their parameters t (B, 1, Mmax+1)."""
    segs = p["max_segments"].to(torch.int64)
    m_max = int(segs.max())
    j = torch.arange(m_max + 1, device=segs.device, dtype=torch.float32)
    t = (j[None, :] / segs[:, None].to(torch.float32)).clamp(max=1.0)[:, None, :]
    freq = 1.0 + 15.0 * p["spline_distortion_frequency"][:, None, None]
    sid = torch.arange(a["length"].shape[1], device=segs.device)[None, :, None]
    wobble = a["amp"][..., None] * noise1d(t * freq + a["phase"][..., None], sid, seed)
    along = (t - 0.5) * a["length"][..., None]
    cos, sin = torch.cos(a["theta"])[..., None], torch.sin(a["theta"])[..., None]
    x = a["cx"][..., None] + along * cos - wobble * sin
    y = a["cy"][..., None] + along * sin + wobble * cos
    return torch.stack((x, y), dim=-1), t


def splat_segments(
    batch: torch.Tensor,
    p0: torch.Tensor,
    p1: torch.Tensor,
    half_width: torch.Tensor,
    weight: torch.Tensor,
    n_batch: int,
    res: int,
) -> torch.Tensor:
    """Max-blend anti-aliased line pieces into a toroidal canvas (n_batch, 1, res, res).

    Piece k runs from ``p0[k]`` to ``p1[k]`` (pixel units, any real values; pixel
    (x, y) has its centre at (x + 0.5, y + 0.5) and coordinates wrap modulo res),
    has half width ``half_width[k]`` px and peak value ``weight[k]``. Pieces should
    be at most ~PIECE_PX long: the kernel only reaches half_width + PIECE_PX / 2 + 1 px.
    """
    reach = half_width + 0.5 * (p1 - p0).norm(dim=-1) + 0.5
    radius = torch.floor(reach + 0.5).to(torch.int64).clamp(min=0)
    pad = int(radius.max()) if radius.numel() else 0
    if 2 * pad > res:
        raise ValueError(f"stroke kernel radius {pad} px does not fit a {res} px image")
    side = res + 2 * pad
    canvas = torch.zeros(n_batch * side * side, dtype=torch.float32, device=p0.device)
    for r in torch.unique(radius).tolist():
        sel = torch.nonzero(radius == r).squeeze(1)
        per_chunk = max(1, _MAX_ENTRIES // (2 * r + 1) ** 2)
        for lo in range(0, sel.numel(), per_chunk):
            k = sel[lo : lo + per_chunk]
            canvas = _splat_chunk(canvas, batch[k], p0[k], p1[k], half_width[k], weight[k], int(r), res, pad)
    return _fold_torus(canvas.view(n_batch, side, side), res, pad)[:, None]


def _splat_chunk(
    canvas: torch.Tensor,
    batch: torch.Tensor,
    p0: torch.Tensor,
    p1: torch.Tensor,
    half_width: torch.Tensor,
    weight: torch.Tensor,
    r: int,
    res: int,
    pad: int,
) -> torch.Tensor:
    """The padded flat canvas with the pieces whose kernels share radius r splatted in (max).

    Out of place, so autograd can differentiate through successive chunks.
    """
    mid = 0.5 * (p0 + p1)
    shift = torch.floor(mid / res) * res  # move each piece into the base tile
    p0, mid = p0 - shift, mid - shift
    edge = p1 - shift - p0
    base = torch.floor(mid).clamp(0, res - 1)
    side = res + 2 * pad
    offs = torch.arange(-r, r + 1, device=canvas.device)
    dy, dx = torch.meshgrid(offs, offs, indexing="ij")
    dx, dy = dx.reshape(1, -1), dy.reshape(1, -1)
    # Pixel centre relative to p0, then distance to the piece.
    rx = (base[:, 0:1] + 0.5 - p0[:, 0:1]) + dx
    ry = (base[:, 1:2] + 0.5 - p0[:, 1:2]) + dy
    ex, ey = edge[:, 0:1], edge[:, 1:2]
    inv = 1.0 / (ex * ex + ey * ey).clamp_min(1e-12)
    u = ((rx * ex + ry * ey) * inv).clamp(0.0, 1.0)
    dist = torch.hypot(rx - u * ex, ry - u * ey)
    hw = half_width[:, None]
    # Overlap of the stroke cross-section [-hw, hw] with the pixel [d - 1/2, d + 1/2].
    cover = (torch.minimum(hw, dist + 0.5) + torch.minimum(hw, 0.5 - dist)).clamp_min(0.0)
    value = cover * weight[:, None]
    b = base.to(torch.int64) + pad
    start = batch * (side * side) + b[:, 1] * side + b[:, 0]
    index = start[:, None] + (dy * side + dx)
    return canvas.scatter_reduce(0, index.reshape(-1), value.reshape(-1), reduce="amax")


def _fold_torus(canvas: torch.Tensor, res: int, pad: int) -> torch.Tensor:
    """Fold the pad borders of (B, res+2pad, res+2pad) back onto the opposite edges (max)."""
    if pad == 0:
        return canvas
    # Columns first (all rows, pads included), then rows; out of place (autograd).
    c = _fold_axis(canvas, res, pad, dim=2)
    return _fold_axis(c, res, pad, dim=1)


def _fold_axis(c: torch.Tensor, res: int, pad: int, dim: int) -> torch.Tensor:
    """The core ``res`` entries of axis ``dim`` (padded by ``pad`` each side), each pad maxed onto the far edge."""
    first = torch.maximum(c.narrow(dim, pad, pad), c.narrow(dim, pad + res, pad))
    last = torch.maximum(c.narrow(dim, res, pad), c.narrow(dim, 0, pad))
    return torch.cat((first, c.narrow(dim, 2 * pad, res - 2 * pad), last), dim=dim)


def _segment_pieces(verts: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Flat valid segments: (flat index into (B, S, M), p0, p1, piece count)."""
    a, b = verts[:, :, :-1], verts[:, :, 1:]
    length = (b - a).norm(dim=-1)
    count = torch.where(valid, torch.ceil(length / PIECE_PX).clamp_min(1.0), torch.zeros_like(length))
    flat = torch.nonzero(count.reshape(-1) > 0).squeeze(1)
    return flat, a.reshape(-1, 2)[flat], b.reshape(-1, 2)[flat], count.reshape(-1)[flat].to(torch.int64)


def _cut(n_pieces: Tensor, ends: Tensor, lo: int, hi: int) -> tuple[Tensor, Tensor, Tensor]:
    """Pieces of segments lo..hi-1: (segment index, start fraction, end fraction) per piece."""
    counts = n_pieces[lo:hi]
    seg = torch.repeat_interleave(torch.arange(lo, hi, device=counts.device), counts)
    first = torch.repeat_interleave(ends[lo:hi] - counts, counts)
    done = int(ends[lo - 1]) if lo > 0 else 0
    k = (torch.arange(seg.numel(), device=counts.device) + done - first).to(torch.float32)
    c = n_pieces[seg].to(torch.float32)
    return seg, k / c, (k + 1.0) / c


def _chunks(ends: torch.Tensor) -> list[tuple[int, int]]:
    """Split segments into runs of at most ~_MAX_PIECES pieces (at least one segment each)."""
    out, lo = [], 0
    while lo < ends.numel():
        done = int(ends[lo - 1]) if lo > 0 else 0
        hi = max(lo + 1, int(torch.searchsorted(ends, done + _MAX_PIECES, right=True)))
        out.append((lo, hi))
        lo = hi
    return out


def scratches(params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
    """Render scratches; see the module docstring.

    Example::

        {"type": "scratches", "params": {"spline_number": 32, "spline_width": 0.5, "fade_mode": "both"}}
    """
    n_batch = int(params["spline_number"].shape[0])
    counts = params["spline_number"].to(torch.int64)
    n_splines = int(counts.max())
    a = _spline_attrs(params, n_splines, res, seed)
    verts, t = _vertices(params, a, seed)
    m = verts.shape[2] - 1
    s_idx = torch.arange(n_splines, device=counts.device)[None, :, None]
    j_idx = torch.arange(m, device=counts.device)[None, None, :]
    segs = params["max_segments"].to(torch.int64)
    valid = (s_idx < counts[:, None, None]) & (j_idx < segs[:, None, None]) & (a["half_width"][..., None] > 0)
    flat, seg_a, seg_b, n_pieces = _segment_pieces(verts, valid)
    item, spline = flat // (n_splines * m), (flat // m) % n_splines
    t_all = t.expand(-1, n_splines, -1)
    t0, t1 = t_all[:, :, :-1].reshape(-1)[flat], t_all[:, :, 1:].reshape(-1)[flat]
    mode = params["fade_mode"].to(torch.int64)
    out = torch.zeros(n_batch, 1, res, res, dtype=torch.float32, device=counts.device)
    ends = torch.cumsum(n_pieces, 0)
    for lo, hi in _chunks(ends):
        seg, u0, u1 = _cut(n_pieces, ends, lo, hi)
        edge = seg_b[seg] - seg_a[seg]
        p0, p1 = seg_a[seg] + u0[:, None] * edge, seg_a[seg] + u1[:, None] * edge
        tm = t0[seg] + 0.5 * (u0 + u1) * (t1[seg] - t0[seg])
        bi, si = item[seg], spline[seg]
        weight = a["lum"][bi, si] * fade(tm, mode[bi], params["fade_length"][bi])
        out = torch.maximum(out, splat_segments(bi, p0, p1, a["half_width"][bi, si], weight, n_batch, res))
    return out.clamp(0.0, 1.0)


SCRATCHES = GeneratorSpec(
    name="scratches",
    fn=scratches,
    params=(
        i("spline_number", 64, 1, 512, doc="number of scratches"),
        i("max_segments", 16, 2, 256, doc="polyline segments per spline (smoother wobble)"),
        f("spline_rotation", 0.0, doc="global orientation in turns"),
        f("spline_rotation_random", 0.5, doc="per-spline orientation variation"),
        f("spline_scale", 0.3, doc="spline length in UV"),
        f("spline_scale_random", 0.3, doc="per-spline length variation"),
        f("spline_distortion", 0.2, doc="lateral wobble amplitude (fraction of a quarter length)"),
        f("spline_distortion_random", 0.3, doc="per-spline wobble variation"),
        f("spline_distortion_frequency", 0.5, doc="wobble frequency (1 to 16 noise cells per spline)"),
        f("spline_width", 1.0, 0.0, 2.0, doc="stroke width in 1/256 UV (1 px at 256)"),
        f("spline_width_random", 0.3, doc="per-spline width variation"),
        f("spline_position_random", 1.0, doc="0: all splines at the centre; 1: uniform positions"),
        f("luminance_random", 0.2, doc="per-spline intensity variation"),
        e("fade_mode", "none", FADE_MODES, doc="intensity fade along each spline"),
        f("fade_length", 0.2, doc="fade length as a fraction of the spline"),
    ),
    doc="Thin wobbly strokes (scratches), max-blended, tileable.",
    sample_box={
        "spline_number": (8, 192),
        "max_segments": (4, 48),
        "spline_scale": (0.05, 0.7),
        "spline_width": (0.5, 2.0),
        "spline_position_random": (0.5, 1.0),
    },
    stochastic=True,
    direct=("spline_width", "spline_width_random", "luminance_random", "fade_length"),
)

SPECS: tuple[GeneratorSpec, ...] = (SCRATCHES,)
