"""One lookup over filter and generator node types."""

from __future__ import annotations

import difflib

from .filters import filter_specs
from .generators import generator_specs
from .generators.base import GeneratorSpec
from .spec import NodeSpec

AnySpec = NodeSpec | GeneratorSpec


def all_node_types() -> dict[str, AnySpec]:
    """Every known node type (filters and generators) by name."""
    specs: dict[str, AnySpec] = dict(filter_specs())
    for name, spec in generator_specs().items():
        if name in specs:
            raise RuntimeError(f"node type {name!r} is both a filter and a generator")
        specs[name] = spec
    return specs


def lookup(type_name: str) -> AnySpec:
    """Spec of a node type, or KeyError with close matches suggested."""
    specs = all_node_types()
    if type_name in specs:
        return specs[type_name]
    close = difflib.get_close_matches(type_name, list(specs), n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise KeyError(f"unknown node type {type_name!r}{hint}")


def is_generator(spec: AnySpec) -> bool:
    return isinstance(spec, GeneratorSpec)
