"""Library graphs whose tile_paraboloid node no shipped proxy fits: a candidate proxy against direct gradients.

For each graph and case k, a truth draws every free parameter uniformly within its declared range
(normalized, per component) and is rendered at layout seed 1000 + k; the fit starts from the library's
values at the graph's own seed. Two arms, side by side: ``proxy`` gives the tile_paraboloid node the
candidate proxy (``--proxy-file``), ``direct`` gives it none, so Stage II moves its declared direct
parameters (scale, not random_mask) by autograd through the real generator. Scores as
``proxymat bench recovery``'s (:func:`proxymat.benchmarks.recovery.score`) over the free keys.

    .venv/bin/python bench/library_tile_proxy.py --proxy-file bench/weights/tile_paraboloid_rand128_7000.safetensors \\
        --graphs soil_pebbles concrete --truths 3 --res 128 --threads 1 --json-out docs/library_tile_proxy.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from pathlib import Path

import torch

from proxymat.benchmarks.recovery import TRUTH_SEED_BASE, score
from proxymat.examples import resolve_graph
from proxymat.metrics import fit_scores
from proxymat.optimize.free import free_bounds
from proxymat.optimize.loss_config import material_loss_config
from proxymat.optimize.proxies import load_graph_proxies
from proxymat.optimize.stages import Optimization, OptimizeConfig
from proxymat.render import render


def draw_truth(graph, k: int):
    """The graph with every free key drawn within its range (deterministic in graph name and k)."""
    rng = random.Random(f"{graph.name}:{k}")
    truth = graph.copy()
    bounds = free_bounds(graph) or {}
    current = graph.normalized("all")
    values = {}
    for key, (lo, hi) in bounds.items():
        values[key] = torch.tensor([rng.uniform(lo, hi) for _ in range(current[key].numel())], dtype=torch.float32)
    truth.set_normalized(values)
    truth.seed = TRUTH_SEED_BASE + k
    return truth, list(bounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxy-file", required=True)
    ap.add_argument("--graphs", nargs="+", default=["soil_pebbles", "concrete"])
    ap.add_argument("--truths", type=int, default=3)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arms", nargs="+", choices=("proxy", "direct"), default=["proxy", "direct"])
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = replace(OptimizeConfig(), res=args.res, loss=material_loss_config(args.res, "random", "default"))
    rows = []
    for name in args.graphs:
        start = resolve_graph(name)
        arms = {"proxy": lambda: load_graph_proxies(start, extra={"tile_paraboloid": args.proxy_file}, log=lambda s: None),
                "direct": lambda: load_graph_proxies(start, skip=("tile_paraboloid",), log=lambda s: None)}
        arms = {arm: load() for arm, load in arms.items() if arm in args.arms}
        for k in range(args.truths):
            truth, keys = draw_truth(start, k)
            with torch.no_grad():
                target = render(truth.evaluate(args.res))
            for arm, proxies in arms.items():
                t0 = time.perf_counter()
                result = Optimization(start, target, cfg, proxies=proxies, progress=False, log=lambda s: None).run()
                row = {"graph": name, "case": k, "method": arm, "seconds": round(time.perf_counter() - t0, 1),
                       "loss": result.loss_final, **score(result.graph, start, truth, keys),
                       **{m: round(v, 4) for m, v in fit_scores(result.renders["final"], target).items()}}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json_out:
                    args.json_out.write_text(json.dumps({"rows": rows}, indent=1))
    for arm in args.arms:
        rs = [r for r in rows if r["method"] == arm]
        print(f"{arm}: generator error {sum(r['gen_error'] for r in rs) / len(rs):.3f}, "
              f"filter error {sum(r['filter_error'] for r in rs) / len(rs):.3f}, "
              f"loss {sum(r['loss'] for r in rs) / len(rs):.4f}, "
              f"patch SWD {sum(r['patch_swd'] for r in rs) / len(rs):.2f}, "
              f"seconds {sum(r['seconds'] for r in rs) / len(rs):.0f}")


if __name__ == "__main__":
    main()
