"""Write the library's graphs from their recipes (tools/library_recipes/).

The recipes are the source of the graphs: edit a recipe, then run from the
repository root

    .venv/bin/python tools/make_library.py
    .venv/bin/python tools/make_library_thumbs.py

It rewrites src/proxymat/library/graphs/NAME.json (every parameter written out)
and removes graphs whose recipe is gone. tests/test_library.py checks that the
files equal what the recipes build.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from library_recipes import all_recipes  # noqa: E402

OUT = ROOT / "src" / "proxymat" / "library" / "graphs"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = set()
    for recipe in all_recipes():
        graph = recipe()
        names.add(graph.name)
        graph.save(OUT / f"{graph.name}.json")
        print(f"{graph.name:<24} {graph.category:<14} {len(graph.nodes):>3} nodes {len(graph.free):>3} free")
    for stale in OUT.glob("*.json"):
        if stale.stem not in names:
            stale.unlink()
            print(f"removed {stale.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
