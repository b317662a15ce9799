"""The category sweep, between Stage I and Stage II (not in the paper; ``sweep_iters`` 0 turns it off).

Each categorical generator parameter (enum or bool) is set to each of its other
choices in turn (at most ``sweep_max`` trials per round, drawn at random when
there are more) and the filters are re-fit to it by a short Adam of
``sweep_iters`` iterations with the real generators; the current choices get
the same re-fit, and the lowest loss wins. With ``sweep_counts`` N > 0 every integer
generator parameter (a count) is also tried at its value plus and minus 1, 2, ..., 2^(N-1)
inside its sampling box (:meth:`~.evaluator.Evaluator.count_trials`): a count several
units off is a basin that filters and gradients cannot leave. Up to ``sweep_rounds`` rounds, each
trying one more change on top of the last winner, while a round finds a gain;
every re-fit starts from the filters the sweep started with, so trials differ
only in their categories. A change that leaves a proxy's pinned category (so
Stage II loses that proxy) must lower the loss by ``sweep_proxy_margin`` (2 %),
any other by 0.1 %; with ``sweep_noise`` N > 0, every change must also lower it
by more than :data:`NOISE_SHARE` of what the loss varies between layouts: the
largest relative difference between the current graph's loss (after its
re-fit) and its loss at N other layout seeds (:func:`layout_noise`), as two
layouts of one material differ by that much without any change. Neither the
proxies (which pin such parameters) nor the polish (filters held) can leave a
category whose filters were fit to another.

Before a trial, once ``checkpoint_every`` seconds have passed, the sweep saves a
checkpoint (:meth:`Progress.state`): the graph it started from, the round and trial,
the round's RNG state, the lowest loss so far with its filters, the round's winner
and the changes made; a resumed run goes on from that trial with the same results.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import torch

from ..graph import Graph
from .filters import fit_filters
from .objective import layout_seeds, reseeded
from .records import StageRecord, Values
from .stage2 import STAGE2_MIN_GAIN

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost


def refit_filters(ev: Evaluator, host: StageHost, graph: Graph, iters: int) -> tuple[float, Values]:
    """The sweep's short re-fit of ``graph``'s filters: (lowest loss, its filter values)."""
    best, curve = fit_filters(ev, host, graph, iters, ev.config.lr1, "Category sweep (re-fit)", record_frames=False)
    return (min(curve) if curve else ev.real_loss(graph)), best


NOISE_SHARE = 0.5
"""Share of the layout spread a category change must beat. The trials share one layout seed, so the spread
between seeds overstates how much their losses differ by chance: with the whole spread (6.6 % on the default
example) the margin also blocked useful changes on 2 of 15 recovery cases, with half of it on 1, while both
keep the default example's euclidean cells (a 2 % gain for chebyshev)."""


def layout_noise(ev: Evaluator, graph: Graph, filters: Values, seeds: int) -> float:
    """The largest relative difference between the loss of ``graph`` with ``filters`` at its own layout seed
    and at each of the ``seeds`` next ones (0 when ``seeds`` is 0)."""
    if seeds <= 0:
        return 0.0
    fitted = graph.copy()
    fitted.set_normalized(filters)
    own = ev.real_loss(fitted)
    spread = 0.0
    for seed in layout_seeds(fitted.seed, seeds + 1)[1:]:
        spread = max(spread, abs(ev.real_loss(reseeded(fitted, seed)) - own) / max(own, 1e-12))
    return spread


def rng_state(data: Any) -> tuple[Any, ...]:
    """A :meth:`random.Random.getstate` value from its JSON form (lists); ValueError or TypeError when
    ``data`` is not one."""
    version, internal, gauss = data
    state = (version, tuple(internal), gauss)
    random.Random().setstate(state)  # raises on a malformed state
    return state


@dataclass
class Progress:
    """Where a sweep is: the graph it started from and its loss, the lowest loss so far and its filters,
    the curve, the changes made, the round, the next trial, the round's winner so far (an index into the
    round's trials) and the number of trials re-fit."""

    before: Graph
    start: float
    best_loss: float
    best_filters: Values
    curve: list[float]
    changes: list[str] = field(default_factory=list)
    round: int = 0
    trial: int = 0
    winner: int | None = None
    tried: int = 0

    def state(self, host: StageHost, round_rng: tuple[Any, ...]) -> dict[str, Any]:
        """The checkpoint state (``round_rng``: the RNG state at the start of the round)."""
        return {"stage": "sweep", "it": self.tried, "elapsed": time.perf_counter() - host.stage_t0,
                "before": self.before.to_dict(), "start": self.start, "best_loss": self.best_loss,
                "best_filters": self.best_filters, "curve": self.curve, "changes": self.changes,
                "round": self.round, "trial": self.trial, "winner": self.winner, "rng": list(round_rng)}

    @classmethod
    def restore(cls, device: torch.device, saved: Mapping[str, Any]) -> Progress:
        """The progress a killed run saved (:meth:`state`), its filters on ``device``."""
        return cls(Graph.from_dict(saved["before"]), float(saved["start"]), float(saved["best_loss"]),
                   {k: v.to(device) for k, v in saved["best_filters"].items()}, list(saved["curve"]),
                   list(saved["changes"]), int(saved["round"]), int(saved["trial"]), saved["winner"], int(saved["it"]))


def sweep(ev: Evaluator, host: StageHost) -> None:
    """The category sweep of the evaluator's graph (see the module docstring)."""
    t0, resumed = host.stage_begin("sweep")
    config = ev.config
    rng = random.Random(config.seed)
    if resumed is None:
        before, start = ev.graph.copy(), ev.real_loss()
        if not ev.sweep_trials():
            host.records.append(StageRecord("sweep", start, start, [start], time.perf_counter() - t0,
                                            "no categorical generator parameters"))
            return
        best_loss, best_filters = refit_filters(ev, host, ev.graph, config.sweep_iters)
        p = Progress(before, start, best_loss, best_filters, [best_loss])
    else:  # the evaluator's graph is the saved round's; the proxies are those the sweep started with
        p = Progress.restore(ev.device, resumed)
        rng.setstate(rng_state(resumed["rng"]))
        ev.proxy_nodes = ev.usable_proxies(p.before, quiet=True)
    while p.round < max(config.sweep_rounds, 1):
        round_rng = rng.getstate()
        trials = ev.sweep_trials()
        if len(trials) > config.sweep_max:
            trials = rng.sample(trials, config.sweep_max)
        proxied = set(ev.usable_proxies(ev.graph, quiet=True))
        noise = layout_noise(ev, ev.graph, p.best_filters, config.sweep_noise)
        if config.sweep_noise > 0:
            ev.log(f"Category sweep: the loss differs by up to {noise:.1%} between {config.sweep_noise + 1} layouts; "
                   f"a change must lower it by more than {NOISE_SHARE:.0%} of that")
        while p.trial < len(trials):
            if host.checkpoint_due():
                host.save_checkpoint(p.state(host, round_rng))
            graph = trial_graph(ev.graph, trials[p.trial])
            loss, filters = refit_filters(ev, host, graph, config.sweep_iters)
            keeps_proxies = proxied <= set(ev.usable_proxies(graph, quiet=True))
            margin = max(STAGE2_MIN_GAIN if keeps_proxies else config.sweep_proxy_margin, NOISE_SHARE * noise)
            if loss < p.best_loss * (1.0 - margin):
                p.best_loss, p.best_filters, p.winner = loss, filters, p.trial
            p.trial, p.tried = p.trial + 1, p.tried + 1
        p.curve.append(p.best_loss)
        if p.winner is None:
            break
        key, value = trials[p.winner]
        ev.graph = trial_graph(ev.graph, (key, value))
        p.changes.append(f"{key}={value}")
        p.round, p.trial, p.winner = p.round + 1, 0, None
    ev.set_values(p.best_filters)
    end, render_end = ev.real_eval()
    changes = p.changes
    if end > p.start:  # cannot happen (each re-fit's first loss is its start's), kept as a guard
        ev.graph, end, changes = p.before, p.start, []
    if changes:  # the report shows the new categories; Stage II uses the proxies that still fit
        host.renders["sweep"] = render_end
        ev.refresh_proxies()
    note = f"{p.tried} trials; " + (f"changed {', '.join(changes)}" if changes else "no category changed")
    host.records.append(StageRecord("sweep", p.start, end, p.curve, time.perf_counter() - t0, note))
    ev.log(f"Category sweep: loss {p.start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s ({note})")


def trial_graph(graph: Graph, trial: tuple[str, Any]) -> Graph:
    """A copy of ``graph`` with the trial's ``(key, value)`` set."""
    out = graph.copy()
    key, value = trial
    out.set_param(*key.split(".", 1), value)
    return out
