"""A photo to a fitted library graph: check the library, open the index, select, run the pipeline on the best.

:func:`open_index` reads the shipped selection index and describes again, with
a warning, the graphs it is stale for (changed, added). :func:`load_entries`
loads every library graph once, so a graph that fails to load is a one-line
:class:`~proxymat.graph.GraphError` before any work. :func:`fit_photo` ranks
the graphs (:func:`proxymat.select.select`), runs the full pipeline
(:class:`~proxymat.optimize.stages.Optimization`) on the ``top_k`` best,
each starting from its short fit, and keeps the best: by the final patch SWD
to the photo when the short fits were ranked by it (an unfamiliar photo),
else by the final loss.

Time: ``--quality default`` fits the graph ranked first only (``top_k`` 1,
after short fits of the 3 nearest at 64 px, a few seconds each; of the 12
nearest when the photo is unfamiliar, see :mod:`proxymat.select`). On an idle
2-core machine at 256 px a whole ``fit`` took 56-104 s per photo, the largest
library graph included (docs/RESULTS.md, Selection).
``best`` fits 3 graphs fully. Three full fits were measured on the 5 shared
photos (``bench select --real --quality fast --top-k 3``): the right kind on 3,
against 5 with one; a regular carpet's full fit ends below plaster's by patch
SWD, and rusty_metal below marble_dark by loss on the dark stone photo, for 3x
the time; so ``default`` keeps 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .graph import Graph, GraphError
from .select import WIDE_SHORTLIST, Candidate, select, short_config, short_fit_swd, start_graph
from .select_index import Entry, Index, SelectIndexError, build_index, check_index, load_index, refresh_index

Log = Callable[[str], None]


@dataclass(frozen=True)
class FitPlan:
    """How much selection work a fit does."""

    top_k: int = 1  # graphs that get the full pipeline
    shortlist: int = 3  # graphs that get a short fit
    wide: int = WIDE_SHORTLIST  # graphs short-fitted and ranked by the fit when the photo is unfamiliar (0: never)
    short_res: int = 64
    short_iters: int = 40
    samples: int = 64  # per graph, when the index must be built here


FIT_QUALITY: dict[str, dict[str, int]] = {
    "fast": {"top_k": 1, "shortlist": 1},
    "default": {},
    "best": {"top_k": 3, "shortlist": 6, "short_res": 128, "short_iters": 60},
}
"""``fit --quality``: the selection settings each preset changes (the pipeline's come from optimize's presets)."""


def fit_plan(quality: str, **overrides: Any) -> FitPlan:
    """The :class:`FitPlan` of a ``--quality`` preset, with any field given explicitly (not None) on top."""
    plan = replace(FitPlan(), **FIT_QUALITY[quality])
    return replace(plan, **{k: v for k, v in overrides.items() if v is not None})


def load_entries(entries: Sequence[Entry]) -> dict[str, Graph]:
    """Every entry's graph; a :class:`GraphError` naming the first one that fails to load."""
    out = {}
    for e in entries:
        try:
            out[e.name] = e.load()
        except GraphError as err:
            raise GraphError(f"library graph {e.name!r} fails to load: {err}") from None
    return out


def open_index(entries: Sequence[Entry], path: Path, plan: FitPlan, log: Log) -> Index:
    """The selection index at ``path`` for ``entries``: built here (with a warning) when there is none or it
    is unreadable, and with the graphs it is stale for described again."""
    try:
        index = load_index(path)
    except SelectIndexError as err:
        log(f"warning: {err}; describing the {len(entries)} graphs now "
            f"(ship one with `python tools/build_select_index.py`)")
        return build_index(entries, plan.samples)
    stale = check_index(index, entries)
    if stale:
        log(f"warning: the selection index {path} is stale for {len(stale)} graph(s) ({', '.join(stale[:5])}"
            f"{', ...' if len(stale) > 5 else ''}): their files changed or are new; describing them again now "
            f"(rebuild it with `python tools/build_select_index.py`)")
    return refresh_index(index, entries, stale)


@dataclass
class PhotoFit:
    """What :func:`fit_photo` found."""

    candidates: list[Candidate]  # every graph, in selection order
    result: Any  # the winner's OptimizeResult
    run: Any  # the winner's Optimization (its loss, for the report)
    winner: Candidate


def fit_photo(target: torch.Tensor, entries: Sequence[Entry], index: Index, config: Any, plan: FitPlan, *,
              log: Log = print, progress: bool = False, device: torch.device | str = "cpu",
              proxies_for: Callable[[Graph], dict] | None = None) -> PhotoFit:
    """Select graphs for ``target`` (1, 3, res, res, already encoded like the renders) and fit the
    ``plan.top_k`` best with ``config`` (an OptimizeConfig). The winner is the lowest by the score the
    candidates were ranked by: the final patch SWD to the photo for an unfamiliar photo (whose short fits
    were ranked by it, :func:`~proxymat.select.select`), else the final loss."""
    from .optimize.stages import Optimization

    short = replace(short_config(plan.short_res, plan.short_iters, config.seed), loss=replace(
        config.loss, scales=short_config(plan.short_res).loss.scales))
    log(f"ranking {len(entries)} graphs by descriptor; short fits of the {min(plan.shortlist, len(entries))} "
        f"nearest at {plan.short_res}px")
    candidates = select(target.cpu(), index, entries, plan.shortlist, short, log=log, wide=plan.wide)
    by_name = {e.name: e for e in entries}
    best: tuple[float, Any, Any, Candidate] | None = None
    for i, c in enumerate(candidates[: max(plan.top_k, 1)]):
        graph = c.graph or start_graph(by_name[c.name], index, c.sample)
        graph = graph.copy()
        graph.res = int(config.res)
        proxies = proxies_for(graph) if proxies_for else {}
        log(f"full fit {i + 1} of {min(plan.top_k, len(candidates))}: {c.name!r} ({len(graph.nodes)} nodes) at "
            f"{config.res}px; proxies: {', '.join(sorted(proxies)) or 'none'}")
        run = Optimization(graph, target, config, proxies=proxies, progress=progress, device=device, log=log)
        result = run.run()
        c.final_loss, c.graph, c.render = result.loss_final, result.graph, result.renders["final"][:1].cpu()
        c.final_swd = short_fit_swd(c.render, target.cpu())
        log(f"{c.name}: final loss {result.loss_final:.4f}, patch SWD {c.final_swd:.2f} in {result.seconds:.1f}s")
        score = c.final_swd if c.ranked_by == "patch_swd" else c.final_loss
        if best is None or score < best[0]:
            best = (score, result, run, c)
    assert best is not None
    return PhotoFit(candidates, best[1], best[2], best[3])


def fit_graph(target: torch.Tensor, graph: Graph, config: Any, *, log: Log = print, progress: bool = False,
              device: torch.device | str = "cpu", proxies: dict | None = None) -> PhotoFit:
    """The pipeline on one given graph from its stored values (``fit --graph``): no selection."""
    from .optimize.stages import Optimization

    run = Optimization(graph, target, config, proxies=proxies or {}, progress=progress, device=device, log=log)
    result = run.run()
    c = Candidate(graph.name, getattr(graph, "category", ""), 1, float("nan"), -1, final_loss=result.loss_final,
                  graph=result.graph, render=result.renders["final"][:1].cpu())
    return PhotoFit([c], result, run, c)


def write_candidates(out_dir: Path, fit: PhotoFit) -> list[dict[str, Any]]:
    """Write ``candidates.json`` and ``candidates/NAME.png`` (each fitted graph's latest render) into
    ``out_dir``; returns the rows (with ``image`` relative to ``out_dir``, and ``winner``)."""
    import json

    from .atomic import atomic_write_text
    from .io import write_png

    rows = []
    (Path(out_dir) / "candidates").mkdir(parents=True, exist_ok=True)
    for c in fit.candidates:
        row = {**c.as_row(), "winner": c is fit.winner, "image": None}
        if c.render is not None:
            rel = f"candidates/{c.name}.png"
            write_png(Path(out_dir) / rel, c.render.clamp(0, 1))
            row["image"] = rel
        rows.append(row)
    atomic_write_text(Path(out_dir) / "candidates.json", json.dumps(rows, indent=2) + "\n")
    return rows


def pipeline_config(quality: str, seed: int = 0, res: int | None = None, loss: str = "default") -> Any:
    """The :class:`~proxymat.optimize.config.OptimizeConfig` of optimize's ``--quality`` preset (``res``: another
    working resolution), with the material loss variant ``loss`` at the scales picked for the resolution."""
    from .optimize.config import OptimizeConfig, quality_settings
    from .optimize.loss_config import material_loss_config

    preset = quality_settings(quality)
    if res is not None:
        preset["res"] = int(res)
    return OptimizeConfig(**preset, seed=seed, loss=material_loss_config(preset["res"], name=loss))


def find_graph(ref: str, entries: Sequence[Entry]) -> Graph:
    """``fit --graph``: a library graph by name, else a graph file or bundled example."""
    from .examples import resolve_graph

    for e in entries:
        if e.name == ref:
            return e.load()
    return resolve_graph(ref)
