"""A library material's thumbnail: the graph evaluated at its own resolution, flash-rendered, area-averaged down."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..graph import Graph
from ..render import render

THUMB_SIZE = 128


def thumbnail(graph: Graph, size: int = THUMB_SIZE, res: int | None = None) -> torch.Tensor:
    """A ``(1, 3, size, size)`` render of ``graph`` at its stored values, evaluated at ``res`` (default: the graph's)
    and reduced by area averaging (so fine detail is filtered, not aliased)."""
    res = int(res or graph.res)
    with torch.no_grad():
        img = render(graph.evaluate(res))
    return img if res == size else F.interpolate(img, size=(size, size), mode="area")
