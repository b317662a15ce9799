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
gradients, and ranked twice by :func:`layout_distance`, the mean absolute
difference between the log power spectra of the render's and the target's
luminance, each normalized to zero mean and unit contrast and cut to the lowest
frequencies: once as they are, and once with each spectrum's slope removed
(``detrend``). The spectrum's peaks and knees sit at the counts and scales, and
the normalization leaves out the brightness and contrast that the filters set.
The slope is the filters' too (edge sharpness, the normal map's shading): with
the filters Stage I fitted to a wrong scale (plaster: scale 8 against the
truth's 4, the relief flattened to match), the plain ranking put the truth 24th
of 42 and the detrended one put scale 4 first. The best of the two rankings in
turn, ``count_search`` combinations in all, get the sweep's filter re-fit
(``sweep_iters`` Adam iterations). When none beats the current loss by the
margin, the lowest re-fit of each ranking within :data:`PROMISING` of it and the
current counts get :data:`EXTEND` times as many iterations more (the current
counts keep their filters unless a change wins): a layout far from the current
one needs longer for its filters (plaster's scale 4 scored
0.0232 after 25 iterations and 0.0168 after 75, against 0.0202). The lowest
real loss replaces the current counts when it beats the current loss by the
sweep's margin (``sweep_proxy_margin`` when the change leaves a proxy out of
Stage II, else 0.1 %, and with ``sweep_noise`` at least
:data:`~.sweep.NOISE_SHARE` of the loss's spread between layouts). The nodes are
searched one after the other, each from the last one's result.

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
RANKINGS = 2
"""Rankings of the combinations: the plain spectrum distance and the detrended one (:func:`rank`)."""
EXTEND = 2
"""A promising best candidate and the current counts get this many times ``sweep_iters`` more re-fit."""
PROMISING = 1.2
"""A best candidate within this factor of the current loss (and not below it by the margin) is extended."""


def layout_spectrum(img: torch.Tensor, res: int = RANK_RES, kmax: int = MAX_FREQUENCY,
                    detrend: bool = False) -> torch.Tensor:
    """Log power spectrum ``(B, 2k+1, 2k+1)`` (``k = min(kmax, res // 2 - 1)``, centred) of the luminance of
    ``(B, 3, H, W)`` images at ``res`` px, each normalized to zero mean and unit standard deviation first.

    ``detrend`` subtracts each spectrum's least-squares fit ``a + b log|f|`` over the non-zero frequencies:
    the envelope's slope, which blur, edge sharpness and the normal map's shading set (filters), leaving
    the knees and peaks that scales and counts set."""
    luma = luminance(img, res)
    luma = luma - luma.mean(dim=(-2, -1), keepdim=True)
    luma = luma / (luma.std(dim=(-2, -1), keepdim=True) + 1e-6)
    power = torch.fft.fftshift(torch.fft.fft2(luma, norm="ortho").abs().square(), dim=(-2, -1))
    c, k = res // 2, min(kmax, res // 2 - 1)
    spectrum = torch.log(power[:, c - k: c + k + 1, c - k: c + k + 1] + 1e-2)
    return _without_slope(spectrum) if detrend else spectrum


def _without_slope(spectrum: torch.Tensor) -> torch.Tensor:
    """``spectrum`` (B, 2k+1, 2k+1) minus its least-squares fit ``a + b log|f|`` over ``f != 0``."""
    k = spectrum.shape[-1] // 2
    f = torch.arange(-k, k + 1, dtype=torch.float64, device=spectrum.device)
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2).reshape(-1)
    design = torch.stack([torch.ones_like(radius), torch.log(radius.clamp_min(1.0))], dim=1)
    keep = radius > 0
    flat = spectrum.reshape(spectrum.shape[0], -1).double()
    coef = torch.linalg.lstsq(design[keep], flat[:, keep].T).solution  # (2, B), in double: float32 leaves 1e-3
    return (flat - (design @ coef).T).reshape(spectrum.shape).to(spectrum.dtype)


def layout_distance(img: torch.Tensor, target_spectrum: torch.Tensor, detrend: bool = False) -> torch.Tensor:
    """Mean absolute difference ``(B,)`` between :func:`layout_spectrum` of ``img`` and ``target_spectrum``
    (made by :func:`layout_spectrum` at the same resolution, with the same ``detrend``)."""
    return _spectrum_distance(layout_spectrum(img, min(img.shape[-1], RANK_RES), detrend=detrend), target_spectrum)


def _spectrum_distance(spectrum: torch.Tensor, target_spectrum: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``(B,)`` between spectra ``(B, n, n)`` and ``target_spectrum``."""
    return (spectrum - target_spectrum).abs().mean(dim=(-2, -1))


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


def rank(ev: Evaluator, keys: Sequence[str], combos: Sequence[tuple[int, ...]]) -> list[tuple[float, float]]:
    """:func:`layout_distance` to the target of each combination's render, plain and detrended (current
    filters, real generators; ``keys`` are one node's, whose output alone is rendered again,
    ``search_batch`` combinations at a time)."""
    res = min(RANK_RES, ev.config.res)
    target = layout_spectrum(ev.target[:1], res)
    targets = [target, _without_slope(target)]  # as the renders' below: one FFT, the detrended one derived
    node = keys[0].split(".", 1)[0]
    program = ev.graph.compile()
    specs = ev.graph.param_specs("generators")
    step = max(ev.config.search_batch, 1)
    out: list[tuple[float, float]] = []
    with torch.no_grad():
        frozen = program.generator_outputs(res, ev.device)
        for s in range(0, len(combos), step):
            chunk = combos[s: s + step]
            values = {k: torch.stack([specs[k].normalize(c[i]) for c in chunk]).to(ev.device) for i, k in enumerate(keys)}
            real, _ = program.generator_inputs(node, values, batch=len(chunk), device=ev.device)
            frozen[node] = program.specs[node](real, res, program.generator_seed(node))
            img = ev.render_maps(program.evaluate(res, values, frozen=frozen, device=ev.device))
            spectrum = layout_spectrum(img, res)  # one FFT per render: the detrended one derives from it
            out.extend(zip(_spectrum_distance(spectrum, targets[0]).tolist(),
                           _spectrum_distance(_without_slope(spectrum), targets[1]).tolist()))
    return out


def shortlist(distances: Sequence[tuple[float, float]], n: int) -> list[tuple[int, int]]:
    """The ``n`` combinations to re-fit, as ``(index, ranking)``: the best of each ranking (0 plain, 1
    detrended) in turn, without repeats; index 0 (the current counts) is left out."""
    orders = [sorted(range(1, len(distances)), key=lambda i, j=j: distances[i][j]) for j in range(RANKINGS)]
    out: list[tuple[int, int]] = []
    for pair in zip(*orders):
        for j, i in enumerate(pair):
            if i not in [k for k, _ in out] and len(out) < n:
                out.append((i, j))
    return out


Fit = tuple[float, Graph, Any, float]
"""A re-fit candidate: its lowest loss, its graph, its filter values and the gain it must show."""


def search_node(ev: Evaluator, host: StageHost, keys: Sequence[str]) -> str | None:
    """Rank the counts of one node, re-fit the best ``count_search`` and keep the winner (see the module
    docstring); returns the change made (``"node.key=v, ..."``) or None."""
    config = ev.config
    combos = combinations(ev, keys)
    if len(combos) < 2:
        return None
    current = ev.real_loss()
    proxied = set(ev.usable_proxies(ev.graph, quiet=True))
    noise = layout_noise(ev, ev.graph, ev.values("filters"), config.sweep_noise)
    leaders: dict[int, Fit] = {}  # the lowest re-fit loss of each ranking
    for i, ranking in shortlist(rank(ev, keys, combos), config.count_search):
        graph = with_counts(ev.graph, keys, combos[i])
        loss, filters = refit_filters(ev, host, graph, config.sweep_iters)
        keeps_proxies = proxied <= set(ev.usable_proxies(graph, quiet=True))
        margin = max(STAGE2_MIN_GAIN if keeps_proxies else config.sweep_proxy_margin, NOISE_SHARE * noise)
        if ranking not in leaders or loss < leaders[ranking][0]:
            leaders[ranking] = (loss, graph, filters, margin)
    fits = list(leaders.values())
    if fits and not any(f[0] < current * (1.0 - f[3]) for f in fits):
        fits, current = extend(ev, host, [f for f in fits if f[0] < PROMISING * current],
                               EXTEND * config.sweep_iters)
    winners = [f for f in fits if f[0] < current * (1.0 - f[3])]
    if not winners:
        return None
    loss, graph, filters, _ = min(winners, key=lambda f: f[0])
    ev.graph = graph
    ev.set_values(filters)
    return ", ".join(f"{k}={graph.value(k)}" for k in keys)


def extend(ev: Evaluator, host: StageHost, fits: Sequence[Fit], iters: int) -> tuple[list[Fit], float]:
    """Re-fit the filters of ``fits`` ``iters`` more iterations each, and the current graph's as many when
    there are any, so that none wins by iterations alone: the fits and the current graph's lowest loss
    after (its filters are left as they were: a search that changes no count changes nothing)."""
    out: list[Fit] = []
    for loss, graph, filters, margin in fits:
        grown = graph.copy()
        grown.set_normalized(filters)
        more, more_filters = refit_filters(ev, host, grown, iters)
        out.append((more, graph, more_filters, margin) if more < loss else (loss, graph, filters, margin))
    current = ev.real_loss()
    if out:
        current = min(current, refit_filters(ev, host, ev.graph, iters)[0])
    return out, current


def most_refit_iterations(count_search: int, sweep_iters: int) -> int:
    """Filter re-fit iterations one node's search can take at most (:func:`search_node`): the shortlist's
    ``count_search`` re-fits, then :func:`extend`'s longer re-fit of each ranking's best and of the current
    counts."""
    leaders = min(RANKINGS, count_search)
    return (count_search + (leaders + 1) * EXTEND) * max(sweep_iters, 1)


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
