"""The parts of a graph document: map names, node references, nodes, and :class:`GraphError`.

:mod:`proxymat.graph` (the document) and :mod:`proxymat.program` (its compiled,
evaluable form) both build on these; :mod:`proxymat.graph` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAP_CHANNELS = {"basecolor": 3, "normal": 3, "roughness": 1, "metallic": 1, "height": 1}
REQUIRED_MAPS = ("basecolor", "normal", "roughness", "metallic")
MAP_DEFAULTS = {"height": 0.5}


class GraphError(ValueError):
    """The graph is malformed; the message says where and why."""


@dataclass(frozen=True)
class Ref:
    """A reference to an output port of a node."""

    node: str
    port: str = "output"

    def __str__(self) -> str:
        return self.node if self.port == "output" else f"{self.node}:{self.port}"

    @staticmethod
    def parse(text: Any, where: str) -> "Ref":
        if isinstance(text, Ref):
            return text
        if not isinstance(text, str) or not text:
            raise GraphError(f"{where}: expected a reference like 'node' or 'node:port', got {text!r}")
        node, _, port = text.partition(":")
        return Ref(node, port or "output")


class NodeHandle(Ref):
    """What :meth:`Graph.add` returns: a reference to the node's default output;
    ``handle["r"]`` refers to another output port."""

    def __getitem__(self, port: str) -> Ref:
        return Ref(self.node, port)


@dataclass
class Node:
    """A node instance: its type, wiring and real parameter values."""

    name: str
    type: str
    inputs: dict[str, Ref] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


Output = Ref | float | tuple[float, ...]
"""What a material map is routed from: a node output or a constant (one value or one per channel)."""
