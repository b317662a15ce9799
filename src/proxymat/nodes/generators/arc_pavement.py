"""Arc pavement: staggered columns of stacked segmental arcs made of stones.

Substance's Arc Pavement algorithm is not public; this is our own design with
the parameters of DiffProxy's ArcPavement proxy.

Layout (UV, v down). The tile has ``COLUMNS`` (2) columns of width w = 1/2.
Every column holds ``arcs_amount`` arcs per tile height, stacked vertically:
each arc is a band of constant vertical thickness s = 1/arcs_amount bounded by
two translated circle arcs of radius R = ``RADIUS`` * w bowing upwards (the arc
ends droop by ``R - sqrt(R^2 - dx^2)`` at horizontal offset dx from the column
centre). Odd columns are shifted down by half an arc, so arcs of neighbouring
columns interlock (running bond). Each arc is cut into ``pattern_amount``
slots of equal angle, i.e. equal arc length L = 2 asin(w / 2R) R / pattern_amount.
Column, arc and slot indices wrap with the tile, so the pattern tiles.

Stones. In its slot, a stone is a rounded rectangle centred on the slot with
half extents (along the arc, across it):

* ``ha = L/2 * pattern_scale * pattern_width * (1 - pattern_width_random * U1)
  * (1 - global_pattern_width_random * U_arc)`` (U_arc shared by an arc);
* ``hb = s/2 * pattern_scale * pattern_height * (1 - pattern_height_random * U2)
  * (1 - pattern_height_decrease * |2m - 1|)``, m = (slot + 1/2) / pattern_amount,
  so stones get thinner towards the arc ends;

corner radius ``ROUND * min(ha, hb)``. Its value is a bevelled plateau
``smoothstep(-sdf / bevel)`` (bevel ``BEVEL * min(ha, hb)``, at least one pixel,
which also anti-aliases the edges) times the luminance
``1 - color_random * U3``; joints are 0. The U are uniform, hashed from
(column, arc, slot, seed, stream) on the small stone grid and gathered per pixel.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from ...params import f, i
from ._grid import Params, evaluate_batched, pixel_centers, smoothstep
from .base import GeneratorSpec
from .hashing import uniform

COLUMNS = 2  # arc columns per tile (even: the half-arc stagger must wrap)
RADIUS = 0.8  # arc radius / column width
ROUND = 0.35  # stone corner radius / smaller half extent
BEVEL = 0.3  # stone bevel width / smaller half extent
_S_WIDTH, _S_HEIGHT, _S_COLOR, _S_ARC = range(4)  # hash streams


def _column_geometry(res: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Per pixel column: column index, droop of the arcs and slot position along the arc in [0, 1).

    Returns (col (W,) int64, sag (W,), along (W,), half angle of an arc).
    """
    g = pixel_centers(res, device) * COLUMNS
    col = torch.floor(g)
    dx = (g - col - 0.5) / COLUMNS  # offset from the column centre, UV
    radius = RADIUS / COLUMNS
    half_angle = math.asin(0.5 / RADIUS)
    sag = radius - torch.sqrt(radius * radius - dx * dx)
    along = (torch.asin(dx / radius) + half_angle) / (2.0 * half_angle)
    return col.to(torch.int64), sag, along.clamp(0.0, 1.0 - 1e-6), half_angle


def _stone_tables(p: Params, n_arcs: int, n_slots: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-stone width and height factors and luminance, each flattened (B * COLUMNS * n_arcs * n_slots,)."""
    dev = p["arcs_amount"].device
    c = torch.arange(COLUMNS, device=dev).reshape(COLUMNS, 1, 1)
    a = torch.arange(n_arcs, device=dev).reshape(1, n_arcs, 1)
    s = torch.arange(n_slots, device=dev).reshape(1, 1, n_slots)

    def per(name: str) -> torch.Tensor:
        return p[name].reshape(-1, 1, 1, 1)

    slots = per("pattern_amount")
    centre = ((s + 0.5) / slots).clamp(max=1.0)  # (B, 1, 1, n_slots)
    scale = per("pattern_scale")
    width = scale * per("pattern_width") * (1.0 - per("pattern_width_random") * uniform(c, a, s, seed, _S_WIDTH))
    width = width * (1.0 - per("global_pattern_width_random") * uniform(c, a, seed, _S_ARC))
    height = scale * per("pattern_height") * (1.0 - per("pattern_height_random") * uniform(c, a, s, seed, _S_HEIGHT))
    height = height * (1.0 - per("pattern_height_decrease") * (2.0 * centre - 1.0).abs())
    lum = (1.0 - per("color_random") * uniform(c, a, s, seed, _S_COLOR)).expand_as(height)
    return width.reshape(-1), height.reshape(-1), lum.reshape(-1)


def _rounded_box(qa: torch.Tensor, qb: torch.Tensor, ha: torch.Tensor, hb: torch.Tensor) -> torch.Tensor:
    """Signed distance to a rectangle of half extents (ha, hb) with corner radius ROUND * min(ha, hb)."""
    r = ROUND * torch.minimum(ha, hb)
    ka = qa.abs() - (ha - r)
    kb = qb.abs() - (hb - r)
    outside = torch.sqrt(ka.clamp_min(0.0).square() + kb.clamp_min(0.0).square())
    return outside + torch.maximum(ka, kb).clamp_max(0.0) - r


def _arc_chunk(p: Params, key: tuple[int, ...], res: int, seed: int) -> torch.Tensor:
    arcs, slots = p["arcs_amount"], p["pattern_amount"]
    batch, dev = arcs.shape[0], arcs.device
    n_arcs, n_slots = int(arcs.max().item()), int(slots.max().item())
    col, sag, along, half_angle = _column_geometry(res, dev)
    arcs3, slots3 = arcs.reshape(-1, 1, 1), slots.reshape(-1, 1, 1)

    # Arc index and fraction across the arc (B, H, W); odd columns shifted by half an arc.
    v = pixel_centers(res, dev).reshape(1, res, 1)
    t = (v - sag.reshape(1, 1, res)) * arcs3 + 0.5 * (col % 2).reshape(1, 1, res)
    arc = torch.floor(t)
    fb = t - arc
    arc = torch.remainder(arc.to(torch.int64), arcs3.to(torch.int64))
    # Slot index and fraction along the arc (B, 1, W).
    u = along.reshape(1, 1, res) * slots3
    slot = torch.floor(u)
    fa = u - slot
    slot = slot.to(torch.int64)

    base = (torch.arange(batch, device=dev).reshape(batch, 1, 1) * COLUMNS + col.reshape(1, 1, res)) * n_arcs
    idx = ((base + arc) * n_slots) + slot
    width, height, lum = _stone_tables(p, n_arcs, n_slots, seed)
    slot_len = 2.0 * half_angle * (RADIUS / COLUMNS) / slots3  # UV
    arc_len = 1.0 / arcs3
    ha = 0.5 * slot_len * width.take(idx)
    hb = 0.5 * arc_len * height.take(idx)
    sdf = _rounded_box((fa - 0.5) * slot_len, (fb - 0.5) * arc_len, ha, hb)
    bevel = (BEVEL * torch.minimum(ha, hb)).clamp_min(1.0 / res)
    out = smoothstep(-sdf / bevel) * lum.take(idx)
    return out.clamp(0.0, 1.0).unsqueeze(1)


def arc_pavement(params: Params, res: int, seed: int) -> torch.Tensor:
    """Arc pavement generator function (see module docstring).

    Example::

        {"type": "arc_pavement", "params": {"pattern_amount": 8, "arcs_amount": 10, "pattern_scale": 0.9}}
    """
    return evaluate_batched(params, res, partial(_arc_chunk, res=res, seed=seed))


SPECS: tuple[GeneratorSpec, ...] = (
    GeneratorSpec(
        name="arc_pavement",
        fn=arc_pavement,
        params=(
            i("pattern_amount", 12, 1, 64, doc="Stones per arc."),
            i("arcs_amount", 14, 1, 32, doc="Arcs per column and tile height."),
            f("pattern_scale", 1.0, doc="Uniform stone scale within its slot."),
            f("pattern_width", 0.8, doc="Stone length along the arc, as a fraction of its slot."),
            f("pattern_height", 0.9, doc="Stone thickness across the arc, as a fraction of the arc."),
            f("pattern_width_random", 0.0, doc="Per-stone random length reduction."),
            f("pattern_height_random", 0.0, doc="Per-stone random thickness reduction."),
            f("global_pattern_width_random", 0.0, doc="Per-arc random length reduction shared by its stones."),
            f("pattern_height_decrease", 0.25, doc="Thickness reduction towards the arc ends."),
            f("color_random", 0.0, doc="Per-stone darkening: value = 1 - color_random * U."),
        ),
        doc="Staggered columns of stacked segmental arcs of rounded stones (own design, DiffProxy's parameters).",
        sample_box={
            "pattern_amount": (4, 32),
            "arcs_amount": (4, 20),
            "pattern_scale": (0.9, 1.0),
            "pattern_width": (0.7, 0.9),
            "pattern_height": (0.8, 1.0),
            "pattern_width_random": (0.0, 0.2),
            "pattern_height_random": (0.0, 0.2),
            "global_pattern_width_random": (0.0, 0.2),
            "pattern_height_decrease": (0.0, 0.5),
            "color_random": (0.0, 1.0),
        },
        direct=("pattern_scale", "pattern_width", "pattern_height", "pattern_width_random", "pattern_height_random",
                "global_pattern_width_random", "pattern_height_decrease", "color_random"),
    ),
)
