"""Sub-commands that live in their own modules: each registrar adds one to the parser."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable


def _bench(args: argparse.Namespace) -> int:
    from . import benchmarks

    rows: list[dict[str, Any]] = []
    if args.what in ("graph", "all"):
        rows.append(benchmarks.bench_graph(res=args.res, iters=args.iters, threads=args.threads))
    if args.what in ("generators", "all"):
        rows += benchmarks.bench_generators(batch=args.batch, iters=args.iters, names=args.names, threads=args.threads)
    for row in rows:
        print(json.dumps(row))
    return 0


def register_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="run speed benchmarks (JSON lines on stdout)")
    p.add_argument("what", choices=("graph", "generators", "all"))
    p.add_argument("--res", type=int, default=256)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--names", nargs="*", default=None, help="generators to include")
    p.set_defaults(func=_bench)


def register_optimize(sub: Any) -> None:
    from .optimize.command import register_optimize as register

    register(sub)


def register_proxy(sub: Any) -> None:
    from .proxy.command import register_proxy as register

    register(sub)


def register_export(sub: Any) -> None:
    from .export_command import register_export as register

    register(sub)


REGISTRARS: tuple[Callable[[Any], None], ...] = (register_optimize, register_proxy, register_export, register_bench)
