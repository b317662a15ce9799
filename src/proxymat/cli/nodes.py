"""``proxymat nodes`` and ``proxymat generators``: list node types and their parameters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import CliError, add_plugin_argument


def run_nodes(args: argparse.Namespace) -> int:
    """Print the filter nodes (and generators with ``--all``), or one type."""
    from ..nodes.filters import filter_specs
    from ..nodes.generators import generator_specs

    filters = filter_specs()
    gens = generator_specs() if args.all else {}
    rows: list[dict[str, Any]] = []
    for name, spec in sorted(filters.items()):
        rows.append({"type": name, "kind": "filter", "doc": spec.doc,
                     "inputs": [{"name": p.name, "channels": p.channels, "optional": p.optional} for p in spec.inputs],
                     "outputs": list(spec.outputs), "params": [p.to_json() for p in spec.params]})
    for name, spec in sorted(gens.items()):
        rows.append(generator_row(name, spec))
    if args.type:
        rows = [r for r in rows if r["type"] == args.type]
        if not rows:
            raise CliError(f"unknown node type {args.type!r}")
    print_rows(rows, args.json)
    return 0


def run_generators(args: argparse.Namespace) -> int:
    """Print the generators, or one."""
    from ..nodes.generators import generator_specs

    rows = [generator_row(n, s) for n, s in sorted(generator_specs().items())]
    if args.name:
        rows = [r for r in rows if r["type"] == args.name]
        if not rows:
            raise CliError(f"unknown generator {args.name!r}")
    print_rows(rows, args.json)
    return 0


def generator_row(name: str, spec: Any) -> dict[str, Any]:
    """One generator as a listing row."""
    return {"type": name, "kind": "generator", "doc": spec.doc, "inputs": [], "outputs": ["output"],
            "params": [p.to_json() for p in spec.params], "stochastic": spec.stochastic}


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Rows as one JSON list, or as text: a header line per type, then its inputs, outputs and parameters."""
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        ins = ", ".join(i["name"] + ("?" if i["optional"] else "") for i in r["inputs"]) or "-"
        print(f"{r['type']} ({r['kind']}): {r['doc']}")
        print(f"  inputs: {ins}   outputs: {', '.join(r['outputs'])}")
        for p in r["params"]:
            rng = p.get("range") or p.get("choices") or ""
            print(f"    {p['name']:<24} {p['kind']:<6} default={p['default']!s:<14} {rng}")


def register(sub: Any) -> None:
    """Add ``nodes`` and ``generators`` to an argparse sub-parser collection."""
    p = sub.add_parser("nodes", help="list filter nodes and their parameters")
    p.add_argument("type", nargs="?", help="show one node type")
    p.add_argument("--all", action="store_true", help="include generators")
    p.add_argument("--json", action="store_true", help="print one JSON list of rows")
    add_plugin_argument(p)
    p.set_defaults(func=run_nodes)

    p = sub.add_parser("generators", help="list generators and their parameters")
    p.add_argument("name", nargs="?", help="show one generator")
    p.add_argument("--json", action="store_true", help="print one JSON list of rows")
    add_plugin_argument(p)
    p.set_defaults(func=run_generators)
