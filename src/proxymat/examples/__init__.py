"""Bundled example graphs (and their synthetic targets), addressed by name."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_EXAMPLE = "leather"


def _folder() -> Any:
    return resources.files(__name__)


def list_examples() -> dict[str, str]:
    """``{name: description}`` of the bundled example graphs."""
    out = {}
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and not entry.name.endswith(".target.json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            out[entry.name[:-5]] = data.get("description", "")
    return out


def example_graph_text(name: str) -> str:
    """JSON text of a bundled example."""
    entry = _folder() / f"{name}.json"
    if not entry.is_file():
        raise KeyError(name)
    return entry.read_text(encoding="utf-8")


def resolve_graph(ref: str) -> Any:
    """Load a graph from a file path, a bundled example name or a library material name (examples first)."""
    from ..graph import Graph, GraphError
    from ..library import load_material, material_names

    path = Path(ref)
    if path.exists() or ref.endswith(".json") or "/" in ref:
        return Graph.load(path)
    try:
        text = example_graph_text(ref)
    except KeyError:
        library = material_names()
        if ref in library:
            return load_material(ref)
        names = ", ".join(list_examples()) or "none"
        raise GraphError(f"{ref!r} is neither a graph file nor a bundled example nor a library material "
                         f"(examples: {names}; library: {', '.join(library) or 'none'})") from None
    return Graph.loads(text)


def example_target_path(name: str) -> Path | None:
    """Path of the synthetic target photo bundled with an example, if any."""
    entry = _folder() / f"{name}.target.png"
    return Path(str(entry)) if entry.is_file() else None


def example_truth_text(name: str) -> str | None:
    """JSON of the graph (with the true parameters) that rendered the example's target."""
    entry = _folder() / f"{name}.target.json"
    return entry.read_text(encoding="utf-8") if entry.is_file() else None
