"""Sub-commands that live in their own modules: each registrar adds one to the parser."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable


def _bench(args: argparse.Namespace) -> int:
    from . import benchmarks

    rows: list[dict[str, Any]] = []
    if args.what in ("graph", "all"):
        rows.append(benchmarks.bench_graph(res=args.res or 256, iters=args.iters, threads=args.threads))
    if args.what in ("generators", "all"):
        rows += benchmarks.bench_generators(batch=args.batch, iters=args.iters, names=args.names, threads=args.threads,
                                            random_params=args.random_params)
    for row in rows:
        print(json.dumps(row))
    handlers = {"examples": _bench_examples, "proxies": _bench_proxies, "e2": _bench_e2, "e4": _bench_e4}
    if args.what in handlers:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        handlers[args.what](args)
    return 0


def _save_rows(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """All rows so far to ``--json-out`` (if given), atomically: a long run killed midway keeps what it measured."""
    from pathlib import Path

    from .atomic import atomic_write_text

    if args.json_out:
        atomic_write_text(Path(args.json_out), json.dumps(rows, indent=1) + "\n")


def _write_rows(args: argparse.Namespace, rows: list[dict[str, Any]], table: str) -> None:
    """All rows to ``--json-out`` (if given) and the summary table to stdout."""
    _save_rows(args, rows)
    print(table)


def _bench_e4(args: argparse.Namespace) -> None:
    """E4 (mask fitting): PPTBF-mask proxy + Adam vs gradient-free fits with the real generator."""
    import sys
    from pathlib import Path

    from .bench_mask_fit import run_mask_fit, summarize
    from .nodes.generators import get_generator
    from .proxy.quantile_mask import load_proxy_for

    name = (args.names or ["pptbf_mask_cellular"])[0]
    spec = get_generator(name)
    proxy = load_proxy_for(spec, args.proxy_weights)
    log = (lambda line: print(line, file=sys.stderr, flush=True))
    rows = run_mask_fit(spec, proxy, n_targets=args.targets, res=args.res or proxy.res, budget_s=args.budget,
                        methods=args.gf_methods, steps=args.steps, progress=log,
                        figures=Path(args.figures) if args.figures else None)
    _write_rows(args, rows, summarize(rows))


def _bench_e2(args: argparse.Namespace) -> None:
    """E2 (proxy choice): our proxy vs autoencoder-latent vs GAN-latent baselines, per generator."""
    import sys

    from .bench_proxy_choice import available_generators, run_proxy_choice, summarize

    rows = []
    for name in args.names or available_generators(args.baselines_dir) or ["cells"]:
        rows += run_proxy_choice(name, n_targets=args.targets, steps=args.steps, pool=args.pool, res=args.res,
                                 baselines_dir=args.baselines_dir, figures=args.figures,
                                 progress=sys.stderr.isatty())
    _write_rows(args, rows, summarize(rows))


def _bench_proxies(args: argparse.Namespace) -> None:
    """E1: every shipped proxy against its real generator (metrics + real-vs-proxy grid)."""
    from pathlib import Path

    from .nodes.generators import get_generator
    from .proxy.command import train_hours
    from .proxy.metrics import evaluate_proxy, proxy_grid
    from .proxy.weights import load_proxy, shipped_proxy_names

    for name in args.names or shipped_proxy_names():
        spec = get_generator(name)
        proxy = load_proxy(name, spec=spec)
        row = {"bench": "proxy_fidelity", "generator": name, **evaluate_proxy(proxy, spec, n=args.n_eval),
               "train_steps": proxy.training_info.get("steps"), "train_hours": train_hours(proxy)}
        if args.figures:
            row["grid"] = str(proxy_grid(proxy, spec, Path(args.figures) / f"e1_{name}.png"))
        print(json.dumps(row))


def _bench_examples(args: argparse.Namespace) -> None:
    from pathlib import Path

    from .bench_examples import run_example, summarize
    from .examples import list_examples
    from .optimize.stages import OptimizeConfig

    names = args.names or list(list_examples())
    base = OptimizeConfig() if args.polish is None else OptimizeConfig(polish=args.polish)
    rows = []
    for seed in args.seeds or [None]:
        for name in names:
            rows += run_example(name, args.methods, res=args.res or 256, features=args.features, seed=seed,
                                base=base, figures=Path(args.figures) if args.figures else None)
            _save_rows(args, rows)
    print(summarize(rows))  # the rows are already in --json-out


def register_bench(sub: Any) -> None:
    from .cli import non_negative_int, positive_int

    p = sub.add_parser("bench", help="run speed benchmarks (JSON lines on stdout)")
    p.add_argument("what", choices=("graph", "generators", "all", "examples", "proxies", "e2", "e4"))
    p.add_argument("--n-eval", type=positive_int, default=256, help="proxies: held-out parameter vectors")
    p.add_argument("--res", type=int, default=None, help="default 256 (e2: the proxy's resolution)")
    p.add_argument("--iters", type=positive_int, default=5)
    p.add_argument("--batch", type=positive_int, default=16)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--names", nargs="*", default=None, help="generators (or examples) to include (e2: default those with baselines)")
    p.add_argument("--random-params", action="store_true", help="generators: random parameters in the sampling box")
    p.add_argument("--methods", nargs="*", default=["full", "stage1"],
                   help="examples: full, stage1, no_search, no_stage3, no_rescore, global_search, no_polish, polish_filters, polish_shrink, no_stage2_check, no_sweep, no_refit, cma, sa, powell, random")
    p.add_argument("--figures", default=None, help="examples, proxies, e2, e4: folder for comparison images")
    p.add_argument("--json-out", default=None, help="examples, e2, e4: write all rows here")
    p.add_argument("--features", default="auto", help="examples: texture descriptor of the loss (auto, random, filters, VGG19 file)")
    p.add_argument("--seeds", type=int, nargs="*", default=None, help="examples: repeat with these optimization seeds")
    p.add_argument("--polish", type=non_negative_int, default=None, metavar="N",
                   help="examples: polish budget (real renders) of the pipeline's methods (default: optimize's)")
    p.add_argument("--budget", type=float, default=120.0, help="e4: seconds per gradient-free fit")
    p.add_argument("--gf-methods", nargs="*", default=["powell_bo", "cma_es"], help="e4: powell_bo, cma_es, random_search, proxy_then_powell_bo")
    p.add_argument("--proxy-weights", default=None, help="e4: proxy file or shipped name (default: the mask family's own); "
                   "a proxy of the family's rank field (pptbf_rank_cellular) is thresholded at the white fraction")
    p.add_argument("--targets", type=positive_int, default=8, help="e2, e4: held-out targets per generator")
    p.add_argument("--steps", type=positive_int, default=300, help="e2, e4: Adam steps per method and target")
    p.add_argument("--pool", type=positive_int, default=1024, help="e2: real maps to project latent baselines on")
    p.add_argument("--baselines-dir", default="bench/weights", help="e2: folder of the baseline weights")
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
