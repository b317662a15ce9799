"""The category sweep, between Stage I and Stage II (not in the paper; ``sweep_iters`` 0 turns it off).

Each categorical generator parameter (enum or bool) is set to each of its other
choices in turn (at most ``sweep_max`` trials per round, drawn at random when
there are more) and the filters are re-fit to it by a short Adam of
``sweep_iters`` iterations with the real generators; the current choices get
the same re-fit, and the lowest loss wins. Up to ``sweep_rounds`` rounds, each
trying one more change on top of the last winner, while a round finds a gain;
every re-fit starts from the filters the sweep started with, so trials differ
only in their categories. A change that leaves a proxy's pinned category (so
Stage II loses that proxy) must lower the loss by ``sweep_proxy_margin`` (2 %),
any other by 0.1 %. Neither the proxies (which pin such parameters) nor the
polish (filters held) can leave a category whose filters were fit to another.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from ..graph import Graph
from .records import StageRecord, Values
from .stage2 import STAGE2_MIN_GAIN

if TYPE_CHECKING:
    from .stages import Optimization


def category_trials(graph: Graph) -> list[tuple[str, Any]]:
    """``(key, value)`` for every other choice of every categorical (enum or bool) generator parameter."""
    out: list[tuple[str, Any]] = []
    for key, p in graph.param_specs("generators").items():
        if p.kind == "enum":
            choices: tuple[Any, ...] = tuple(p.choices)
        elif p.kind == "bool":
            choices = (False, True)
        else:
            continue
        now = graph.value(key)
        out += [(key, c) for c in choices if c != now]
    return out


def refit_filters(run: Optimization, graph: Graph, iters: int) -> tuple[float, Values]:
    """The sweep's short re-fit of ``graph``'s filters: (lowest loss, its filter values)."""
    best, curve = run.fit_filters(graph, iters, run.config.lr1, "Category sweep (re-fit)", record_frames=False)
    return (min(curve) if curve else run.real_loss(graph)), best


def sweep(run: Optimization) -> None:
    """The category sweep of the run's graph (see the module docstring)."""
    t0 = time.perf_counter()
    config = run.config
    before = run.graph.copy()
    start = run.real_loss(run.graph)
    if not run.category_trials(run.graph):
        run.records.append(StageRecord("sweep", start, start, [start], time.perf_counter() - t0,
                                       "no categorical generator parameters"))
        return
    rng = random.Random(config.seed)
    best_loss, best_filters = refit_filters(run, run.graph, config.sweep_iters)
    curve, tried, changes = [best_loss], 0, []
    for _ in range(max(config.sweep_rounds, 1)):
        trials = run.category_trials(run.graph)
        if len(trials) > config.sweep_max:
            trials = rng.sample(trials, config.sweep_max)
        winner = None
        proxied = set(run.evaluator.applicable_proxies(run.graph, quiet=True))
        for key, value in trials:
            graph = run.graph.copy()
            graph.set_param(*key.split(".", 1), value)
            loss, filters = refit_filters(run, graph, config.sweep_iters)
            tried += 1
            keeps_proxies = proxied <= set(run.evaluator.applicable_proxies(graph, quiet=True))
            if loss < best_loss * (1.0 - (STAGE2_MIN_GAIN if keeps_proxies else config.sweep_proxy_margin)):
                best_loss, best_filters, winner = loss, filters, (key, value, graph)
        curve.append(best_loss)
        if winner is None:
            break
        key, value, run.graph = winner
        changes.append(f"{key}={value}")
    run.graph.set_normalized(best_filters)
    end, render_end = run.real_eval(run.graph)
    if end > start:  # cannot happen (each re-fit's first loss is its start's), kept as a guard
        run.graph, end, changes = before, start, []
    if changes:  # the report shows the new categories; Stage II uses the proxies that still fit
        run.renders["sweep"] = render_end
        run.proxy_nodes = run.evaluator.applicable_proxies(run.graph)
    note = f"{tried} trials; " + (f"changed {', '.join(changes)}" if changes else "no category changed")
    run.records.append(StageRecord("sweep", start, end, curve, time.perf_counter() - t0, note))
    run.log(f"Category sweep: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s ({note})")
