"""Differentiable filter nodes. Each submodule exports ``SPECS: tuple[NodeSpec, ...]``."""

from __future__ import annotations

from functools import cache

from ..spec import NodeSpec


@cache
def filter_specs() -> dict[str, NodeSpec]:
    """All filter node specs by type name."""
    import sys

    from .._discover import collect_specs

    return collect_specs(sys.modules[__name__])
