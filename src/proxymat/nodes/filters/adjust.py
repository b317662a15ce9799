"""Per-pixel adjustments: soft quantize, auto levels, S-curve contrast, smoothstep, channel shuffle,
colour replacement, difference, band mask.

Channel-wise on gray or colour images unless stated, differentiable with
respect to the inputs and every float parameter, outputs in [0, 1].
"""

from __future__ import annotations

import torch

from ...params import color, e, f, i
from ..spec import NodeSpec, PortSpec, as_channels, luminance, node, pc, pv
from .tone import safe_div

CHANNELS = ("r", "g", "b", "luminance")
_CONTRAST_GAIN = 10.0


def quantize(input: torch.Tensor, levels: int = 4, softness: torch.Tensor | float = 0.05) -> torch.Tensor:
    """Soft staircase with ``levels`` values 0, 1/(levels-1), ..., 1 (posterize).

    Within each step the value rises by a normalized sigmoid of width
    ``softness`` (in steps) centred on the step: continuous everywhere, a hard
    staircase as softness -> 0, with gradients to the input and the softness.

    Example::

        {"type": "quantize", "inputs": {"input": "height"}, "params": {"levels": 5, "softness": 0.02}}
    """
    if levels < 2:
        raise ValueError(f"quantize: levels must be >= 2, got {levels}")
    n = levels - 1
    x = input.clamp(0.0, 1.0) * n
    k = torch.floor(x).detach().clamp(max=n - 1)
    s = pv(softness, x).clamp_min(1e-3)
    lo, hi = torch.sigmoid(-0.5 / s), torch.sigmoid(0.5 / s)
    g = (torch.sigmoid((x - k - 0.5) / s) - lo) / (hi - lo)
    return (k + g) / n


def auto_levels(input: torch.Tensor) -> torch.Tensor:
    """Stretch each image to the full range: ``(x - min) / (max - min)`` over all its pixels and channels.

    A flat image gives 0.

    Example::

        {"type": "auto_levels", "inputs": {"input": "noise"}}
    """
    lo = input.amin(dim=(1, 2, 3), keepdim=True)
    hi = input.amax(dim=(1, 2, 3), keepdim=True)
    return ((input - lo) / (hi - lo).clamp_min(1e-6)).clamp(0.0, 1.0)


def sigmoid_contrast(
    input: torch.Tensor, contrast: torch.Tensor | float = 0.0, pivot: torch.Tensor | float = 0.5
) -> torch.Tensor:
    """S-curve contrast about ``pivot`` that keeps 0 and 1: ``lerp(x, S(x), contrast)``.

    ``S`` is a sigmoid of gain 10 centred on the pivot, rescaled so S(0) = 0
    and S(1) = 1; contrast 0 is the identity, negative values flatten.

    Example::

        {"type": "sigmoid_contrast", "inputs": {"input": "albedo"}, "params": {"contrast": 0.5, "pivot": 0.4}}
    """
    p = pv(pivot, input)
    s0, s1 = torch.sigmoid(-_CONTRAST_GAIN * p), torch.sigmoid(_CONTRAST_GAIN * (1.0 - p))
    s = (torch.sigmoid(_CONTRAST_GAIN * (input - p)) - s0) / (s1 - s0)
    return (input + pv(contrast, input) * (s - input)).clamp(0.0, 1.0)


def smoothstep(input: torch.Tensor, low: torch.Tensor | float = 0.4, high: torch.Tensor | float = 0.6) -> torch.Tensor:
    """Hermite step: 0 below ``low``, 1 above ``high``, ``t^2 (3 - 2t)`` between (swapped bounds invert).

    Example::

        {"type": "smoothstep", "inputs": {"input": "noise"}, "params": {"low": 0.45, "high": 0.55}}
    """
    lo = pv(low, input)
    t = safe_div(input - lo, pv(high, input) - lo).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def channel_shuffle(input: torch.Tensor, red: str = "r", green: str = "g", blue: str = "b") -> torch.Tensor:
    """Build a colour image whose channels are picked from the input's r, g, b or luminance.

    Example::

        {"type": "channel_shuffle", "inputs": {"input": "albedo"}, "params": {"red": "b", "blue": "r"}}
    """
    x = as_channels(input, "color")
    pick = {"r": x[:, 0:1], "g": x[:, 1:2], "b": x[:, 2:3], "luminance": luminance(x)}
    for name in (red, green, blue):
        if name not in pick:
            raise ValueError(f"channel_shuffle: unknown channel {name!r}; expected one of {list(CHANNELS)}")
    return torch.cat([pick[red], pick[green], pick[blue]], 1)


def replace_color(
    input: torch.Tensor,
    key: torch.Tensor | tuple[float, float, float] = (0.5, 0.5, 0.5),
    target: torch.Tensor | tuple[float, float, float] = (0.6, 0.45, 0.35),
    range: torch.Tensor | float = 0.2,
    softness: torch.Tensor | float = 0.05,
) -> torch.Tensor:
    """Shift colours near ``key`` by ``target - key``, weighted by a soft mask of their distance.

    The weight is ``sigmoid((range - d) / softness)`` with ``d`` the RGB
    distance to the key over sqrt(3); the result is clamped to [0, 1]. Equal
    key and target is the identity.

    Example::

        {"type": "replace_color", "inputs": {"input": "albedo"}, "params": {"key": [0.5, 0.3, 0.2], "target": [0.6, 0.25, 0.1]}}
    """
    x = as_channels(input, "color")
    k = pc(key, x)
    d = torch.sqrt(((x - k) ** 2).sum(1, keepdim=True) / 3.0 + 1e-12)
    w = torch.sigmoid((pv(range, x) - d) / pv(softness, x).clamp_min(1e-4))
    return (x + w * (pc(target, x) - k)).clamp(0.0, 1.0)


def difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a - b|`` (a gray input is broadcast against a colour one).

    Example::

        {"type": "difference", "inputs": {"a": "height", "b": "blurred_height"}}
    """
    return (a - b).abs()


def band_mask(
    input: torch.Tensor, low: torch.Tensor | float = 0.4, high: torch.Tensor | float = 0.6,
    softness: torch.Tensor | float = 0.02,
) -> torch.Tensor:
    """Soft mask of the values between ``low`` and ``high``: ``sigmoid((x - low) / s) * sigmoid((high - x) / s)``.

    Picks one height layer (a mortar level, a paint layer) out of a gray image.

    Example::

        {"type": "band_mask", "inputs": {"input": "height"}, "params": {"low": 0.3, "high": 0.5}}
    """
    s = pv(softness, input).clamp_min(1e-4)
    return torch.sigmoid((input - pv(low, input)) / s) * torch.sigmoid((pv(high, input) - input) / s)


# ------------------------------------------------------------------- specs
_IN = (PortSpec("input", "any"),)

SPECS: tuple[NodeSpec, ...] = (
    node(
        "quantize", quantize, _IN,
        (
            i("levels", 4, 2, 256, doc="number of output values"),
            f("softness", 0.05, 0.001, 0.5, doc="width of each step's rise, in steps"),
        ),
    ),
    node("auto_levels", auto_levels, _IN),
    node(
        "sigmoid_contrast", sigmoid_contrast, _IN,
        (
            f("contrast", 0.0, -1.0, 1.0, doc="blend toward the S-curve (0 = identity, < 0 flattens)"),
            f("pivot", 0.5, 0.05, 0.95, doc="value the contrast turns around"),
        ),
    ),
    node(
        "smoothstep", smoothstep, _IN,
        (f("low", 0.4, doc="value mapped to 0"), f("high", 0.6, doc="value mapped to 1")),
    ),
    node(
        "channel_shuffle", channel_shuffle, (PortSpec("input", "color"),),
        tuple(e(name, d, CHANNELS, doc=f"source of the {name} channel") for name, d in
              (("red", "r"), ("green", "g"), ("blue", "b"))),
        out="color",
    ),
    node(
        "replace_color", replace_color, (PortSpec("input", "color"),),
        (
            color("key", (0.5, 0.5, 0.5), doc="colour to replace"),
            color("target", (0.6, 0.45, 0.35), doc="colour the key becomes (default: a warmer tone)"),
            f("range", 0.2, doc="normalized RGB distance where the weight is 0.5"),
            f("softness", 0.05, 0.001, 0.5, doc="width of the weight's falloff"),
        ),
        out="color",
    ),
    node("difference", difference, (PortSpec("a", "any"), PortSpec("b", "any"))),
    node(
        "band_mask", band_mask, _IN,
        (
            f("low", 0.4, doc="lower edge of the band"),
            f("high", 0.6, doc="upper edge of the band"),
            f("softness", 0.02, 0.001, 0.5, doc="edge softness"),
        ),
    ),
)
