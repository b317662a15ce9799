"""Photo -> ranked library graphs: descriptor retrieval, then short low-resolution fits of the best few.

:func:`rank` scores every graph of an :class:`~proxymat.select_index.Index`
by the mean distance from the photo's descriptor to the :data:`NEAREST`
nearest of the graph's samples (lower is closer), in the index's metric.
:func:`short_fit` starts a graph from the nearest sample (its parameters and
seed) and fits its free filter parameters to the
photo by a few Adam iterations (Stage I) at low resolution, giving the
material loss. :func:`select` does both: the ``shortlist`` best by descriptor
get a short fit (a warm start for the full pipeline, and its loss to show),
and keep their descriptor order while the photo lies among the index's own
samples. Re-ranking them by the short-fit loss was measured to pick the
wrong graph more often there: on 39 held-out library renders, top-1 fell
from 95 % by descriptor to 79 % by the loss after 40 Stage I iterations at
64 px among the 4 nearest (the short fit moves only filter parameters, so
the graph that made the target keeps a wrong layout and is not the best fit
yet).

A photo farther from every graph's samples than :data:`FAMILIAR_QUANTILE` of
the index's own samples are from the rest (:func:`familiar_limit`, leave one
out) is one the descriptor has not learnt to place. Then the ``wide``
nearest get a short fit and are ranked by the patch sliced Wasserstein
distance of its render to the photo (:func:`short_fit_swd`, the field's
measure of what looks alike): no graph has the photo's layout, so the fits
compete on equal terms. The material loss is what each fit descends; as a
judge between graphs of unrelated structure it sits at its noise floor on
photos (the unsmoothed spectrum alone scatters more than the graphs differ),
and it ranked a regular carpet weave above plaster and dark marble above
tufted leather, where patch SWD ranks the photo's kind first
(docs/RESULTS.md, Selection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .descriptors import describe, distances
from .graph import Graph
from .select_index import Entry, Index

SHORT_FIT_RES = 64
SHORT_FIT_ITERS = 40
NEAREST = 3
"""Samples of a graph whose mean distance scores it (one lone close sample counts for less)."""
FAMILIAR_QUANTILE = 0.9
"""Share of the index's own samples (scored leave-one-out) that count as familiar: a photo scoring above
their quantile is ranked by short fits."""
WIDE_SHORTLIST = 12
"""Graphs nearest by descriptor that get a short fit, ranked by its patch SWD, for an unfamiliar photo."""
SWD_SEEDS = 3
"""Patch-SWD draws averaged per short fit (their spread is about a tenth of the graphs' differences)."""


@dataclass
class Candidate:
    """A library graph's standing for one photo."""

    name: str
    category: str
    descriptor_rank: int  # 1 = nearest
    descriptor_score: float  # mean distance to the NEAREST nearest samples (the index's metric)
    sample: int  # index of that sample
    short_loss: float = math.nan  # material loss after the short fit (nan: not fitted)
    short_swd: float = math.nan  # patch SWD of the short fit's render to the photo (nan: not fitted)
    ranked_by: str = "descriptor"  # "patch_swd": ranked by short_swd (an unfamiliar photo); full fits then compete by it too
    final_loss: float = math.nan  # loss after the full pipeline (nan: not run)
    final_swd: float = math.nan  # patch SWD of the full fit's render to the photo (nan: not run)
    graph: Graph | None = field(default=None, repr=False)  # the latest fit (short, then full)
    render: torch.Tensor | None = field(default=None, repr=False)  # its render (1, 3, h, w)

    def as_row(self) -> dict:
        """JSON-ready fields (nan as None; no graph or render)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()
                if k not in ("graph", "render")}


def rank(photo: torch.Tensor, index: Index, entries: Sequence[Entry]) -> list[Candidate]:
    """Every entry, nearest first, by the mean distance of ``photo`` (1, 3, H, W) to its :data:`NEAREST`
    nearest samples; each candidate's ``sample`` is its nearest one."""
    query = describe(photo)
    rows = []
    for e in entries:
        d = distances(query, index.graphs[e.name].descriptors, index.metric)[0]
        near = torch.topk(d, min(NEAREST, d.numel()), largest=False).values
        rows.append(Candidate(e.name, e.category, 0, float(near.mean()), int(torch.argmin(d))))
    rows.sort(key=lambda c: c.descriptor_score)
    for i, c in enumerate(rows):
        c.descriptor_rank = i + 1
    return rows


def familiar_limit(index: Index, entries: Sequence[Entry], quantile: float = FAMILIAR_QUANTILE,
                   stride: int = 8) -> float:
    """The ``quantile`` of the best :func:`rank` score of every ``stride``-th index sample against the
    ``entries``' samples, itself left out: how far the index's own renders lie from the rest."""
    names = [e.name for e in entries if e.name in index.graphs]
    embedded = [index.metric(index.graphs[n].descriptors) for n in names]
    pool = torch.cat(embedded)
    starts = [0]
    for e in embedded:
        starts.append(starts[-1] + e.shape[0])
    own = torch.cat([torch.arange(s, t, stride) for s, t in zip(starts[:-1], starts[1:])])
    d = torch.cdist(pool[own], pool)
    d[torch.arange(len(own)), own] = math.inf
    best = torch.full((len(own),), math.inf)
    for s, t in zip(starts[:-1], starts[1:]):
        near = torch.topk(d[:, s:t], min(NEAREST, t - s), dim=1, largest=False).values
        best = torch.minimum(best, near.mean(dim=1))
    best = best[best.isfinite()]
    return float(torch.quantile(best, quantile)) if best.numel() else math.inf


def unfamiliar(ranked: Sequence[Candidate], limit: float) -> bool:
    """Whether a photo ranked ``ranked`` (nearest first, by :func:`rank`) lies outside the index's samples:
    its best score above ``limit`` (:func:`familiar_limit`)."""
    return bool(ranked) and ranked[0].descriptor_score > limit


def start_graph(entry: Entry, index: Index, sample: int) -> Graph:
    """The entry's graph set to one of its index samples (parameters and seed)."""
    graph = entry.load()
    samples = index.graphs[entry.name]
    graph.seed = int(samples.seeds[sample])
    graph.set_normalized(samples.values(sample))
    return graph


def short_config(res: int = SHORT_FIT_RES, iters: int = SHORT_FIT_ITERS, seed: int = 0):  # noqa: ANN201
    """The :class:`~proxymat.optimize.config.OptimizeConfig` of a short fit: Stage I alone."""
    from .optimize.config import OptimizeConfig
    from .optimize.loss_config import material_loss_config

    return OptimizeConfig(res=res, iters1=iters, stage2=False, stage3=False, sweep_iters=0, polish=0, seed=seed,
                          loss=material_loss_config(res))


def short_fit(graph: Graph, photo: torch.Tensor, config=None,  # noqa: ANN001
              features: str = "auto") -> tuple[float, Graph, torch.Tensor]:
    """(material loss, fitted graph, its render) of a short Stage I fit of ``graph`` to ``photo`` (1, 3, H, W),
    the photo being area-resized to the fit's resolution."""
    from .optimize.stages import Optimization

    config = config or short_config()
    if features != "auto":
        config = replace(config, loss=replace(config.loss, features=features))
    target = photo if photo.shape[-1] == config.res else F.interpolate(photo, size=(config.res, config.res), mode="area")
    run = Optimization(graph, target, config, progress=False, log=lambda s: None)
    result = run.run()
    return result.loss_final, result.graph, result.renders["final"][:1]


def short_fit_swd(render: torch.Tensor, photo: torch.Tensor, seeds: int = SWD_SEEDS) -> float:
    """Patch SWD (:func:`~proxymat.metrics.patch_swd`) of a short fit's ``render`` to ``photo``, the photo
    area-resized to the render's size, averaged over ``seeds`` draws of patches and directions."""
    from .metrics import patch_swd

    res = render.shape[-1]
    target = photo if photo.shape[-1] == res else F.interpolate(photo, size=(res, res), mode="area")
    return sum(patch_swd(render, target, seed=s) for s in range(seeds)) / seeds


def select(photo: torch.Tensor, index: Index, entries: Sequence[Entry], shortlist: int = 6, config=None,  # noqa: ANN001
           log: Callable[[str], None] = lambda s: None, features: str = "auto", wide: int = WIDE_SHORTLIST,
           limit: float | None = None) -> list[Candidate]:
    """Every entry ranked for ``photo``: by descriptor, the ``shortlist`` nearest with a short fit
    (``short_loss``, ``short_swd``, ``graph`` and ``render`` set); or, when the photo is unfamiliar (its best
    score above ``limit``, by default :func:`familiar_limit`), the ``max(shortlist, wide)`` nearest
    short-fitted and ranked by their patch SWD, ahead of the rest in descriptor order (``wide`` 0: never)."""
    ranked = rank(photo, index, entries)
    by_name = {e.name: e for e in entries}
    outside = False
    if wide > 0 and ranked:
        limit = familiar_limit(index, entries) if limit is None else limit
        outside = unfamiliar(ranked, limit)
    n = max(shortlist, wide) if outside else shortlist
    if outside:
        log(f"the photo lies outside the library's samples (descriptor distance {ranked[0].descriptor_score:.2f} > "
            f"{limit:.2f}, where {FAMILIAR_QUANTILE:.0%} of them lie): ranking the {min(n, len(ranked))} nearest "
            f"by the patch SWD of a short fit")
    head, tail = ranked[:n], ranked[n:]
    for c in head:
        c.short_loss, c.graph, c.render = short_fit(start_graph(by_name[c.name], index, c.sample), photo, config, features)
        c.short_swd = short_fit_swd(c.render, photo)
        log(f"short fit {c.name}: descriptor distance {c.descriptor_score:.3f}, loss {c.short_loss:.4f}, "
            f"patch SWD {c.short_swd:.2f}")
    if outside:
        head.sort(key=lambda c: c.short_swd)
        for c in head:
            c.ranked_by = "patch_swd"
    return head + tail
