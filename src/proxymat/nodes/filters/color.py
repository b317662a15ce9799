"""Color filters: blend, gradient map, HSL, grayscale, uniform fills, color keying, RGB split/merge.

Pure, batched torch functions following :mod:`proxymat.nodes.spec`.
"""

from __future__ import annotations

import math

import torch

from ...params import ParamSpec, color, e, f
from ..spec import NodeSpec, PortSpec, as_channels, luminance, node, pc, pv
from .tone import segments, sort_knots, stack_params, stack_vectors

BLEND_MODES = ("copy", "add", "subtract", "multiply", "screen", "overlay", "max", "min", "switch", "soft_light")
GRADIENT_STOPS = 4
_DIST_EPS = 1e-12


# ------------------------------------------------------------------- blend
def _match_channels(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Broadcast a gray image to color when the other one is color."""
    if a.shape[1] == b.shape[1]:
        return a, b
    if a.shape[1] == 1:
        return a.expand(-1, b.shape[1], -1, -1), b
    return a, b.expand(-1, a.shape[1], -1, -1)


def _blend_formula(fg: torch.Tensor, bg: torch.Tensor, mode: str) -> torch.Tensor:
    """The blended value before opacity; ``fg`` is the top layer, ``bg`` the bottom one."""
    if mode in ("copy", "switch"):
        return fg
    if mode == "add":
        return fg + bg
    if mode == "subtract":
        return bg - fg
    if mode == "multiply":
        return fg * bg
    if mode == "screen":
        return 1.0 - (1.0 - fg) * (1.0 - bg)
    if mode == "overlay":
        return torch.where(bg < 0.5, 2.0 * fg * bg, 1.0 - 2.0 * (1.0 - fg) * (1.0 - bg))
    if mode == "max":
        return torch.maximum(fg, bg)
    if mode == "min":
        return torch.minimum(fg, bg)
    if mode == "soft_light":
        return (1.0 - 2.0 * fg) * bg * bg + 2.0 * fg * bg
    raise ValueError(f"blend: unknown mode {mode!r}; expected one of {list(BLEND_MODES)}")


def blend(
    foreground: torch.Tensor,
    background: torch.Tensor,
    mask: torch.Tensor | None = None,
    mode: str = "copy",
    opacity: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Blend ``foreground`` over ``background``: ``lerp(background, blended, opacity * mask)``, clamped to [0, 1].

    Modes (fg = foreground, bg = background): copy fg; add fg + bg; subtract
    bg - fg; multiply fg * bg; screen 1 - (1 - fg)(1 - bg); overlay (keyed on
    bg) 2 fg bg if bg < 0.5 else 1 - 2 (1 - fg)(1 - bg); max; min; soft_light
    in the smooth Pegtop form (1 - 2 fg) bg^2 + 2 fg bg; switch is a plain
    crossfade by ``opacity`` that ignores the mask.

    Example::

        {"type": "blend", "inputs": {"foreground": "dirt", "background": "base", "mask": "mask"}, "params": {"mode": "multiply", "opacity": 0.6}}
    """
    fg, bg = _match_channels(foreground, background)
    blended = _blend_formula(fg, bg, mode)
    alpha = pv(opacity, bg)
    if mask is not None and mode != "switch":
        alpha = alpha * luminance(mask)
    return (bg + (blended - bg) * alpha).clamp(0.0, 1.0)


# ----------------------------------------------------------- gradient map
def gradient_map(
    input: torch.Tensor,
    pos_1: torch.Tensor | float = 0.0,
    pos_2: torch.Tensor | float = 1.0 / 3.0,
    pos_3: torch.Tensor | float = 2.0 / 3.0,
    pos_4: torch.Tensor | float = 1.0,
    color_1: torch.Tensor | tuple[float, float, float] = (0.0, 0.0, 0.0),
    color_2: torch.Tensor | tuple[float, float, float] = (1.0 / 3.0,) * 3,
    color_3: torch.Tensor | tuple[float, float, float] = (2.0 / 3.0,) * 3,
    color_4: torch.Tensor | tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> torch.Tensor:
    """Gray -> color through 4 stops (``pos_k``, ``color_k``), sorted by position at evaluation.

    Colors are interpolated linearly between neighbouring stops and held
    constant beyond the first and last stop.

    The defaults (black, 1/3, 2/3, white at 0, 1/3, 2/3, 1) reproduce the gray input as color.

    Example::

        {"type": "gradient_map", "inputs": {"input": "height"}, "params": {"color_1": [0.2, 0.1, 0.05], "color_4": [0.8, 0.6, 0.4]}}
    """
    x = luminance(input)
    pos = stack_params((pos_1, pos_2, pos_3, pos_4), x)
    cols = stack_vectors((color_1, color_2, color_3, color_4), x)
    pos, cols = sort_knots(pos, cols, vector=True)
    knots = [pv(pos[..., k], x) for k in range(GRADIENT_STOPS)]
    cs = [pc(cols[..., k, :], x) for k in range(GRADIENT_STOPS)]
    u = torch.minimum(torch.maximum(x, knots[0]), knots[-1])
    out = torch.zeros(1, dtype=x.dtype, device=x.device)
    for k, (mask, t, _) in enumerate(segments(u, knots)):
        out = out + mask * (cs[k] + t * (cs[k + 1] - cs[k]))
    return out


# -------------------------------------------------------------------- hsl
def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate colors about the gray axis (1, 1, 1) by ``angle`` radians (red -> green for +120 deg)."""
    mean = x.mean(1, keepdim=True)
    c = x - mean
    r, g, b = c[:, 0:1], c[:, 1:2], c[:, 2:3]
    cross = torch.cat((b - g, r - b, g - r), 1) / math.sqrt(3.0)
    return mean + c * torch.cos(angle) + cross * torch.sin(angle)


def hsl(
    input: torch.Tensor,
    hue: torch.Tensor | float = 0.5,
    saturation: torch.Tensor | float = 0.5,
    lightness: torch.Tensor | float = 0.5,
) -> torch.Tensor:
    """Hue shift, saturation and lightness; every parameter at 0.5 is the identity.

    Hue rotates the chroma about the gray axis by ``(hue - 0.5)`` turns (a
    smooth stand-in for an HSL hue shift, with no discontinuity at gray or at
    the hue wrap); saturation scales the chroma around the channel mean by
    ``2 * saturation``; lightness < 0.5 scales toward black, > 0.5 lerps toward
    white. The result is clamped to [0, 1].

    Example::

        {"type": "hsl", "inputs": {"input": "albedo"}, "params": {"hue": 0.55, "saturation": 0.4}}
    """
    x = as_channels(input, "color")
    x = _rotate_hue(x, 2.0 * math.pi * (pv(hue, x) - 0.5))
    mean = x.mean(1, keepdim=True)
    x = mean + (x - mean) * (2.0 * pv(saturation, x))
    light = 2.0 * pv(lightness, x) - 1.0
    x = torch.where(light < 0, x * (1.0 + light), x + (1.0 - x) * light)
    return x.clamp(0.0, 1.0)


# ------------------------------------------------------------ conversions
def grayscale(
    input: torch.Tensor,
    r: torch.Tensor | float = 0.2126,
    g: torch.Tensor | float = 0.7152,
    b: torch.Tensor | float = 0.0722,
) -> torch.Tensor:
    """Color -> gray as ``r*R + g*G + b*B`` (weights not normalized), clamped to [0, 1].

    Example::

        {"type": "grayscale", "inputs": {"input": "albedo"}}
    """
    x = as_channels(input, "color")
    out = x[:, 0:1] * pv(r, x) + x[:, 1:2] * pv(g, x) + x[:, 2:3] * pv(b, x)
    return out.clamp(0.0, 1.0)


def _fill(value: torch.Tensor, channels: int, res: int, batch: int, device: torch.device | None) -> torch.Tensor:
    """Broadcast a ``(channels,)``/``(B, channels)`` value to a ``(batch, channels, res, res)`` image."""
    v = torch.as_tensor(value, device=device)
    if not v.is_floating_point():
        v = v.float()
    v = v.reshape(-1, channels, 1, 1)
    n = v.shape[0] if v.shape[0] > 1 else batch
    return v.expand(n, channels, res, res).contiguous()


def uniform_color(
    color: torch.Tensor | tuple[float, float, float] = (0.5, 0.5, 0.5),
    *,
    res: int,
    batch: int = 1,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A ``(batch, 3, res, res)`` image filled with ``color`` (a batched color sets the batch).

    Example::

        {"type": "uniform_color", "params": {"color": [0.6, 0.3, 0.2]}}
    """
    return _fill(color, 3, res, batch, device)


def uniform_gray(
    value: torch.Tensor | float = 0.5,
    *,
    res: int,
    batch: int = 1,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A ``(batch, 1, res, res)`` image filled with ``value``.

    Example::

        {"type": "uniform_gray", "params": {"value": 0.25}}
    """
    return _fill(value, 1, res, batch, device)


def color_to_mask(
    input: torch.Tensor,
    key: torch.Tensor | tuple[float, float, float] = (0.0, 1.0, 0.0),
    range: torch.Tensor | float = 0.1,
    softness: torch.Tensor | float = 0.02,
) -> torch.Tensor:
    """Gray mask of pixels near ``key``: ``sigmoid((range - d) / softness)``.

    ``d`` is the RGB distance to the key divided by sqrt(3) (so it lies in [0, 1]);
    the mask is 0.5 at ``d = range``, ~1 well inside, ~0 well outside.

    Example::

        {"type": "color_to_mask", "inputs": {"input": "albedo"}, "params": {"key": [0.8, 0.2, 0.1], "range": 0.15}}
    """
    x = as_channels(input, "color")
    d2 = ((x - pc(key, x)) ** 2).sum(1, keepdim=True) / 3.0
    d = torch.sqrt(d2 + _DIST_EPS)
    return torch.sigmoid((pv(range, x) - d) / pv(softness, x).clamp_min(1e-4))


def rgb_split(input: torch.Tensor) -> dict[str, torch.Tensor]:
    """Color -> three gray images ``r``, ``g``, ``b`` (a gray input gives three copies).

    Example::

        {"type": "rgb_split", "inputs": {"input": "albedo"}}
    """
    x = as_channels(input, "color")
    return {"r": x[:, 0:1], "g": x[:, 1:2], "b": x[:, 2:3]}


def rgb_merge(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Three gray images -> one color image (color inputs are reduced by luminance).

    Example::

        {"type": "rgb_merge", "inputs": {"r": "red", "g": "green", "b": "blue"}}
    """
    parts = torch.broadcast_tensors(luminance(r), luminance(g), luminance(b))
    return torch.cat(parts, 1)


# ------------------------------------------------------------------- specs
def _gradient_params() -> tuple[ParamSpec, ...]:
    """pos_1..pos_K then color_1..color_K; the defaults form a black-to-white ramp."""
    ks = range(1, GRADIENT_STOPS + 1)
    ramp = [(k - 1) / (GRADIENT_STOPS - 1) for k in ks]
    pos = tuple(f(f"pos_{k}", v, doc=f"position of stop {k} (stops sorted by position)") for k, v in zip(ks, ramp))
    cols = tuple(color(f"color_{k}", (v,) * 3, doc=f"color of stop {k}") for k, v in zip(ks, ramp))
    return pos + cols


SPECS: tuple[NodeSpec, ...] = (
    node(
        "blend",
        blend,
        (PortSpec("foreground", "any"), PortSpec("background", "any"), PortSpec("mask", "gray", optional=True)),
        (
            e("mode", "copy", BLEND_MODES, doc="blend formula; switch = crossfade by opacity, mask ignored"),
            f("opacity", 1.0, doc="weight of the blended result (times the mask)"),
        ),
    ),
    node(
        "gradient_map",
        gradient_map,
        (PortSpec("input", "gray"),),
        _gradient_params(),
        out="color",
    ),
    node(
        "hsl",
        hsl,
        (PortSpec("input", "color"),),
        (
            f("hue", 0.5, doc="hue rotation of (hue - 0.5) turns (0.5 = unchanged)"),
            f("saturation", 0.5, doc="chroma gain 2 * saturation (0 = gray, 0.5 = unchanged)"),
            f("lightness", 0.5, doc="0 = black, 0.5 = unchanged, 1 = white"),
        ),
        out="color",
    ),
    node(
        "grayscale",
        grayscale,
        (PortSpec("input", "color"),),
        (
            f("r", 0.2126, doc="weight of red (default Rec.709)"),
            f("g", 0.7152, doc="weight of green"),
            f("b", 0.0722, doc="weight of blue"),
        ),
        out="gray",
    ),
    node("uniform_color", uniform_color, (), (color("color", (0.5, 0.5, 0.5), doc="fill color"),), out="color"),
    node("uniform_gray", uniform_gray, (), (f("value", 0.5, doc="fill value"),), out="gray"),
    node(
        "color_to_mask",
        color_to_mask,
        (PortSpec("input", "color"),),
        (
            color("key", (0.0, 1.0, 0.0), doc="color to select"),
            f("range", 0.1, doc="normalized RGB distance where the mask is 0.5"),
            f("softness", 0.02, 0.001, 0.5, doc="width of the mask falloff"),
        ),
        out="gray",
    ),
    node("rgb_split", rgb_split, (PortSpec("input", "color"),), outputs=("r", "g", "b"), out="gray"),
    node("rgb_merge", rgb_merge, (PortSpec("r", "gray"), PortSpec("g", "gray"), PortSpec("b", "gray")), out="color"),
)
