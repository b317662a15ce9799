"""A graph's free parameters and category: the top-level ``"free"`` and ``"category"`` keys.

``"free"`` maps ``"node.param"`` keys to ``[low, high]`` ranges in real units:
the parameters an optimizer may change, and how far. Every other parameter
stays fixed at its stored value. A range applies to every component of a
color or vec2 parameter. Enum and bool parameters cannot be free (a range of
choices means nothing).

These functions only parse and check; :mod:`proxymat.graph` turns their
``ValueError`` into a ``GraphError``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .params import ParamSpec

FreeRanges = dict[str, tuple[float, float]]
FREE_KINDS: tuple[str, ...] = ("float", "int", "color", "vec2")


def parse_category(value: Any) -> str:
    """The ``"category"`` value: a string of at most 40 characters without line breaks."""
    if not isinstance(value, str) or len(value) > 40 or "\n" in value:
        raise ValueError(f"'category' must be a one-line string of at most 40 characters, got {_short(value)}")
    return value


def parse_free(value: Any) -> FreeRanges:
    """The ``"free"`` object as ``{key: (low, high)}``, numbers kept as given; shape and numbers
    only (keys are checked against the graph's parameters by :func:`check_free`)."""
    if not isinstance(value, dict):
        raise ValueError(f"'free' must be an object mapping \"node.param\" keys to [low, high], got {_short(value)}")
    out: FreeRanges = {}
    for key, rng in value.items():
        if not isinstance(key, str) or key.count(".") != 1:
            raise ValueError(f"free: key {_short(key)} must look like \"node.param\"")
        if not (isinstance(rng, (list, tuple)) and len(rng) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng)):
            raise ValueError(f"free: {key!r} must be a range [low, high] of two numbers, got {_short(rng)}")
        low, high = (_as_float(x) for x in rng)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"free: {key!r} range {_short(rng)} must be finite")
        if not low < high:
            raise ValueError(f"free: {key!r} range [{low:g}, {high:g}] must have low < high")
        out[key] = (rng[0], rng[1])
    return out


def check_free(free: Mapping[str, tuple[float, float]], specs: Mapping[str, ParamSpec]) -> None:
    """Every free key names a parameter of ``specs`` of a free-able kind, with a range inside the parameter's."""
    for key, (low, high) in free.items():
        spec = specs.get(key)
        if spec is None:
            raise ValueError(f"free: unknown parameter {key!r}")
        if spec.kind not in FREE_KINDS:
            raise ValueError(f"free: {key!r} is of kind {spec.kind}; only {', '.join(FREE_KINDS)} parameters can be free")
        if low < spec.low or high > spec.high:
            raise ValueError(f"free: {key!r} range [{low:g}, {high:g}] lies outside the parameter's range "
                             f"[{spec.low:g}, {spec.high:g}]")


def free_to_json(free: Mapping[str, tuple[float, float]]) -> dict[str, list[float]]:
    """JSON-ready ``{key: [low, high]}`` (the numbers as given: ints stay ints)."""
    return {k: [lo, hi] for k, (lo, hi) in free.items()}


def _as_float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except ValueError:
        return "<huge integer>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
