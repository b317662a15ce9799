"""Material-graph optimization benchmark (E3): methods side by side on the bundled examples.

For each example (a graph at its starting values and a synthetic target rendered
from known "truth" values), every method starts from the same graph and is
scored with the same loss on the real-generator render:

* ``full``: Stages I-III (proxies where shipped);
* ``stage1``: Stage I only (MATch: filters only);
* ``no_search`` / ``no_stage3`` / ``no_rescore`` / ``global_search`` / ``no_polish``:
  ablations of the full pipeline (``no_rescore``: the search trusts the proxies'
  ranking; ``global_search``: no samples near the current values;
  ``no_polish``: no real-generator local search before Stage III; all three
  as in the paper); ``polish_filters``: a variant whose polish moves the
  filter parameters too; ``polish_shrink``: a polish whose radius only
  shrinks (``polish_grow=1``); ``no_stage2_check``: Stage II runs all its
  iterations without real-generator checks; ``no_sweep``: no category sweep
  after Stage I; ``no_refit``: Stage II starts from the search's best sample
  with the filters as they are, without re-fitting them to the best samples
  first;
* ``cma``, ``sa``, ``powell``, ``random``: gradient-free optimization of all
  parameters with the real generators, given the wall-clock time of ``full``.

Parameter error: mean absolute difference of normalized values between the
result and the truth graph over the parameters the truth changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..graph import Graph
from ..io import prepare_target, read_image
from ..metrics import fit_scores
from ..optimize.loss import MaterialLoss, encode_like_render
from ..optimize.loss_config import material_loss_config
from ..optimize.stages import Optimization, OptimizeConfig
from ..render import render

GRADIENT_METHODS = ("full", "stage1", "no_search", "no_stage3", "no_rescore", "global_search", "no_polish",
                    "polish_filters", "polish_shrink", "no_stage2_check", "no_sweep", "no_refit")
FREE_METHODS = ("cma", "sa", "powell", "random")


def parameter_error(result: Graph, truth: Graph, start: Graph) -> float:
    """Mean |normalized result - truth| over the parameters where truth differs from start."""
    r, t, s = (g.normalized("all") for g in (result, truth, start))
    keys = [k for k in t if not torch.equal(t[k], s[k])]
    if not keys:
        return 0.0
    return float(torch.stack([(r[k] - t[k]).abs().mean() for k in keys]).mean())


def _config_for(method: str, base: OptimizeConfig) -> OptimizeConfig:
    return {"full": base, "stage1": replace(base, stage2=False, polish=0, stage3=False),
            "no_search": replace(base, random_search=False), "no_stage3": replace(base, stage3=False),
            "no_rescore": replace(base, rescore=0), "global_search": replace(base, local_fraction=0.0),
            "no_polish": replace(base, polish=0), "polish_filters": replace(base, polish_filters=True),
            "polish_shrink": replace(base, polish_grow=1.0), "no_stage2_check": replace(base, stage2_check=0),
            "no_sweep": replace(base, sweep_iters=0), "no_refit": replace(base, search_refit=0)}[method]


def example_key(name: str, res: int, seed: int, features: str, polish: int, target_encoding: str,
                loss: str = "default") -> dict[str, Any]:
    """What identifies one example's rows for ``--resume``: the example, resolution and seed, and the
    settings the rows do not show otherwise (every row of :func:`run_example` carries them)."""
    return {"example": name, "res": res, "seed": seed,
            "settings": {"features": features, "polish": polish, "target_encoding": target_encoding, "loss": loss}}


def run_example(name: str, methods: Sequence[str], res: int = 128, base: OptimizeConfig | None = None,
                figures: Path | None = None, log: Callable[[str], None] = print, target_path: Path | None = None,
                graph: Graph | None = None, target_encoding: str = "srgb", features: str = "auto",
                seed: int | None = None, bars: bool = False, loss_name: str = "default") -> list[dict[str, Any]]:
    """Run ``methods`` on one example (or on ``graph`` + ``target_path``); returns one row per method.

    ``features`` picks the texture descriptor of the loss (``auto``, ``random``, ``filters`` or
    VGG19 weights) and ``loss_name`` its terms (a :data:`~proxymat.optimize.loss.LOSS_PRESETS` name);
    ``seed`` overrides the optimization seed (random search and baselines); ``bars`` shows the
    pipeline's and the baselines' progress bars. Each row carries the field's scores of its
    render (patch SWD, Lab distance).
    """
    from ..examples import example_target_path, example_truth_text, resolve_graph
    from ..optimize.gradient_free import run_baseline
    from ..optimize.proxies import load_graph_proxies

    start = graph or resolve_graph(name)
    tpath = target_path or example_target_path(name)
    if tpath is None:
        raise ValueError(f"no target for {name!r}")
    target = encode_like_render(prepare_target(read_image(tpath), res), target_encoding)
    truth_text = None if target_path else example_truth_text(name)
    truth = Graph.loads(truth_text) if truth_text else None
    loss_cfg = material_loss_config(res, features, loss_name)
    base = replace(base or OptimizeConfig(), res=res, loss=loss_cfg)
    if seed is not None:
        base = replace(base, seed=seed)
    loss = MaterialLoss(target, loss_cfg)
    # Every run is also scored with the default loss and descriptor, so runs with different losses compare.
    ref_cfg = material_loss_config(res, "random")
    ref_loss = loss if loss.features.backbone == "random" and loss_cfg == ref_cfg else MaterialLoss(target, ref_cfg)
    proxies = load_graph_proxies(start, log=lambda s: None)
    rows: list[dict[str, Any]] = []
    images = {"target": target}
    with torch.no_grad():
        init_render = render(start.evaluate(res))
    init_loss = float(loss(init_render))
    images["init"] = init_render
    truth_loss = None  # the truth rendered at the working resolution: a target drawn at another one is
    if truth is not None:  # not met exactly (thin features' slopes differ), and this is the floor
        with torch.no_grad():
            truth_loss = float(loss(render(truth.evaluate(res))))
    full_seconds = None
    for method in methods:
        t0 = time.perf_counter()
        if method in GRADIENT_METHODS:
            run = Optimization(start, target, _config_for(method, base), proxies=proxies, progress=bars,
                               log=lambda s: None)
            result = run.run()
            graph_out, final = result.graph, result.renders["final"]
            seconds = result.seconds
            stages = {r.name: {"loss_start": round(r.loss_start, 5), "loss_end": round(r.loss_end, 5),
                               "seconds": round(r.seconds, 1), **({"note": r.note} if r.note else {})}
                      for r in result.records}
            if method == "full":
                full_seconds = seconds
        elif method in FREE_METHODS:
            stages = None
            budget = full_seconds or 60.0
            res_b = run_baseline(method, start, target, time_budget_s=budget, res=res, loss=loss, seed=base.seed,
                                 progress=bars)
            graph_out = res_b.graph
            with torch.no_grad():
                final = render(graph_out.evaluate(res))
            seconds = time.perf_counter() - t0
        else:
            raise ValueError(f"unknown method {method!r}")
        row = {**example_key(name, res, base.seed, features, base.polish, target_encoding, loss_name),
               "method": method, "loss_init": init_loss, "loss": float(loss(final)), "seconds": round(seconds, 1),
               "proxies": sorted(proxies), "features": loss.features.backbone, "loss_ref": float(ref_loss(final)),
               **{k: round(v, 4) for k, v in fit_scores(final, target).items()}}
        if stages is not None:  # per-stage losses (real generators) and times of the pipeline's methods
            row["stages"] = stages
        if truth is not None:
            row["param_error"] = parameter_error(graph_out, truth, start)
            row["loss_truth"] = truth_loss
        rows.append(row)
        images[method] = final
        log(json.dumps(row))
    if figures is not None:
        from ..report import comparison

        figures.mkdir(parents=True, exist_ok=True)
        comparison(images, figures / f"e3_{name}.png")
    return rows


def _loss_cells(losses: dict[str, float], methods: Sequence[str], competing: Sequence[str]) -> list[str]:
    """One table cell per method: its loss, bold where it is the lowest of the ``competing`` methods,
    "-" where it did not run."""
    low = min(losses[m] for m in competing)
    return ["-" if m not in losses else (f"**{losses[m]:.4f}**" if m in competing and losses[m] == low
                                         else f"{losses[m]:.4f}") for m in methods]


def summarize(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown tables, one line per example (and seed, when there are several): the loss on the render
    of each method (lowest in bold), the parameter error where the example has a ground truth, and
    the seconds each method took."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by_key: dict[tuple[str, Any], dict[str, dict[str, Any]]] = {}
    for r in rows:  # a later row replaces an earlier one of the same (example, seed, method)
        by_key.setdefault((r["example"], r.get("seed")), {})[r["method"]] = r
    several_seeds = len({seed for _, seed in by_key}) > 1
    head = "| example | seed |" if several_seeds else "| example |"

    def label(key: tuple[str, Any]) -> str:
        return f"| {key[0]} | {key[1]} |" if several_seeds else f"| {key[0]} |"

    truths = {key: next((r["loss_truth"] for r in by.values() if r.get("loss_truth") is not None), None)
              for key, by in by_key.items()}
    with_truth = any(v is not None for v in truths.values())

    def table(field: str, fmt: str, bold: bool, init: bool = False) -> list[str]:
        truth_col = init and with_truth
        cols = (["init"] if init else []) + methods + (["truth"] if truth_col else [])
        lines = [f"{head} " + " | ".join(cols) + " |", "|---" * (len(cols) + 1 + several_seeds) + "|"]
        for key, by in by_key.items():
            values = {m: float(r[field]) for m, r in by.items() if r.get(field) is not None}
            if not values:
                continue
            text = {m: f"{v:{fmt}}" for m, v in values.items()}
            best = f"{min(values.values()):{fmt}}" if bold else None  # ties as printed are all bold
            cells = [f"{next(iter(by.values()))['loss_init']:.4f}"] if init else []
            cells += ["-" if m not in text else (f"**{text[m]}**" if text[m] == best else text[m]) for m in methods]
            if truth_col:
                cells.append("-" if truths[key] is None else f"{truths[key]:{fmt}}")
            lines.append(f"{label(key)} " + " | ".join(cells) + " |")
        return lines if len(lines) > 2 else []

    note = "; truth: the ground truth rendered at the working resolution" if with_truth else ""
    out = [f"Loss on the render (lowest in bold{note}):", "", *table("loss", ".4f", True, init=True)]
    errors = table("param_error", ".3f", True)
    if errors:
        out += ["", "Parameter error against the ground truth (mean absolute difference of the normalized "
                "parameters the example changes; lowest in bold):", "", *errors]
    out += ["", "Seconds:", "", *table("seconds", ".1f", False)]
    return "\n".join(out)


def seed_table(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> tuple[str, dict[str, list[bool]]]:
    """Markdown table with one line per (example, seed) and, per example, whether ``full`` was the lowest
    of ``full`` and the baselines on each seed. Ablations are shown but do not compete (no bold);
    a later row replaces an earlier one of the same (example, seed, method)."""
    table: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        table.setdefault((r["example"], int(r.get("seed", 0))), {})[r["method"]] = float(r["loss"])
    lines = ["| target | seed | " + " | ".join(methods) + " | full lowest |", "|---|---|" + "---|" * (len(methods) + 1)]
    wins: dict[str, list[bool]] = {}
    for (example, seed), losses in sorted(table.items()):
        rivals = {m: v for m, v in losses.items() if m in methods and (m == "full" or m in FREE_METHODS + ("stage1",))}
        if "full" not in rivals:
            continue
        cells = _loss_cells(losses, methods, list(rivals))
        won = rivals["full"] == min(rivals.values())
        wins.setdefault(example, []).append(won)
        lines.append(f"| {example} | {seed} | " + " | ".join(cells) + f" | {'yes' if won else 'no'} |")
    return "\n".join(lines), wins
