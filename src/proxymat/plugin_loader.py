"""Load plugin generators from Python files and from installed packages' entry points.

A plugin (see :mod:`proxymat.plugin`) is a module defining ``GENERATORS``.
:func:`load_plugins` imports the given files, then the objects named under
the entry point group :data:`GROUP` (a module, or its ``GENERATORS`` list
itself, e.g. ``stripes = "my_package.generators"``), checks every
declaration, refuses a name that a built-in node type or another plugin
already has, and draws each generator once at its defaults, lows and highs
(at :data:`PROBE_RES` pixels, twice at the defaults to check that a seed
gives one image). Any failure is one :class:`~proxymat.plugin.PluginError`
line naming the file (or entry point) and the generator.

Use :func:`using_plugins` around the code that looks generators up; nothing
is imported before the first lookup inside it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ContextManager, Iterator, Sequence

import torch

from .nodes.filters import filter_specs
from .nodes.generators import builtin_generator_specs
from .nodes.generators.base import GeneratorSpec
from .nodes.plugin_scope import plugin_generators
from .plugin import Generator, PluginError, first_line, generator_spec

GROUP = "proxymat.generators"
"""The entry point group installed plugin packages declare their generators in."""

PROBE_RES = 16
"""Resolution of the load-time check draws."""


def using_plugins(files: Sequence[str | Path] = (), entry_points: bool = True) -> ContextManager[None]:
    """A ``with`` block in which the generator registry also serves these plugins' generators
    (the ``files``, and the installed packages' when ``entry_points``), loaded at the first lookup."""
    chosen = tuple(files)
    return plugin_generators(lambda: load_plugins(chosen, entry_points))


def load_plugins(files: Sequence[str | Path] = (), entry_points: bool = True) -> dict[str, GeneratorSpec]:
    """The checked generator specs of the plugin ``files`` and (when ``entry_points``) the installed plugins, by name."""
    builtin = {**filter_specs(), **builtin_generator_specs()}
    found: dict[str, GeneratorSpec] = {}
    origin_of: dict[str, str] = {}
    for origin, load in _sources(files, entry_points):
        for spec in _specs(origin, load):
            if spec.name in builtin:
                raise PluginError(f"{origin}: generator {spec.name!r} has the name of a built-in node type; rename it")
            if spec.name in found:
                raise PluginError(f"{origin}: generator {spec.name!r} is also defined by {origin_of[spec.name]}")
            probe(spec, f"{origin}: generator {spec.name!r}")
            found[spec.name] = spec
            origin_of[spec.name] = origin
    return found


def _sources(files: Sequence[str | Path], entry_points: bool) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(origin, loader) of each distinct plugin file, then of each installed entry point."""
    seen: set[Path] = set()
    for file in files:
        path = Path(file)
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            yield f"plugin {file}", (lambda path=path: import_file(path))
    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value)):
            yield f"plugin entry point {ep.name} = {ep.value}", ep.load


def import_file(path: Path) -> ModuleType:
    """Import a plugin file as a module of its own (a name derived from its full path); PluginError if it fails."""
    if not path.is_file():
        raise PluginError(f"plugin {path}: no such file")
    if path.suffix != ".py":
        raise PluginError(f"plugin {path}: expected a Python file (.py)")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"proxymat_plugin_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        sys.modules.pop(name, None)
        raise PluginError(f"plugin {path}: import failed: {first_line(err)}") from err
    return module


def _specs(origin: str, load: Callable[[], Any]) -> list[GeneratorSpec]:
    """The generator specs of one plugin, each declaration checked."""
    try:
        loaded = load()
    except PluginError:
        raise
    except (Exception, SystemExit) as err:
        raise PluginError(f"{origin}: import failed: {first_line(err)}") from err
    gens = getattr(loaded, "GENERATORS", None) if isinstance(loaded, ModuleType) else loaded
    if gens is None:
        raise PluginError(f"{origin}: defines no GENERATORS list (see docs/plugins.md)")
    if isinstance(gens, Generator):
        gens = [gens]
    if not isinstance(gens, (list, tuple)) or not gens:
        raise PluginError(f"{origin}: GENERATORS must be a non-empty list of proxymat.plugin.Generator, "
                          f"got {type(gens).__name__}")
    specs = []
    for k, gen in enumerate(gens):
        if not isinstance(gen, Generator):
            raise PluginError(f"{origin}: GENERATORS[{k}] is a {type(gen).__name__}, not a proxymat.plugin.Generator")
        problem = gen.problem()
        if problem:
            raise PluginError(f"{origin}: GENERATORS[{k}]: {problem}")
        specs.append(generator_spec(gen, origin))
    return specs


def probe(spec: GeneratorSpec, where: str) -> None:
    """Draw ``spec`` at its lows, defaults and highs, and the defaults again; PluginError if it breaks a rule."""
    corners = {p.name: torch.tensor([p.low, p.to_numbers(p.default)[0], p.high]) for p in spec.params}
    drawn = spec(corners, PROBE_RES, 0)
    again = spec(spec.defaults(), PROBE_RES, 0)
    if not torch.equal(drawn[1:2], again):
        raise PluginError(f"{where} drew two different images for the same parameters and seed; draw random "
                          f"numbers from a generator seeded by `seed` (e.g. numpy.random.default_rng(seed))")
