"""Per-pixel tone filters: levels, curve, threshold, histogram scan/range, contrast, clamp, pow.

All nodes work channel-wise on gray or color images and are differentiable
with respect to the input and every float parameter (piecewise, where a
clamp or a segment boundary makes the function non-smooth).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ...params import ParamSpec, f
from ..spec import NodeSpec, PortSpec, node, pv

_EPS = 1e-6
CURVE_POINTS = 4


# ----------------------------------------------------------------- helpers
def safe_pow(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``x ** p`` for x >= 0 with finite gradients at x = 0 (value 0 there, p > 0)."""
    positive = x > 0
    base = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, base**p, torch.zeros_like(x))


def safe_div(num: torch.Tensor, den: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """``num / den`` with ``|den|`` kept at least ``eps`` (its sign preserved)."""
    return num / torch.where(den.abs() < eps, torch.full_like(den, eps).copysign(den), den)


def stack_params(values: Sequence[torch.Tensor | float], like: torch.Tensor) -> torch.Tensor:
    """Stack K scalar parameters ``()``/``(B,)`` into ``(..., K)``."""
    ts = torch.broadcast_tensors(*[torch.as_tensor(v, dtype=like.dtype, device=like.device) for v in values])
    return torch.stack(ts, dim=-1)


def stack_vectors(values: Sequence[torch.Tensor | Sequence[float]], like: torch.Tensor) -> torch.Tensor:
    """Stack K vector parameters ``(n,)``/``(B, n)`` into ``(..., K, n)``."""
    ts = torch.broadcast_tensors(*[torch.as_tensor(v, dtype=like.dtype, device=like.device) for v in values])
    return torch.stack(ts, dim=-2)


def sort_knots(xs: torch.Tensor, ys: torch.Tensor, vector: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort knots by position. ``xs`` is ``(..., K)``; ``ys`` is ``(..., K)``, or ``(..., K, n)`` if ``vector``.

    ``torch.sort`` and ``gather`` both pass gradients, so sorting never cuts
    the gradient of positions or values.
    """
    lead = torch.broadcast_shapes(xs.shape, ys.shape[:-1] if vector else ys.shape)
    xs_sorted, order = torch.sort(xs.expand(lead), dim=-1)
    if not vector:
        return xs_sorted, torch.gather(ys.expand(lead), -1, order)
    n = ys.shape[-1]
    idx = order.unsqueeze(-1).expand(*lead, n)
    return xs_sorted, torch.gather(ys.expand(*lead, n), -2, idx)


def segments(u: torch.Tensor, knots: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Split ``u`` over sorted knot positions (each broadcastable to ``u``).

    ``u`` must already lie in ``[knots[0], knots[-1]]``. Returns one
    ``(mask, t, h)`` per segment: ``mask`` is 1 where ``u`` falls in the segment
    (the masks partition the image), ``t`` in [0, 1] the local coordinate and
    ``h`` the (eps-guarded) segment width.
    """
    out = []
    last = len(knots) - 2
    for k in range(last + 1):
        lo, hi = knots[k], knots[k + 1]
        inside = torch.ones_like(u, dtype=torch.bool)
        if k > 0:
            inside = inside & (u >= lo)
        if k < last:
            inside = inside & (u < hi)
        h = (hi - lo).clamp_min(_EPS)
        t = ((u - lo) / h).clamp(0.0, 1.0)
        out.append((inside.to(u.dtype), t, h))
    return out


def clamp_between(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Clamp with tensor bounds; gradients reach ``low``/``high`` where they bind."""
    return torch.minimum(torch.maximum(x, low), high)


# ------------------------------------------------------------------- nodes
def levels(
    input: torch.Tensor,
    in_low: torch.Tensor | float = 0.0,
    in_high: torch.Tensor | float = 1.0,
    in_mid: torch.Tensor | float = 0.5,
    out_low: torch.Tensor | float = 0.0,
    out_high: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Levels: remap [in_low, in_high] to [0, 1], apply the midtone, then map to [out_low, out_high].

    The midtone is the normalized input value that becomes 50 % gray:
    ``t ** p`` with ``p = log(0.5) / log(in_mid)`` (in_mid 0.5 = linear).
    in_low > in_high inverts.

    Example::

        {"type": "levels", "inputs": {"input": "height"}, "params": {"in_low": 0.2, "in_high": 0.8, "in_mid": 0.4}}
    """
    lo, hi = pv(in_low, input), pv(in_high, input)
    t = safe_div(input - lo, hi - lo).clamp(0.0, 1.0)
    p = math.log(0.5) / torch.log(pv(in_mid, input).clamp(0.01, 0.99))
    t = safe_pow(t, p)
    o_lo = pv(out_low, input)
    return o_lo + t * (pv(out_high, input) - o_lo)


def _curve_tangents(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> list[torch.Tensor]:
    """Fritsch-Butland tangents: harmonic mean of neighbouring secants, 0 at extrema.

    They keep each segment monotone between its knots (no overshoot) and
    reproduce a straight line exactly.
    """
    secants = [(ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]).clamp_min(_EPS) for k in range(len(xs) - 1)]
    tangents = [secants[0]]
    for a, b in zip(secants[:-1], secants[1:]):
        prod = a * b
        same = prod > 0
        harmonic = 2.0 * prod / torch.where(same, a + b, torch.ones_like(a))
        tangents.append(torch.where(same, harmonic, torch.zeros_like(a)))
    tangents.append(secants[-1])
    return tangents


def curve(
    input: torch.Tensor,
    x1: torch.Tensor | float = 0.0,
    x2: torch.Tensor | float = 1.0 / 3.0,
    x3: torch.Tensor | float = 2.0 / 3.0,
    x4: torch.Tensor | float = 1.0,
    y1: torch.Tensor | float = 0.0,
    y2: torch.Tensor | float = 1.0 / 3.0,
    y3: torch.Tensor | float = 2.0 / 3.0,
    y4: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Tone curve through 4 control points (x1, y1) ... (x4, y4).

    Points are sorted by x at evaluation. Between points the curve is a cubic
    Hermite spline with monotone (Fritsch-Butland) tangents, so it never
    overshoots its control values; left of the first and right of the last
    point it is flat. Endpoints are explicit: the default points (0, 0),
    (1/3, 1/3), (2/3, 2/3), (1, 1) give the identity.

    Example::

        {"type": "curve", "inputs": {"input": "height"}, "params": {"y2": 0.2, "y3": 0.9}}
    """
    xs_s, ys_s = sort_knots(stack_params((x1, x2, x3, x4), input), stack_params((y1, y2, y3, y4), input))
    xs = [pv(xs_s[..., k], input) for k in range(CURVE_POINTS)]
    ys = [pv(ys_s[..., k], input) for k in range(CURVE_POINTS)]
    ds = _curve_tangents(xs, ys)
    u = clamp_between(input, xs[0], xs[-1])
    out = torch.zeros_like(input)
    for k, (mask, t, h) in enumerate(segments(u, xs)):
        t2, t3 = t * t, t * t * t
        val = (
            (2 * t3 - 3 * t2 + 1) * ys[k]
            + (t3 - 2 * t2 + t) * h * ds[k]
            + (-2 * t3 + 3 * t2) * ys[k + 1]
            + (t3 - t2) * h * ds[k + 1]
        )
        out = out + mask * val
    return out


_CURVE_DEFAULTS = tuple(k / (CURVE_POINTS - 1) for k in range(CURVE_POINTS))


def brightness_contrast(
    input: torch.Tensor, brightness: torch.Tensor | float = 0.0, contrast: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """``(x - 0.5) * 20 ** contrast + 0.5 + brightness``, clamped to [0, 1].

    Example::

        {"type": "brightness_contrast", "inputs": {"input": "albedo"}, "params": {"brightness": 0.1, "contrast": 0.3}}
    """
    gain = torch.pow(torch.as_tensor(20.0, dtype=input.dtype, device=input.device), pv(contrast, input))
    return ((input - 0.5) * gain + 0.5 + pv(brightness, input)).clamp(0.0, 1.0)


def invert(input: torch.Tensor) -> torch.Tensor:
    """``1 - x`` on every channel.

    Example::

        {"type": "invert", "inputs": {"input": "height"}}
    """
    return 1.0 - input


def threshold(
    input: torch.Tensor, threshold: torch.Tensor | float = 0.5, softness: torch.Tensor | float = 0.02
) -> torch.Tensor:
    """Soft threshold ``sigmoid((x - threshold) / softness)``.

    Example::

        {"type": "threshold", "inputs": {"input": "noise"}, "params": {"threshold": 0.6, "softness": 0.05}}
    """
    return torch.sigmoid((input - pv(threshold, input)) / pv(softness, input).clamp_min(1e-4))


def histogram_scan(
    input: torch.Tensor, position: torch.Tensor | float = 0.5, contrast: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Linear ramp through a window of width ``1 - contrast`` that slides over the histogram.

    Values below the window become 0, above it 1. ``position`` 0 puts the
    window just above 1 (all black), 1 just below 0 (all white), 0.5 centres it
    on 0.5; contrast 0 with position 0.5 is the identity, contrast 1 a hard
    step at ``1 - position``.

    Example::

        {"type": "histogram_scan", "inputs": {"input": "noise"}, "params": {"position": 0.4, "contrast": 0.8}}
    """
    width = (1.0 - pv(contrast, input)).clamp_min(1e-4)
    centre = 1.0 + 0.5 * width - pv(position, input) * (1.0 + width)
    return ((input - centre) / width + 0.5).clamp(0.0, 1.0)


def histogram_range(
    input: torch.Tensor, range: torch.Tensor | float = 1.0, position: torch.Tensor | float = 0.5
) -> torch.Tensor:
    """Compress values toward ``position``: ``range * x + (1 - range) * position``.

    The output spans ``range`` and keeps ``position`` fixed; range 1 is the identity.

    Example::

        {"type": "histogram_range", "inputs": {"input": "noise"}, "params": {"range": 0.3, "position": 0.7}}
    """
    r = pv(range, input)
    return r * input + (1.0 - r) * pv(position, input)


def clamp(input: torch.Tensor, low: torch.Tensor | float = 0.0, high: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Clamp to [low, high] (high wins when low > high).

    Example::

        {"type": "clamp", "inputs": {"input": "height"}, "params": {"low": 0.1, "high": 0.9}}
    """
    return clamp_between(input, pv(low, input), pv(high, input))


def pow(input: torch.Tensor, exponent: torch.Tensor | float = 1.0) -> torch.Tensor:
    """``max(x, 0) ** exponent``.

    Example::

        {"type": "pow", "inputs": {"input": "height"}, "params": {"exponent": 2.2}}
    """
    return safe_pow(input.clamp_min(0.0), pv(exponent, input))


# ------------------------------------------------------------------- specs
def _curve_params() -> tuple[ParamSpec, ...]:
    """x1..x4 then y1..y4; the defaults lie on the identity line."""
    ks = range(1, CURVE_POINTS + 1)
    xs = tuple(f(f"x{k}", v, doc=f"input position of point {k} (sorted by x)") for k, v in zip(ks, _CURVE_DEFAULTS))
    ys = tuple(f(f"y{k}", v, doc=f"output value of point {k}") for k, v in zip(ks, _CURVE_DEFAULTS))
    return xs + ys


_IN = (PortSpec("input", "any"),)

SPECS: tuple[NodeSpec, ...] = (
    node(
        "levels",
        levels,
        _IN,
        (
            f("in_low", 0.0, doc="input value mapped to out_low"),
            f("in_high", 1.0, doc="input value mapped to out_high (below in_low inverts)"),
            f("in_mid", 0.5, 0.05, 0.95, doc="normalized input value mapped to 50% (0.5 = linear; lower brightens)"),
            f("out_low", 0.0, doc="output for inputs at or below in_low"),
            f("out_high", 1.0, doc="output for inputs at or above in_high"),
        ),
    ),
    node(
        "curve",
        curve,
        _IN,
        _curve_params(),
    ),
    node(
        "brightness_contrast",
        brightness_contrast,
        _IN,
        (
            f("brightness", 0.0, -1.0, 1.0, doc="added after contrast (0 = unchanged)"),
            f("contrast", 0.0, -1.0, 1.0, doc="gain 20**contrast about 0.5 (0 = none, -1 = flat-ish, 1 = step-ish)"),
        ),
    ),
    node("invert", invert, _IN),
    node(
        "threshold",
        threshold,
        _IN,
        (
            f("threshold", 0.5, doc="value mapped to 0.5"),
            f("softness", 0.02, 0.001, 0.5, doc="sigmoid width (small = hard step)"),
        ),
    ),
    node(
        "histogram_scan",
        histogram_scan,
        _IN,
        (
            f("position", 0.5, doc="slides the window: 0 = all black, 0.5 = centred, 1 = all white"),
            f("contrast", 0.0, doc="window width is 1 - contrast (1 = hard step)"),
        ),
    ),
    node(
        "histogram_range",
        histogram_range,
        _IN,
        (
            f("range", 1.0, doc="output range width (1 = identity, 0 = flat at position)"),
            f("position", 0.5, doc="value the range shrinks toward"),
        ),
    ),
    node(
        "clamp",
        clamp,
        _IN,
        (f("low", 0.0, doc="lower bound"), f("high", 1.0, doc="upper bound (wins over low)")),
    ),
    node("pow", pow, _IN, (f("exponent", 1.0, 0.1, 10.0, doc="power applied to max(x, 0) (1 = identity)"),)),
)
