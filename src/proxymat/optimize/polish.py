"""The polish, after Stage II and only with it (not in the paper; ``polish`` real evaluations, 0 turns it off).

A local search on the generator parameters with the real generators, filters
held. Each round renders ``search_batch`` sparse perturbations of the current
values (a ``polish_prob`` share of the coordinates, at least one, moves by up
to ``polish_radius``; discrete ones by whole grid steps) and keeps the best if
it lowers the loss; the radius grows by ``polish_grow`` after a round with a
gain and shrinks by 0.7 after one without (within 0.01-0.5), so a run of gains
can travel far (``polish_grow=1`` only shrinks). It starts from the
lowest-loss graph so far (Stage II can end above it). With ``polish_filters``
the filter parameters move too (as in SA). It moves the generators that have
no proxy, and corrects a proxy's bias. A graph's free parameters move within
their ranges, the others not at all. With ``polish_layouts`` N > 1 the rounds
compare the loss averaged over N layout seeds (the graph's and the next ones),
so that a gain must hold beyond one layout's chance features; the stage record
still ends with the loss at the graph's own layout.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..graph import Graph
from .gradient_free import perturb
from .objective import Objective
from .progress import NO_GRAD
from .records import StageRecord

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost

POLISH_SHRINK = 0.7  # radius factor after a polish round without gain
POLISH_RADIUS_RANGE = (0.01, 0.5)


def next_radius(radius: float, improved: bool, grow: float) -> float:
    """The polish's step radius after a round: times ``grow`` after a gain, times
    POLISH_SHRINK otherwise, kept within POLISH_RADIUS_RANGE."""
    low, high = POLISH_RADIUS_RANGE
    return min(max(radius * (grow if improved else POLISH_SHRINK), low), high)


def polish(ev: Evaluator, host: StageHost) -> None:
    """The polish of the evaluator's graph (see the module docstring)."""
    config = ev.config
    t0, resumed = host.stage_begin("polish")
    start = ev.real_loss()
    best = host.best
    if best is not None and best["loss"] < start:  # e.g. a coarse proxy led Stage II astray
        ev.log(f"Polish: starting from {best['stage']} (real-generator loss {best['loss']:.4f}), "
               f"below the current {start:.4f}")
        ev.graph = Graph.from_dict(best["graph"])
        start = ev.real_loss()
    obj = Objective(ev.graph, ev.target, ev.loss, res=config.res, settings=config.render,
                    batch_size=config.search_batch, device=ev.device, layouts=config.polish_layouts)
    movable = obj.layout.mask(ev.keys("all" if config.polish_filters else "generators"))
    lo, hi = obj.layout.bounds(ev.free or {})
    if not movable.any():
        host.records.append(StageRecord("polish", start, start, [start], time.perf_counter() - t0, "nothing to move"))
        return
    steps = obj.layout.steps[movable]
    x = obj.x0.copy()
    rng = np.random.default_rng(config.seed)
    # with several layouts the rounds compare layout-averaged losses: the start's too (one more evaluation)
    base = start if config.polish_layouts == 1 else float(obj.f_batch(x[None])[0])
    radius, best_loss, curve, accepted = config.polish_radius, base, [base], 0
    rounds = math.ceil(config.polish / max(config.search_batch, 1))
    first = 0
    if resumed is not None:
        first, radius, best_loss, accepted = resumed["it"], resumed["radius"], resumed["best_loss"], resumed["accepted"]
        x, curve, rng.bit_generator.state = resumed["x"].numpy().copy(), list(resumed["curve"]), resumed["rng"]
    for it in host.bars.loop(range(first, rounds), desc="Polish (real generators)", units=config.search_batch * NO_GRAD):
        if host.checkpoint_due():
            host.save_checkpoint({"stage": "polish", "it": it, "elapsed": time.perf_counter() - t0,
                                 "x": torch.from_numpy(x.copy()), "radius": radius, "best_loss": best_loss,
                                 "curve": curve, "accepted": accepted, "rng": rng.bit_generator.state})
        batch = np.repeat(x[None], config.search_batch, axis=0)
        for row in batch:
            row[movable] = perturb(x[movable], steps, rng, config.polish_prob, radius)
            if ev.free is not None:
                row[:] = np.clip(row, lo, hi)
        losses = obj.f_batch(batch)
        i = int(np.argmin(losses))
        improved = bool(losses[i] < best_loss)
        if improved:
            best_loss, x, accepted = float(losses[i]), obj.snap(batch[i]), accepted + 1
        radius = next_radius(radius, improved, config.polish_grow)
        curve.append(best_loss)
    obj.apply(ev.graph, x)
    end, host.renders["polish"] = ev.real_eval()
    host.records.append(StageRecord("polish", start, end, curve, time.perf_counter() - t0,
                                    f"{accepted} of {rounds} rounds improved"))
    ev.log(f"Polish: loss (real generators) {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s "
           f"({accepted} of {rounds} rounds improved)")
