"""Collect ``SPECS`` tuples from every module of a package (called lazily, never at import)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any


def collect_specs(package: ModuleType) -> dict[str, Any]:
    """Map ``spec.type`` / ``spec.name`` -> spec over all submodules that define ``SPECS``."""
    found: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for spec in getattr(module, "SPECS", ()):
            key = getattr(spec, "type", None) or spec.name
            if key in found:
                raise RuntimeError(f"node type {key!r} defined twice (in {module.__name__})")
            found[key] = spec
    return found
