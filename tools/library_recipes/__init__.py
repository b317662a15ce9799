"""Recipes of the library's material graphs: one function per material, grouped by family."""

from __future__ import annotations

from typing import Callable

from proxymat.graph import Graph

from . import masonry, metal, organic, rough, soft, stone, wood


def all_recipes() -> list[Callable[[], Graph]]:
    """Every recipe, in family order."""
    return [r for module in (wood, masonry, stone, rough, soft, metal, organic) for r in module.RECIPES]
