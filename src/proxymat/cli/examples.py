"""``proxymat examples``: list the bundled example graphs."""

from __future__ import annotations

import argparse
from typing import Any


def run_examples(args: argparse.Namespace) -> int:
    """Print each bundled example's name and description."""
    from ..examples import list_examples

    for name, desc in list_examples().items():
        print(f"{name:<18} {desc}")
    return 0


def register(sub: Any) -> None:
    """Add ``examples`` to an argparse sub-parser collection."""
    p = sub.add_parser("examples", help="list the bundled example graphs")
    p.set_defaults(func=run_examples)
