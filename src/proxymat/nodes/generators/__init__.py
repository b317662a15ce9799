"""Non-differentiable procedural generators. Each submodule exports ``SPECS: tuple[GeneratorSpec, ...]``.

The registry is the built-in generators plus, inside a
:func:`proxymat.nodes.plugin_scope.plugin_generators` block, the plugin
generators of that block (see ``docs/plugins.md``).
"""

from __future__ import annotations

from functools import cache

from ..plugin_scope import plugin_specs
from .base import GeneratorSpec


@cache
def builtin_generator_specs() -> dict[str, GeneratorSpec]:
    """The generators shipped with proxymat, by name."""
    import sys

    from .._discover import collect_specs

    return collect_specs(sys.modules[__name__])


def generator_specs() -> dict[str, GeneratorSpec]:
    """All generator specs by name: the built-in ones and those of the plugins in use."""
    plugins = plugin_specs()
    if not plugins:
        return builtin_generator_specs()
    return {**builtin_generator_specs(), **plugins}


def get_generator(name: str) -> GeneratorSpec:
    """Look a generator up by name, with a helpful error."""
    specs = generator_specs()
    if name not in specs:
        raise KeyError(f"unknown generator {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]
