"""PPTBF evaluation of one image: its parameters, the domain distortion, the per-image tables
(lattice, cells, border radii, kernels, candidate lists) and the per-pixel windowed sum.

:func:`render_raw` gives the un-remapped value and the tie-break field of one
image; the generators of :mod:`.pptbf` remap and threshold it. The model and
its deliberate differences from the reference shader are described there.

Gradients: the continuous parameters of :data:`GRAD_FIELDS` stay 0-d tensors
(:meth:`PPTBFParams.from_batch` with autograd on and the batch tensor requiring
grad), so the per-image tables and the per-pixel sums keep the graph; every
other parameter is a Python number that only selects tables and code paths.
With plain numbers the arithmetic is the same, value for value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Union

import torch

from .hashing import hash_u32, uniform
from .pptbf_tilings import (
    S_ROT,
    TILINGS,
    CellTable,
    Lattice,
    TilingType,
    build_cells,
    candidate_layout,
    layout_key,
    make_lattice,
    tile_neighbours,
    unit_neighbour_table,
)
from .pptbf_windows import (
    FOOTPRINTS,
    FeatureParams,
    cell_radii,
    cellular_value,
    cellular_weight,
    classic_window,
    eval_kernels,
    inverse_borders,
    kernel_counts,
    kernel_tables,
    lp_distance,
)

Scalar = Union[float, torch.Tensor]  # a Python number, or a 0-d tensor that carries a gradient

# Continuous parameters that may stay tensors (the window and point-process values whose effect
# on the image is continuous); zoom, aspect and rotation are rounded to the integer lattice.
GRAD_FIELDS = frozenset({"jitter", "distortion_amplitude", "distortion_gain", "window_larp", "window_norm",
                         "window_smoothness", "window_blend", "window_sigma"})

_CHUNK_PAIRS = 1 << 17  # (pixel, candidate) pairs per evaluated chunk
_NOISE_OCTAVES = 4


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class PPTBFParams:
    """Parameters of one image in shader units: Python numbers, except the :data:`GRAD_FIELDS`
    that carry a gradient (0-d tensors)."""

    tiling: int
    jitter: Scalar
    zoom: float
    rotation: float  # in half turns (alpha = rotation * pi)
    aspect: float
    distortion_amplitude: Scalar
    distortion_gain: Scalar
    distortion_frequency: float
    window_shape: int
    window_arity: int
    window_larp: Scalar
    window_norm: Scalar
    window_smoothness: Scalar
    window_blend: Scalar
    window_sigma: Scalar
    feature: FeatureParams

    @classmethod
    def from_batch(cls, params: Mapping[str, torch.Tensor], b: int) -> PPTBFParams:
        """Item ``b`` of a batch of real-unit parameter tensors (B,); a :data:`GRAD_FIELDS` tensor that
        requires grad, with autograd on, stays a 0-d tensor (the rest become Python numbers)."""
        keep = torch.is_grad_enabled()
        v = {k: t.reshape(-1)[b] if keep and k in GRAD_FIELDS and t.requires_grad else float(t.reshape(-1)[b].detach())
             for k, t in params.items()}
        feature = FeatureParams(
            mixture=int(v["mixture"]),
            norm=v["feature_norm"],
            correlation=v["winfeatcorrel"],
            anisotropy=v["anisotropy"],
            np_min=int(v["np_min"]),
            np_max=int(v["np_max"]),
            sigcos=v["sigcos"],
            sigcos_var=v["sigcos_var"],
            frequency=int(v["frequency"]),
            phase=v["phase"] * math.pi / 2.0,
            thickness=v["thickness"],
            curvature=v["curvature"],
            orientation=v["orientation"] * math.pi,
        )
        return cls(
            tiling=int(v["tiling"]),
            jitter=v["jitter"],
            zoom=v["zoom"],
            rotation=v["rotation"],
            aspect=v["aspect"],
            distortion_amplitude=v["distortion_amplitude"],
            distortion_gain=v["distortion_gain"],
            distortion_frequency=v["distortion_frequency"],
            window_shape=int(v["window_shape"]),
            window_arity=int(v["window_arity"]),
            window_larp=v["window_larp"],
            window_norm=v["window_norm"],
            window_smoothness=v["window_smoothness"],
            window_blend=v["window_blend"],
            window_sigma=v["window_sigma"],
            feature=feature,
        )


# --------------------------------------------------------------------------- distortion
def _two_signed(h: torch.Tensor) -> torch.Tensor:
    """Two signed values in [-1, 1) from the low and high 16 bits of uint32 hashes (…, 2)."""
    bits = torch.stack([h & 0xFFFF, h >> 16], -1).to(torch.float32)
    return bits * (2.0 / 65536.0) - 1.0


def _lattice_noise(uv: torch.Tensor, n: int, seed: int, stream: int) -> torch.Tensor:
    """Two value noises (P, 2) in [-1, 1] on an n x n lattice wrapped with period 1 (smoothstep blend)."""
    key = hash_u32(n, seed, stream)
    if n == 0:
        return _two_signed(hash_u32(0, 0, key)).expand(uv.shape[0], 2).clone()
    r = torch.arange(n + 1) % n  # one extra row/column repeats the first: no wrap for the +1 corner
    table = _two_signed(hash_u32(r[:, None], r[None, :], key)).reshape(-1, 2)  # row iy * (n + 1) + ix
    g = uv * n
    base = torch.floor(g)
    t = g - base
    s = t * t * (3.0 - 2.0 * t)
    cell = torch.remainder(base, float(n)).to(torch.int64)
    i00 = cell[:, 1] * (n + 1) + cell[:, 0]
    v00, v10 = table.index_select(0, i00), table.index_select(0, i00 + 1)
    v01, v11 = table.index_select(0, i00 + (n + 1)), table.index_select(0, i00 + (n + 2))
    sx, sy = s[:, 0:1], s[:, 1:2]
    return torch.lerp(torch.lerp(v00, v10, sx), torch.lerp(v01, v11, sx), sy)


def periodic_noise(uv: torch.Tensor, freq: float, seed: int, stream: int) -> torch.Tensor:
    """Two tileable value noises (P, 2) of (possibly fractional) frequency ``freq`` per UV period.

    Integer frequencies are exact lattices; in between, the two neighbouring
    lattices are cross-faded and rescaled to keep the variance.
    """
    n0 = int(math.floor(max(freq, 0.0)))
    w = max(freq, 0.0) - n0
    out = _lattice_noise(uv, n0, seed, stream)
    if w > 1e-6:
        out = torch.lerp(out, _lattice_noise(uv, n0 + 1, seed, stream), w).div_(math.hypot(1.0 - w, w))
    return out


def distort(uv: torch.Tensor, ip: PPTBFParams, seed: int) -> torch.Tensor:
    """Turbulence: uv += A G^o (N_o(uv), N_o'(uv)) over 4 octaves of frequency f zoom 2^(o-1)."""
    if ip.distortion_amplitude <= 0.0:
        return uv
    out = uv.clone()
    for o in range(_NOISE_OCTAVES):
        amp = ip.distortion_amplitude * ip.distortion_gain**o
        if amp == 0.0:
            continue
        freq = ip.distortion_frequency * ip.zoom * 2.0 ** (o - 1)
        noise = periodic_noise(uv, freq, seed, 2 * o)
        out = out + amp * noise if isinstance(amp, torch.Tensor) else out.add_(noise, alpha=amp)
    return out


# --------------------------------------------------------------------------- per-image scene
_FAR = 1.0e4  # position of absent candidates: no window, never the closest


@dataclass(frozen=True)
class _Scene:
    """Everything one image needs: lattice, cells and the per-cell lookup tables.

    Per-pixel lookups use tables with one extra 'absent' entry (index N) that
    padding candidates and unused subdivision slots point to: it lies far away
    and has no kernels, so no masking is needed in the per-pixel code.
    """

    ip: PPTBFParams
    tiling: TilingType
    lat: Lattice
    cells: CellTable
    footprint: float
    nb: _Neighbours
    lists: tuple[torch.Tensor, torch.Tensor] | None  # nb.lists of every (unit, key), if small enough
    inv_border: torch.Tensor | None  # (4, N + 1) reciprocal border distances (larp > 0)
    n_sectors: int
    n_angles: int
    rot: torch.Tensor | None  # (N,) sector start angle
    radii: torch.Tensor | None  # (N * n_angles,) cellular border radii
    kernels: torch.Tensor | None  # (n_max, F, N + 1), see kernel_tables
    counts: torch.Tensor | None  # (N + 1,) kernels per cell (0 for absent cells)

    @property
    def candidates(self) -> int:
        """Candidate cells per pixel."""
        return int(self.nb.layout[0].shape[1])


def _angle_budget(res: int, cells: CellTable) -> int:
    """Angular samples per cell border: ~ one per 2 pixels of perimeter, a power of 2 in [4, 64]."""
    cell_px = res / math.sqrt(max(int(cells.valid.sum()), 1))
    want = max(math.pi * cell_px / 2.0, 1.0)
    return int(min(64, max(4, 2 ** round(math.log2(want)))))


def _pixel_tables(cells: CellTable, larp: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Point table (N + 1, 2) and, for larp > 0, reciprocal border table (4, N + 1), absent cells far away."""
    far = torch.full((cells.size + 1, 2), _FAR)
    far[:-1] = torch.where(cells.valid[:, None], cells.point, far[:-1])
    inv = None
    if larp > 0.0:
        inv = torch.cat([inverse_borders(cells), torch.tensor([[1.0, -1.0, 1.0, -1.0]])]).t().contiguous()
    return far, inv


_MAX_LIST_ENTRIES = 1 << 22  # larger candidate-list tables are not stored: lists are built per pixel


@dataclass(frozen=True)
class _Neighbours:
    """Candidate cells of a pixel from its unit ``u0`` and layout key (see :func:`candidate_layout`)."""

    unit_nb: torch.Tensor  # (U * 25,) canonical neighbour units
    layout: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # slot, ls, pad, off per key
    points: torch.Tensor  # (N + 1, 2) feature points (absent cells far away)
    per_unit: int  # cells per unit
    absent: int  # index of the absent cell (N)
    padded: bool  # the layout has padding entries (pattern tilings)

    @property
    def n_keys(self) -> int:
        return int(self.layout[0].shape[0])

    def lists(self, u0: torch.Tensor, key: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate cells (n, C) and their unit offset plus feature point (n, C, 2).

        A pixel at unit-local position f sees candidate c at ``f - offp[c]``.
        """
        slot, ls, pad, off = self.layout
        if key is None:
            slot, ls, pad, off = slot[0], ls[0], pad[0], off[0]
        else:
            slot, ls, pad, off = (t.index_select(0, key) for t in self.layout)
        cell = torch.take(self.unit_nb, u0[:, None] * 25 + slot) * self.per_unit + ls
        if self.padded:
            cell = cell + pad * (self.absent - cell)
        offp = self.points.index_select(0, cell.reshape(-1)).view(*cell.shape, 2) + off
        return cell, offp

    def table(self, n_units: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The lists of every (unit, key) at row ``unit * n_keys + key``; None if too large to store."""
        n_keys, n_cand = self.layout[0].shape
        if n_units * n_keys * n_cand > _MAX_LIST_ENTRIES:
            return None
        u = torch.arange(n_units).repeat_interleave(n_keys)
        cell, offp = self.lists(u, torch.arange(n_keys).repeat(n_units) if n_keys > 1 else None)
        return cell, offp.contiguous()


def _scene(ip: PPTBFParams, res: int, seed: int) -> _Scene:
    tiling = TILINGS[ip.tiling]
    lat = make_lattice(ip.zoom, ip.rotation, ip.aspect, tiling.shift)
    cells = build_cells(tiling, lat, ip.jitter, seed)
    footprint = FOOTPRINTS[ip.window_shape] * (0.4 if ip.tiling >= 10 else 1.0)
    n_sectors = 2**ip.window_arity
    mix = ip.feature.mixture
    rot = radii = None
    n_angles = 0
    if mix <= 2 and ip.window_blend > 0.0:
        rot = (2.0 * math.pi / n_sectors) * uniform(cells.key, S_ROT)
        n_angles = min(n_sectors, _angle_budget(res, cells))
        radii = cell_radii(cells, tile_neighbours(tiling), ip.window_larp, n_angles, rot).reshape(-1)
    points, inv = _pixel_tables(cells, ip.window_larp)
    per_unit = cells.n_tiles * cells.slots
    nb = _Neighbours(unit_neighbour_table(lat), candidate_layout(tiling), points, per_unit, cells.size, bool(tiling.pattern))
    kernels = counts = None
    if mix >= 1:
        kernels = kernel_tables(cells, ip.feature, footprint)
        counts = torch.cat([kernel_counts(cells.key, ip.feature) * cells.valid, torch.zeros(1, dtype=torch.int64)])
    lists = nb.table(lat.n_units)
    return _Scene(ip, tiling, lat, cells, footprint, nb, lists, inv, n_sectors, n_angles, rot, radii, kernels, counts)


def _radius_lookup(sc: _Scene, cell: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Border radius of ``cell`` at sector angle index ``m`` (interpolated if sectors are finer than the table)."""
    na, ns = sc.n_angles, sc.n_sectors
    row = cell * na
    if na >= ns:
        return sc.radii.index_select(0, row + m * (na // ns))
    pos = m.to(torch.float32) * (na / ns)
    i0 = torch.floor(pos)
    w = pos - i0
    i0 = i0.to(torch.int64)
    return torch.lerp(sc.radii.index_select(0, row + i0 % na), sc.radii.index_select(0, row + (i0 + 1) % na), w)


# --------------------------------------------------------------------------- per-pixel evaluation
def _to_tile(sc: _Scene, uv: torch.Tensor) -> torch.Tensor:
    """Tile-space coordinates t = M uv of (possibly distorted) UV points (P, 2)."""
    lat = sc.lat
    u, v = uv[:, 0], uv[:, 1]
    return torch.stack([lat.a * u + lat.b * v, lat.c * u + lat.d * v], -1)


def _phase(feat: torch.Tensor, phase: float) -> torch.Tensor:
    c2, s2 = math.cos(phase) ** 2, math.sin(phase) ** 2
    return feat * c2 + (1.0 - feat) * s2


@dataclass(frozen=True)
class _Candidates:
    """Candidate cells of a chunk of pixels, (P, C) each."""

    cell: torch.Tensor  # int64 cell index (N = absent)
    rx: torch.Tensor  # pixel minus feature point
    ry: torch.Tensor


def _candidates(sc: _Scene, t: torch.Tensor) -> _Candidates:
    base = torch.floor(t)
    frac = t - base
    ib = base.to(torch.int64)
    u0 = sc.lat.unit_index(ib[:, 0], ib[:, 1])
    key = layout_key(sc.tiling, ib[:, 1], frac)
    if sc.lists is not None:
        row = u0 if key is None else u0 * sc.nb.n_keys + key
        cell, offp = (t.index_select(0, row) for t in sc.lists)
    else:
        cell, offp = sc.nb.lists(u0, key)
    return _Candidates(cell, frac[:, 0:1] - offp[..., 0], frac[:, 1:2] - offp[..., 1])


def _ordering(sc: _Scene, cd: _Candidates) -> torch.Tensor:
    """Ordering distance (P, C): squared Euclidean for larp = 0, else (1-larp)|x-p| + larp max(ex, ey)."""
    d = cd.rx * cd.rx + cd.ry * cd.ry
    larp = sc.ip.window_larp
    if larp <= 0.0:
        return d
    n, c = cd.cell.shape
    t0, t1, t2, t3 = sc.inv_border.index_select(1, cd.cell.reshape(-1)).view(4, n, c).unbind(0)
    ex = torch.maximum(cd.rx * t0, cd.rx * t1)
    ey = torch.maximum(cd.ry * t2, cd.ry * t3)
    if isinstance(larp, torch.Tensor):
        return torch.maximum(ex, ey) * larp + d.sqrt() * (1.0 - larp)
    return torch.maximum(ex, ey).mul_(larp).add_(d.sqrt_(), alpha=1.0 - larp)


def _cellular(sc: _Scene, cd: _Candidates, k0: torch.Tensor) -> torch.Tensor:
    """Cellular window weight (P,) of the closest cell."""
    ip = sc.ip
    pick = k0[:, None]
    c0 = cd.cell.gather(1, pick)[:, 0]
    rx, ry = cd.rx.gather(1, pick)[:, 0], cd.ry.gather(1, pick)[:, 0]
    rot = sc.rot.index_select(0, c0)
    cv = cellular_value(rx, ry, rot, lambda m: _radius_lookup(sc, c0, m), sc.n_sectors, ip.window_smoothness)
    return ip.window_blend * cellular_weight(cv, ip.window_sigma)


def _windowed(sc: _Scene, cd: _Candidates, k0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixtures 0-2: sum of (cellular + classic window) x feature; returns (value, un-normalised value)."""
    ip, fp = sc.ip, sc.ip.feature
    n, c = cd.cell.shape
    w1 = _cellular(sc, cd, k0) if ip.window_blend > 0.0 else None
    w2 = None
    if ip.window_blend < 1.0:
        w2 = classic_window(lp_distance(cd.rx, cd.ry, ip.window_norm), ip.window_shape, sc.footprint)
        blend = ip.window_blend
        w2 = w2 * (1.0 - blend) if isinstance(blend, torch.Tensor) else w2.mul_(1.0 - blend)
    wsum = (w2.sum(1) if w2 is not None else 0.0) + (w1 if w1 is not None else 0.0)
    if fp.mixture == 0:
        vv = wsum
    else:
        flat0 = torch.arange(n) * c + k0
        if w2 is None:
            pix, flat, w = torch.arange(n), flat0, w1
        else:
            w = w2.view(-1)
            if w1 is not None:
                w = w.index_add(0, flat0, w1)  # the closest cell also carries the cellular window
            flat = (w > 0.0).nonzero()[:, 0]
            pix = torch.div(flat, c, rounding_mode="floor")
            w = w.index_select(0, flat)
        pick = lambda t: t.reshape(-1).index_select(0, flat)  # noqa: E731
        acc, _ = eval_kernels(sc.kernels, pick(cd.cell), pick(cd.rx), pick(cd.ry), fp, sc.counts)
        feat = 0.5 * acc + 0.5 if fp.mixture == 1 else acc / max(fp.np_max // 2, 1)
        vv = torch.zeros(n).index_add_(0, pix, w * _phase(feat, fp.phase))
    aux = vv
    if ip.window_shape == 0:
        vv = vv / torch.clamp(wsum, min=1e-30)
    return vv, aux


def _bombing(sc: _Scene, cd: _Candidates) -> torch.Tensor:
    """Mixtures 3 (priority bombing) and 4 (max) over all candidate cells; windows unused."""
    fp = sc.ip.feature
    n, k = cd.cell.shape
    acc, best = eval_kernels(sc.kernels, cd.cell.reshape(-1), cd.rx.reshape(-1), cd.ry.reshape(-1), fp, sc.counts)
    acc = acc.view(n, k)
    if fp.mixture == 4:
        return acc.amax(1)
    top, j = best.view(n, k).max(1)
    return acc.gather(1, j[:, None])[:, 0] * (top >= 0.0).to(acc.dtype)


def _eval_chunk(sc: _Scene, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw PPTBF and un-normalised value at tile-space points t (P, 2)."""
    cd = _candidates(sc, t)
    if sc.ip.feature.mixture >= 3:
        vv = _bombing(sc, cd)
        return vv, vv
    with torch.no_grad():  # the closest cell is a choice; the cellular window is 0 where it changes
        k0 = _ordering(sc, cd).argmin(1)
    vv, aux = _windowed(sc, cd, k0)
    return vv.clamp_(min=0.0), aux


def _pixel_uv(res: int) -> torch.Tensor:
    """Pixel-centre UV (res*res, 2), row-major with row 0 at the top."""
    c = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    v, u = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([u.reshape(-1), v.reshape(-1)], -1)


def evaluate_uv(ip: PPTBFParams, uv: torch.Tensor, res: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Un-remapped PPTBF at arbitrary UV points (P, 2) and its un-normalised companion.

    ``res`` only sets the angular resolution of the cellular border tables.
    """
    sc = _scene(ip, res, seed)
    t = _to_tile(sc, distort(uv, ip, seed))
    chunk = min(16384, max(4096, _CHUNK_PAIRS // sc.candidates))
    vals, auxs = [], []
    for k in range(0, t.shape[0], chunk):
        vv, aux = _eval_chunk(sc, t[k : k + chunk])
        vals.append(vv)
        auxs.append(aux)
    return torch.cat(vals), torch.cat(auxs)


def render_raw(ip: PPTBFParams, res: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Un-remapped PPTBF (res, res) of one image and its un-normalised companion (mask tie-break key)."""
    vv, aux = evaluate_uv(ip, _pixel_uv(res), res, seed)
    return vv.view(res, res), aux.view(res, res)

