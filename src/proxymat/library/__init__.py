"""The material library: named graphs of real materials with a category, free parameters and a thumbnail.

Each material is ``graphs/<name>.json`` (the graph format plus ``category`` and
``free``, docs/graph-format.md) and ``thumbs/<name>.png``, a 128 px flash render
at the graph's stored values (:mod:`proxymat.library.thumbnail`, written by
tools/make_library_thumbs.py). Nothing is read at import time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..graph import Graph, GraphError

GRAPHS = Path(__file__).resolve().parent / "graphs"
THUMBS = Path(__file__).resolve().parent / "thumbs"


@dataclass(frozen=True)
class MaterialEntry:
    """One library material as listed (read from its JSON without building the graph)."""

    name: str
    category: str
    description: str
    nodes: int
    free: tuple[str, ...]
    graph_path: Path
    thumbnail_path: Path

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "category": self.category, "description": self.description, "nodes": self.nodes,
                "free": list(self.free), "graph": str(self.graph_path), "thumbnail": str(self.thumbnail_path)}


def material_names() -> list[str]:
    """Names of the library's materials, sorted."""
    return sorted(p.stem for p in GRAPHS.glob("*.json"))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise GraphError(f"library graph {path} cannot be read: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        raise GraphError(f"library graph {path} is not a graph document")
    return data


def list_materials() -> list[MaterialEntry]:
    """Every library material, sorted by category then name."""
    out = []
    for name in material_names():
        path = GRAPHS / f"{name}.json"
        data = _read(path)
        free = data.get("free", {})
        out.append(MaterialEntry(name=name, category=str(data.get("category", "")),
                                 description=str(data.get("description", "")), nodes=len(data["nodes"]),
                                 free=tuple(free) if isinstance(free, dict) else (),
                                 graph_path=path, thumbnail_path=THUMBS / f"{name}.png"))
    return sorted(out, key=lambda e: (e.category, e.name))


def load_material(name: str) -> Graph:
    """The validated graph of a library material; a one-line GraphError naming the file if it fails to load."""
    path = GRAPHS / f"{name}.json"
    if not path.is_file():
        raise GraphError(f"unknown library material {name!r} (see `proxymat library` for the {len(material_names())} materials)")
    return Graph.load(path)
