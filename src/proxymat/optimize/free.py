"""The free parameters of a graph: which ``"node.param"`` keys the optimizer may move, and how far.

A graph may declare ``free``: ``{"node.param": (low, high)}`` in real units
(float, int, colour and vec2 parameters; a colour's range bounds each
component). When it does, every stage moves only those
keys and keeps each within its range; all other parameters keep their stored
values. A graph without ``free`` (or with an empty one) leaves every
parameter to the optimizer, as before.
"""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

import torch

from ..graph import Graph, GraphError

Bounds = dict[str, tuple[float, float]]
T = TypeVar("T")


def declared_free(graph: Graph) -> Mapping[str, Any] | None:
    """The graph's ``free`` declaration, or None when it has none (or an empty one)."""
    free = getattr(graph, "free", None)
    return free or None


def free_bounds(graph: Graph) -> Bounds | None:
    """Normalized ``(lo, hi)`` of each free key of ``graph`` (within [0, 1]), or None: everything is free.

    :class:`~proxymat.graph.GraphError` for a key the graph does not have or a range with low > high."""
    free = declared_free(graph)
    if free is None:
        return None
    specs = graph.param_specs("all")
    out: Bounds = {}
    for key, rng in free.items():
        if key not in specs:
            raise GraphError(f"free parameter {key!r} is not a parameter of graph {graph.name!r}")
        p = specs[key]
        low, high = float(rng[0]), float(rng[1])
        if low > high:
            raise GraphError(f"free parameter {key!r}: range low {low:g} is above high {high:g}")
        u = p.normalize_tensor(torch.tensor([low, high], dtype=torch.float64)).clamp(0.0, 1.0).tolist()
        out[key] = (u[0], u[1])
    return out


def restrict(values: Mapping[str, T], bounds: Bounds | None) -> dict[str, T]:
    """The entries of ``values`` the optimizer may move: those in ``bounds`` (all when ``bounds`` is None)."""
    if bounds is None:
        return dict(values)
    return {k: v for k, v in values.items() if k in bounds}


def intersect(box: tuple[float, float], free: tuple[float, float]) -> tuple[float, float]:
    """A proxy's sampling ``box`` cut to the ``free`` range; the free range alone when they do not overlap."""
    lo, hi = max(box[0], free[0]), min(box[1], free[1])
    return (lo, hi) if lo <= hi else free


def allows(bounds: Bounds | None, key: str, normalized: float) -> bool:
    """True when ``key`` may take the normalized value ``normalized`` (a category sweep's trial)."""
    if bounds is None:
        return True
    if key not in bounds:
        return False
    lo, hi = bounds[key]
    return lo - 1e-9 <= normalized <= hi + 1e-9
