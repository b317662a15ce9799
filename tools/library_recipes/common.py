"""Helpers the library recipes share: a graph builder that records free ranges next to each node.

A recipe is a function ``() -> Graph``; :class:`Material` wraps a :class:`Graph`
so that ``m.add(type, name, free={"param": (low, high)}, **params)`` both adds
the node and declares which of its parameters an optimizer may change.
"""

from __future__ import annotations

from typing import Any, Mapping

from proxymat.graph import Graph, NodeHandle, Ref

Color = tuple[float, float, float]


class Material:
    """A graph under construction with its category and free ranges."""

    def __init__(self, name: str, category: str, description: str, seed: int = 0) -> None:
        self.g = Graph(name, seed=seed, res=256, description=description, category=category)

    def add(self, type: str, name: str, *, free: Mapping[str, tuple[float, float]] | None = None,
            seed: int = 0, **kwargs: Any) -> NodeHandle:
        """Add a node named ``name``; ``free`` maps its parameter names to ``(low, high)``."""
        h = self.g.add(type, name=name, seed=seed, **kwargs)
        for param, rng in (free or {}).items():
            self.g.free[f"{name}.{param}"] = rng
        return h

    def ramp(self, name: str, src: Ref, colors: tuple[Color, Color, Color, Color],
             pos: tuple[float, float, float, float] = (0.0, 1 / 3, 2 / 3, 1.0),
             free: Mapping[str, tuple[float, float]] | None = None) -> NodeHandle:
        """A 4-stop gradient map."""
        kw: dict[str, Any] = {f"color_{k + 1}": c for k, c in enumerate(colors)}
        kw.update({f"pos_{k + 1}": p for k, p in enumerate(pos)})
        return self.add("gradient_map", name, input=src, free=free, **kw)

    def finish(self, *, color: Ref, height: Ref, normal: Ref | str = "normal", rough: Ref | float,
               metallic: Ref | float = 0.0) -> Graph:
        """Route the five maps, validate and return the graph."""
        g = self.g
        g.set_output("basecolor", color)
        g.set_output("normal", normal)
        g.set_output("roughness", rough)
        g.set_output("metallic", metallic)
        g.set_output("height", height)
        g.validate()
        return g


def fine_grain(m: Material, prefix: str, scale: int = 48, octaves: int = 4, roughness: float = 0.6,
               seed: int = 0) -> NodeHandle:
    """A fine, high-frequency clouds layer (pores, sand, micro relief)."""
    return m.add("clouds", f"{prefix}_grain", scale=scale, octaves=octaves, roughness=roughness, seed=seed)
