"""Non-differentiable procedural generators. Each submodule exports ``SPECS: tuple[GeneratorSpec, ...]``."""

from __future__ import annotations

from functools import cache

from .base import GeneratorSpec


@cache
def generator_specs() -> dict[str, GeneratorSpec]:
    """All generator specs by name."""
    import sys

    from .._discover import collect_specs

    return collect_specs(sys.modules[__name__])


def get_generator(name: str) -> GeneratorSpec:
    """Look a generator up by name, with a helpful error."""
    specs = generator_specs()
    if name not in specs:
        raise KeyError(f"unknown generator {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]
