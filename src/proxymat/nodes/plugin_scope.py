"""Which plugin generators are in use: a scope a caller opens, read by the generator registry.

:func:`plugin_generators` opens a block (a ``with`` statement) in which
:func:`proxymat.nodes.generators.generator_specs` also holds the generators
that ``load()`` returns. ``load`` runs on the first lookup inside the block,
not when the block opens, and its result is kept for the rest of the block;
a failed load is retried (and fails again) on the next lookup. Outside any
block, or once it closes, only the built-in generators exist. An inner block
replaces an outer one. The scope is a :class:`contextvars.ContextVar`, so it
belongs to the thread (or task) that opened it.

This module imports neither torch nor the plugins, so a command can open the
scope before it chooses its threads and imports torch.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, Callable, Iterator, Mapping

PluginLoad = Callable[[], Mapping[str, Any]]
"""Returns plugin generator specs by name (``GeneratorSpec`` values)."""

_LOAD: ContextVar[PluginLoad | None] = ContextVar("proxymat_plugin_generators", default=None)


@contextmanager
def plugin_generators(load: PluginLoad) -> Iterator[None]:
    """Within the block, the generator registry also serves ``load()``'s generators (loaded at first use)."""
    token = _LOAD.set(cache(load))
    try:
        yield
    finally:
        _LOAD.reset(token)


def plugin_specs() -> Mapping[str, Any]:
    """The plugin generators of the open scope by name (loading them on first use); empty outside any scope."""
    load = _LOAD.get()
    return {} if load is None else load()
