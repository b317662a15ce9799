"""``proxymat library``: list the material library (name, category, nodes, free parameters, description)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def run_library(args: argparse.Namespace) -> int:
    """Print one line per library material, or a JSON list with ``--json``."""
    from ..library import list_materials

    entries = list_materials()
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=1))
        return 0
    print(f"{'name':<24} {'category':<14} {'nodes':>5} {'free':>4}  description")
    for e in entries:
        print(f"{e.name:<24} {e.category:<14} {e.nodes:>5} {len(e.free):>4}  {e.description}")
    return 0


def register(sub: Any) -> None:
    """Add ``library`` to an argparse sub-parser collection."""
    p = sub.add_parser("library", help="list the library of material graphs")
    p.add_argument("--json", action="store_true", help="print the list as JSON (with free keys, graph and thumbnail paths)")
    p.set_defaults(func=run_library)
