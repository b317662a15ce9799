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
        rows += benchmarks.bench_generators(batch=args.batch, iters=args.iters, names=args.names, threads=args.threads,
                                            random_params=args.random_params)
    for row in rows:
        print(json.dumps(row))
    if args.what == "examples":
        _bench_examples(args)
    if args.what == "proxies":
        _bench_proxies(args)
    return 0


def _bench_proxies(args: argparse.Namespace) -> None:
    """E1: every shipped proxy against its real generator (metrics + real-vs-proxy grid)."""
    from importlib import resources
    from pathlib import Path

    import torch

    from .nodes.generators import get_generator
    from .proxy.metrics import evaluate_proxy, proxy_grid
    from .proxy.weights import load_proxy

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = resources.files("proxymat").joinpath("weights")
    names = sorted(e.name[: -len(".safetensors")] for e in folder.iterdir() if e.name.endswith(".safetensors"))
    for name in args.names or names:
        spec = get_generator(name)
        proxy = load_proxy(name, spec=spec)
        row = {"bench": "proxy_fidelity", "generator": name, **evaluate_proxy(proxy, spec, n=args.n_eval),
               "train_steps": proxy.training_info.get("steps"),
               "train_hours": round(float(proxy.training_info.get("seconds_total", proxy.training_info.get("seconds_this_run", 0))) / 3600, 3)}
        if args.figures:
            row["grid"] = str(proxy_grid(proxy, spec, Path(args.figures) / f"e1_{name}.png"))
        print(json.dumps(row))


def _bench_examples(args: argparse.Namespace) -> None:
    from pathlib import Path

    import torch

    from .bench_examples import run_example, summarize
    from .examples import list_examples
    from .atomic import atomic_write_text

    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.names or list(list_examples())
    rows = []
    for name in names:
        rows += run_example(name, args.methods, res=args.res, figures=Path(args.figures) if args.figures else None)
    if args.json_out:
        atomic_write_text(Path(args.json_out), json.dumps(rows, indent=1) + "\n")
    print(summarize(rows))


def register_bench(sub: Any) -> None:
    from .cli import positive_int

    p = sub.add_parser("bench", help="run speed benchmarks (JSON lines on stdout)")
    p.add_argument("what", choices=("graph", "generators", "all", "examples", "proxies"))
    p.add_argument("--n-eval", type=positive_int, default=256, help="proxies: held-out parameter vectors")
    p.add_argument("--res", type=int, default=256)
    p.add_argument("--iters", type=positive_int, default=5)
    p.add_argument("--batch", type=positive_int, default=16)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--names", nargs="*", default=None, help="generators (or examples) to include")
    p.add_argument("--random-params", action="store_true", help="generators: random parameters in the sampling box")
    p.add_argument("--methods", nargs="*", default=["full", "stage1"],
                   help="examples: full, stage1, no_search, no_stage3, cma, sa, powell, random")
    p.add_argument("--figures", default=None, help="examples: folder for comparison images")
    p.add_argument("--json-out", default=None, help="examples: write all rows here")
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
