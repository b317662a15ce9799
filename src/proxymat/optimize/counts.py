"""The count search, after Stage I (not in the paper; ``count_search`` 0 turns it off).

Integer generator parameters (counts: bricks per row and per column, tiles and
arcs per side, cells per side) set the frequencies of a layout. A count several
units off is a basin that neither the gradients nor the other searches leave:
the filters adapt to the wrong layout, and moving one count at a time raises
the loss on every side. On a recovery case whose fit drew 3 x 12 bricks for a
7 x 7 target, the truth's generator values scored 0.079 with the fit's filters
against the fit's 0.034, and 0.024 after a 25-iteration re-fit; scans of one
parameter at a time, each value re-fit, found nothing below 0.034.

So, for each generator node with counts that move, every combination of its
counts on a grid (:func:`count_grid`: each value in the sampling box, or
:data:`GRID_VALUES` log-spaced values when there are more) is rendered with the
current filters and the real generators at :data:`RANK_RES` px, without
gradients, and ranked by :func:`layout_distance`: the mean absolute difference
between the log power spectra of the render's and the target's luminance, each
normalized to zero mean and unit contrast and cut to the lowest frequencies.
The spectrum's peaks sit at the counts, and the normalization leaves out the
brightness and contrast that the filters set. The ``count_search`` combinations
ranked first get the sweep's filter re-fit (``sweep_iters`` Adam iterations),
and the lowest real loss replaces the current counts when it beats the current
loss by the sweep's margin (``sweep_proxy_margin`` when the change leaves a
proxy out of Stage II, else 0.1 %, and with ``sweep_noise`` at least
:data:`~.sweep.NOISE_SHARE` of the loss's spread between layouts). The nodes are searched one after the other,
each from the last one's result.

The stage saves a checkpoint after each node once ``checkpoint_every`` seconds
have passed; a resumed run goes on with the next node (the graph of the
checkpoint holds the earlier nodes' results).
"""

from __future__ import annotations

import itertools
import math
import time
from typing import TYPE_CHECKING, Any, Sequence

import torch

from ..graph import Graph
from .loss_terms import luminance
from .records import StageRecord
from .stage2 import STAGE2_MIN_GAIN
from .sweep import NOISE_SHARE, layout_noise, refit_filters

if TYPE_CHECKING:
    from ..params import ParamSpec
    from .evaluator import Evaluator
    from .host import StageHost

RANK_RES = 128
"""Resolution (px) of the ranking renders (the run's own when lower)."""
MAX_FREQUENCY = 32
"""Highest frequency (cycles per tile, along each axis) compared; counts above it are not told apart."""
GRID_VALUES = 16
"""Values tried per count when its sampling box holds more (log-spaced, the current value added)."""
MAX_COMBINATIONS = 256
"""Most combinations ranked per node; more counts per node get fewer values each."""


def layout_spectrum(img: torch.Tensor, res: int = RANK_RES, kmax: int = MAX_FREQUENCY) -> torch.Tensor:
    """Log power spectrum ``(B, 2k+1, 2k+1)`` (``k = min(kmax, res // 2 - 1)``, centred) of the luminance of
    ``(B, 3, H, W)`` images at ``res`` px, each normalized to zero mean and unit standard deviation first."""
    luma = luminance(img, res)
    luma = luma - luma.mean(dim=(-2, -1), keepdim=True)
    luma = luma / (luma.std(dim=(-2, -1), keepdim=True) + 1e-6)
    power = torch.fft.fftshift(torch.fft.fft2(luma, norm="ortho").abs().square(), dim=(-2, -1))
    c, k = res // 2, min(kmax, res // 2 - 1)
    return torch.log(power[:, c - k: c + k + 1, c - k: c + k + 1] + 1e-2)


def layout_distance(img: torch.Tensor, target_spectrum: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``(B,)`` between :func:`layout_spectrum` of ``img`` and ``target_spectrum``
    (made by :func:`layout_spectrum` at the same resolution)."""
    return (layout_spectrum(img, min(img.shape[-1], RANK_RES)) - target_spectrum).abs().mean(dim=(-2, -1))


def count_grid(spec: ParamSpec, box: tuple[float, float], now: int, n: int = GRID_VALUES) -> list[int]:
    """The values of an integer parameter to try: every one in its normalized ``box``, or ``n`` of them
    log-spaced over it when there are more, with the current value ``now`` always included."""
    a, b = spec.integer_range(box)
    if b - a + 1 <= n:
        values = set(range(a, b + 1))
    elif a >= 1:
        values = {round(a * (b / a) ** (i / (n - 1))) for i in range(n)}
    else:
        values = {round(a + (b - a) * i / (n - 1)) for i in range(n)}
    return sorted(values | {now})


def node_counts(ev: Evaluator) -> dict[str, list[str]]:
    """The moving integer generator parameters of the current graph, by node, in graph order."""
    specs = ev.graph.param_specs("generators")
    out: dict[str, list[str]] = {}
    for key in ev.generator_bounds():
        if key in specs and specs[key].kind == "int":
            out.setdefault(key.split(".", 1)[0], []).append(key)
    return out


def combinations(ev: Evaluator, keys: Sequence[str]) -> list[tuple[int, ...]]:
    """The grid of :func:`count_grid` values of ``keys`` (at most :data:`MAX_COMBINATIONS`), the current first."""
    specs, bounds = ev.graph.param_specs("generators"), ev.generator_bounds()
    now = tuple(int(round(float(ev.graph.value(k)))) for k in keys)
    n = GRID_VALUES
    while True:
        grids = [count_grid(specs[k], bounds[k], v, n) for k, v in zip(keys, now)]
        if math.prod(len(g) for g in grids) <= MAX_COMBINATIONS or n <= 2:
            break
        n -= 1
    combos = [c for c in itertools.product(*grids) if c != now]
    return [now] + combos[: MAX_COMBINATIONS - 1]


def with_counts(graph: Graph, keys: Sequence[str], values: Sequence[int]) -> Graph:
    """A copy of ``graph`` with ``keys`` set to ``values``."""
    out = graph.copy()
    for key, value in zip(keys, values):
        out.set_param(*key.split(".", 1), int(value))
    return out


def rank(ev: Evaluator, keys: Sequence[str], combos: Sequence[tuple[int, ...]]) -> list[float]:
    """:func:`layout_distance` to the target of each combination's render (current filters, real generators;
    ``keys`` are one node's, whose output alone is rendered again, ``search_batch`` combinations at a time)."""
    res = min(RANK_RES, ev.config.res)
    target = layout_spectrum(ev.target[:1], res)
    node = keys[0].split(".", 1)[0]
    program = ev.graph.compile()
    specs = ev.graph.param_specs("generators")
    step = max(ev.config.search_batch, 1)
    out: list[float] = []
    with torch.no_grad():
        frozen = program.generator_outputs(res, ev.device)
        for s in range(0, len(combos), step):
            chunk = combos[s: s + step]
            values = {k: torch.stack([specs[k].normalize(c[i]) for c in chunk]).to(ev.device) for i, k in enumerate(keys)}
            real, _ = program.generator_inputs(node, values, batch=len(chunk), device=ev.device)
            frozen[node] = program.specs[node](real, res, program.generator_seed(node))
            maps = program.evaluate(res, values, frozen=frozen, device=ev.device)
            out.extend(layout_distance(ev.render_maps(maps), target).tolist())
    return out


def search_node(ev: Evaluator, host: StageHost, keys: Sequence[str]) -> str | None:
    """Rank the counts of one node, re-fit the best ``count_search`` and keep the winner (see the module
    docstring); returns the change made (``"node.key=v, ..."``) or None."""
    config = ev.config
    combos = combinations(ev, keys)
    if len(combos) < 2:
        return None
    distances = rank(ev, keys, combos)
    order = sorted(range(1, len(combos)), key=lambda i: distances[i])[: config.count_search]
    current = ev.real_loss()
    proxied = set(ev.usable_proxies(ev.graph, quiet=True))
    noise = layout_noise(ev, ev.graph, ev.values("filters"), config.sweep_noise)
    best: tuple[float, Graph, Any] | None = None
    for i in order:
        graph = with_counts(ev.graph, keys, combos[i])
        loss, filters = refit_filters(ev, host, graph, config.sweep_iters)
        keeps_proxies = proxied <= set(ev.usable_proxies(graph, quiet=True))
        margin = max(STAGE2_MIN_GAIN if keeps_proxies else config.sweep_proxy_margin, NOISE_SHARE * noise)
        if loss < current * (1.0 - margin) and (best is None or loss < best[0]):
            best = (loss, graph, filters)
    if best is None:
        return None
    loss, graph, filters = best
    ev.graph = graph
    ev.set_values(filters)
    return ", ".join(f"{k}={graph.value(k)}" for k in keys)


def count_search(ev: Evaluator, host: StageHost) -> None:
    """The count search of the evaluator's graph (see the module docstring)."""
    t0, resumed = host.stage_begin("counts")
    nodes = list(node_counts(ev).items())
    start = ev.real_loss() if resumed is None else float(resumed["start"])
    curve = [start] if resumed is None else list(resumed["curve"])
    changes: list[str] = [] if resumed is None else list(resumed["changes"])
    for i in range(0 if resumed is None else int(resumed["it"]), len(nodes)):
        if host.checkpoint_due():
            host.save_checkpoint({"stage": "counts", "it": i, "elapsed": time.perf_counter() - t0, "start": start,
                                  "curve": curve, "changes": changes})
        change = search_node(ev, host, nodes[i][1])
        if change:
            changes.append(change)
        curve.append(ev.real_loss())
    end, render = ev.real_eval()
    if changes:
        host.renders["counts"] = render
        ev.refresh_proxies()
    note = (f"{len(nodes)} node(s); " + (f"changed {'; '.join(changes)}" if changes else "no count changed")
            if nodes else "no counts to search")
    host.records.append(StageRecord("counts", start, end, curve, time.perf_counter() - t0, note))
    ev.log(f"Count search: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s ({note})")
