"""Parameter-recovery benchmark: choose the material loss by what it recovers, not by its own value.

For every bundled example and ``truths`` random draws, a *truth* graph and a
*start* graph are drawn from the example: each parameter the example varies
(those where its start and target graphs differ) gets an independent random
normalized value in a box around the example's two values (the hull of both,
widened by half its width and at least 0.1 on each side, clipped to [0, 1] and,
for generators, to the proxy-training box). The truth is rendered with another
graph seed than the optimization uses (a held-out layout), so no loss can reach
0 by copying pixels: it must match statistics.

Scores per case (all on the real generators at the end of the pipeline):

* ``gen_error``: mean |normalized result - truth| over the varied generator
  parameters (categorical ones count 0 or 1);
* ``closer``: for how many of those (case, parameter) pairs the result is
  closer to the truth than the start was (ties where the start already sat on
  the truth are left out);
* ``filter_error``: the same mean over the varied filter parameters;
* ``categories_lost``: the generators' categorical parameters that the case does
  not vary (start and truth agree) and the fit changed anyway (a sweep that
  trades the truth's euclidean cells for square ones shows here, not above);
* ``patch_swd`` and ``lab_distance`` of the final render against the target
  (:mod:`proxymat.metrics`), and the loss under the variant's own loss.

With ``from_truth="all"`` every case starts at its truth (only the layout differs),
so ``gen_error`` measures how far the pipeline drifts from a perfect start: the floor
the loss sets on recovery, whatever the search does. ``"generators"`` or ``"filters"``
start only those parameters at the truth (the others at the drawn start), which tells
which half of a random start the pipeline fails to recover.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..graph import Graph
from ..metrics import fit_scores
from ..nodes.registry import is_generator
from ..optimize.loss_config import material_loss_config
from ..optimize.stages import Optimization, OptimizeConfig
from ..render import render
from .paired import RECOVERY_FIELDS, match, table

TRUTH_SEED_BASE = 1000  # truths are rendered at graph seeds 1000 + k; optimization runs at the example's seed


def varied_keys(start: Graph, truth: Graph) -> list[str]:
    """``node.param`` keys whose values differ between two graphs of the same structure."""
    s, t = start.normalized("all"), truth.normalized("all")
    return [k for k in s if not torch.equal(s[k], t[k])]


def _is_gen(graph: Graph, key: str) -> bool:
    return is_generator(graph.node_spec(key.split(".")[0]))


def _box(graph: Graph, key: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized [lo, hi] (per component) to draw ``key`` from, around the example's values ``a`` and ``b``."""
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    pad = ((hi - lo) * 0.5).clamp_min(0.1)
    lo, hi = (lo - pad).clamp(0, 1), (hi + pad).clamp(0, 1)
    if _is_gen(graph, key):  # cut to the proxy's sampling box
        u = torch.tensor(graph.space().normalized_box(key))
        lo, hi = torch.maximum(lo, u[0]), torch.minimum(hi, u[1])
        hi = torch.maximum(hi, lo)
    return lo, hi


def draw_case(start: Graph, truth: Graph, k: int) -> tuple[Graph, Graph, list[str]]:
    """Random (start, truth, varied keys) number ``k`` of an example given as its start and target graphs.

    Deterministic in (graph name, k). The truth graph's seed is ``TRUTH_SEED_BASE + k``.
    """
    keys = varied_keys(start, truth)
    s0, t0 = start.normalized("all"), truth.normalized("all")
    rng = random.Random(f"{start.name}:{k}")
    new_start, new_truth = start.copy(), truth.copy()
    for graph in (new_truth, new_start):
        values = {}
        for key in keys:
            lo, hi = _box(start, key, s0[key], t0[key])
            u = torch.tensor([rng.uniform(float(a), float(b)) for a, b in zip(lo, hi)], dtype=torch.float32)
            values[key] = u
        graph.set_normalized(values)
    new_truth.seed = TRUTH_SEED_BASE + k
    return new_start, new_truth, keys


def _distance(graph: Graph, key: str, a: torch.Tensor, b: torch.Tensor) -> float:
    p = graph.param_specs("all")[key]
    if p.kind == "enum":
        return float(not torch.equal(a, b))
    return float((a - b).abs().mean())


def score(result: Graph, start: Graph, truth: Graph, keys: Sequence[str]) -> dict[str, Any]:
    """Parameter errors of ``result`` against ``truth`` over ``keys`` (see the module docstring)."""
    r, s, t = (g.normalized("all") for g in (result, start, truth))
    gen = [k for k in keys if _is_gen(truth, k)]
    fil = [k for k in keys if k not in gen]
    err = {k: _distance(truth, k, r[k], t[k]) for k in keys}
    err0 = {k: _distance(truth, k, s[k], t[k]) for k in keys}
    judged = [k for k in gen if err0[k] > 1e-6]
    enums = [k for k, p in truth.param_specs("all").items()
             if p.kind == "enum" and k not in keys and _is_gen(truth, k)]
    return {
        "categories_lost": [k for k in enums if not torch.equal(r[k], t[k])],
        "gen_error": sum(err[k] for k in gen) / len(gen) if gen else 0.0,
        "gen_error_start": sum(err0[k] for k in gen) / len(gen) if gen else 0.0,
        "filter_error": sum(err[k] for k in fil) / len(fil) if fil else 0.0,
        "closer": sum(err[k] < err0[k] for k in judged), "judged": len(judged),
        "per_param": {k: [round(err0[k], 4), round(err[k], 4)] for k in keys},
    }


def run_case(name: str, k: int, variant: str, res: int = 128, base: OptimizeConfig | None = None,
             proxies: dict[str, Any] | None = None, progress: bool = False,
             from_truth: str = "") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Fit one drawn case with one loss variant (``from_truth``: "all", "generators" or "filters" start at
    the truth's values, at the optimization's layout seed); returns its row and the images (target, start,
    result)."""
    from ..examples import example_truth_text, resolve_graph
    from ..optimize.proxies import load_graph_proxies

    example_start = resolve_graph(name)
    truth_text = example_truth_text(name)
    if truth_text is None:
        raise ValueError(f"example {name!r} has no target graph")
    start, truth, keys = draw_case(example_start, Graph.loads(truth_text), k)
    if from_truth:
        start = start_from_truth(start, truth, from_truth)
    loss_cfg = material_loss_config(res, "random", variant)
    cfg = replace(base or OptimizeConfig(), res=res, loss=loss_cfg)
    with torch.no_grad():
        target = render(truth.evaluate(res))
        init = render(start.evaluate(res))
    if proxies is None:
        proxies = load_graph_proxies(start, log=lambda s: None)
    t0 = time.perf_counter()
    result = Optimization(start, target, cfg, proxies=proxies, progress=progress, log=lambda s: None).run()
    seconds = time.perf_counter() - t0
    final = result.renders["final"]
    row = {**case_key(name, k, res, cfg, from_truth), "method": variant, "seconds": round(seconds, 1),
           "loss": result.loss_final, **score(result.graph, start, truth, keys),
           **{f"{m}": round(v, 4) for m, v in fit_scores(final, target).items()},
           **{f"{m}_start": round(v, 4) for m, v in fit_scores(init, target).items()}}
    return row, {"target": target, "start": init, variant: final}


FROM_TRUTH = ("all", "generators", "filters")
"""What ``from_truth`` may start at the truth."""


def start_from_truth(start: Graph, truth: Graph, which: str) -> Graph:
    """``start`` with ``which`` of its parameters ("all", "generators" or "filters") set to the truth's;
    the layout seed stays the start's."""
    if which not in FROM_TRUTH:
        raise ValueError(f"from_truth must be one of {', '.join(FROM_TRUTH)}, not {which!r}")
    out = start.copy()
    out.set_normalized(truth.normalized(which))
    return out


def case_key(name: str, k: int, res: int, cfg: OptimizeConfig, from_truth: str = "") -> dict[str, Any]:
    """What identifies one case's rows (for ``--resume``): example, case, resolution, the start (marked only
    when it is the truth) and the pipeline's settings other than the loss (each row's ``method`` names its
    loss variant)."""
    settings = cfg.result_settings()
    settings.pop("loss", None)
    settings.pop("res", None)
    key = {"example": name, "case": k, "res": res, "settings": json.loads(json.dumps(settings))}
    return {**key, "from_truth": from_truth} if from_truth else key


def run_recovery(examples: Sequence[str], truths: int, variants: Sequence[str], res: int = 128,
                 base: OptimizeConfig | None = None, log: Callable[[str], None] = print,
                 kept: Callable[[dict[str, Any], str], list[dict[str, Any]] | None] | None = None,
                 save: Callable[[list[dict[str, Any]]], None] | None = None,
                 figures: Path | None = None, from_truth: str = "") -> list[dict[str, Any]]:
    """Every (example, case) with every loss variant, the variants of a case side by side (``from_truth``:
    started at the truth, see the module docstring).

    ``kept(key, label)`` returns a finished case's earlier rows (``--resume``) or None; ``save`` is
    called with all rows after each case; ``figures`` gets one comparison image per case
    (target, start, each variant's result).
    """
    from ..examples import resolve_graph
    from ..optimize.proxies import load_graph_proxies
    from ..plots import comparison

    cfg = replace(base or OptimizeConfig(), res=res)
    rows: list[dict[str, Any]] = []
    for name in examples:
        proxies = load_graph_proxies(resolve_graph(name), log=lambda s: None)
        for k in range(truths):
            earlier = kept(case_key(name, k, res, cfg, from_truth), f"{name}, case {k}") if kept else None
            if earlier:
                rows += earlier
                continue
            images: dict[str, torch.Tensor] = {}
            for variant in variants:
                row, imgs = run_case(name, k, variant, res, cfg, proxies, from_truth=from_truth)
                images.update(imgs)
                rows.append(row)
                log(json.dumps(row))
            if save is not None:
                save(rows)
            if figures is not None:
                figures.mkdir(parents=True, exist_ok=True)
                comparison(images, figures / f"recovery_{name}_{k}.png")
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table per loss variant: mean generator error, share of pairs closer than the start,
    categorical parameters lost (n/a for rows written before they were counted), mean filter error,
    mean patch SWD and Lab distance (start -> result), mean seconds; with several variants, each against
    the first case by case (:data:`.paired.RECOVERY_FIELDS`, :func:`.paired.table`: the mean difference and its 90 %
    bootstrap interval)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["method"], []).append(r)
    lines = ["| loss | cases | gen. error (start -> end) | closer than start | categories lost | filter error "
             "| patch SWD (start -> end) | Lab distance (start -> end) | seconds |", "|---|---|---|---|---|---|---|---|---|"]

    def mean(rs: list[dict[str, Any]], f: str) -> float:
        return sum(float(r[f]) for r in rs) / len(rs)

    for variant, rs in by.items():
        judged = sum(r["judged"] for r in rs)
        closer = sum(r["closer"] for r in rs)
        lost = sum(len(r["categories_lost"]) for r in rs) if all("categories_lost" in r for r in rs) else None
        lines.append(f"| {variant} | {len(rs)} | {mean(rs, 'gen_error_start'):.3f} -> {mean(rs, 'gen_error'):.3f} "
                     f"| {closer}/{judged} ({100 * closer / max(1, judged):.0f} %) | {'n/a' if lost is None else lost} "
                     f"| {mean(rs, 'filter_error'):.3f} "
                     f"| {mean(rs, 'patch_swd_start'):.1f} -> {mean(rs, 'patch_swd'):.1f} "
                     f"| {mean(rs, 'lab_distance_start'):.1f} -> {mean(rs, 'lab_distance'):.1f} "
                     f"| {mean(rs, 'seconds'):.0f} |")
    variants = list(by)
    for variant in variants[1:]:  # each variant against the first, case by case
        lines += ["", table(match(by[variants[0]], by[variant]), RECOVERY_FIELDS, variants[0], variant)]
    return "\n".join(lines)
