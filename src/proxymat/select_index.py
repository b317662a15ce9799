"""The retrieval index: descriptors of random samples of every library graph, and its staleness check.

For each graph, :func:`sample_graph` draws ``samples`` random parameter sets
inside the graph's free ranges (a graph without ``free`` gets a jitter of
+-:data:`JITTER` of each continuous parameter's range around its stored
values), each with its own graph seed, renders them at
:data:`~proxymat.descriptors.DESCRIPTOR_RES` and keeps their descriptors
(:mod:`proxymat.descriptors`), normalized parameters and seeds.
:func:`build_index` does every graph and fits the comparison
:class:`~proxymat.descriptors.Metric` to all their samples; :func:`save_index`
writes one safetensors file (descriptors and parameters in float16) whose
metadata records each graph file's SHA-256;
:func:`load_index` reads it back and :func:`check_index` names the graphs
whose file changed, appeared or is missing from it (a stale index).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .descriptors import BLOCKS, DESCRIPTOR_RES, SHRINK, Metric, describe
from .graph import Graph
from .optimize.free import free_bounds

INDEX_FORMAT = "proxymat-select-index"
INDEX_VERSION = 2
SAMPLES = 256
"""Random draws per graph in the shipped index: held-out top-1 rises from about 78 % at 16 draws to about 90 % at
256 (``proxymat bench select``); 256 draws of the 32 graphs take a few minutes to build and 1.5 MB to ship."""
JITTER = 0.1
"""Half-width (normalized) of the sampling box around a graph's values when it declares no ``free``."""
SAMPLES_PER_SEED = 4
"""Samples rendered in one batch; each batch has its own graph seed."""


class SelectIndexError(ValueError):
    """The index file cannot be used (unreadable, another format, other descriptor)."""


@dataclass(frozen=True)
class Entry:
    """One library graph as the selection sees it."""

    name: str
    category: str
    path: Path  # the graph JSON file
    thumbnail: Path | None = None

    def load(self) -> Graph:
        return Graph.load(self.path)


@dataclass
class GraphSamples:
    """A graph's samples in the index."""

    digest: str  # SHA-256 of the graph file
    keys: list[str]  # the sampled "node.param" keys, in the order of ``params``' columns
    sizes: list[int]  # normalized size of each key
    params: torch.Tensor  # (N, sum(sizes)) normalized values
    seeds: torch.Tensor  # (N,) int64 graph seeds
    descriptors: torch.Tensor  # (N, D)

    def values(self, i: int) -> dict[str, torch.Tensor]:
        """Sample ``i``'s normalized values ``{key: (size,)}``."""
        return dict(zip(self.keys, self.params[i].split(self.sizes)))


@dataclass
class Index:
    """Every graph's samples, and the metric their descriptors are compared in."""

    graphs: dict[str, GraphSamples]
    metric: Metric
    res: int = DESCRIPTOR_RES
    info: dict = field(default_factory=dict)


def library_entries() -> list[Entry]:
    """The graphs the selection ranks: the material library, or the bundled examples where there is none."""
    from importlib import resources
    from importlib.util import find_spec

    if find_spec("proxymat.library") is not None:
        from .library import list_materials

        return [Entry(m.name, m.category, m.graph_path, m.thumbnail_path if m.thumbnail_path.is_file() else None)
                for m in list_materials()]
    from .examples import list_examples

    folder = resources.files("proxymat.examples")
    return [Entry(name, "example", Path(str(folder / f"{name}.json"))) for name in list_examples()]


def default_index_path() -> Path:
    """Where the shipped index lives: next to the library's graphs (or the examples')."""
    from importlib import resources
    from importlib.util import find_spec

    package = "proxymat.library" if find_spec("proxymat.library") is not None else "proxymat.examples"
    return Path(str(resources.files(package) / "select_index.safetensors"))


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sample_space(graph: Graph) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Normalized per-component ``(lo, hi)`` of every sampled key: the free ranges, or a jitter of
    +-:data:`JITTER` around the stored values of every continuous parameter when there are none."""
    bounds = free_bounds(graph)
    specs = graph.param_specs("all")
    if bounds is not None:
        return {k: (torch.full((specs[k].size,), lo), torch.full((specs[k].size,), hi)) for k, (lo, hi) in bounds.items()}
    out = {}
    for key, now in graph.normalized("all", optimizable_only=True).items():
        if specs[key].discrete:
            continue
        out[key] = ((now - JITTER).clamp(0.0, 1.0), (now + JITTER).clamp(0.0, 1.0))
    return out


def render_samples(graph: Graph, keys: Sequence[str], params: torch.Tensor, sizes: Sequence[int],
                   seed: int, res: int) -> torch.Tensor:
    """Renders ``(B, 3, res, res)`` of ``graph`` with the normalized ``params`` (B, P) and graph ``seed``."""
    from .render import render

    g = graph.copy()
    g.seed = int(seed)
    overrides = dict(zip(keys, params.split(list(sizes), dim=1)))
    with torch.no_grad():
        return render(g.evaluate(res, overrides))


def sample_graph(graph: Graph, samples: int, seed: int, res: int = DESCRIPTOR_RES) -> tuple[list[str], list[int], torch.Tensor, torch.Tensor, torch.Tensor]:
    """``samples`` random draws of the graph's sampling space: (keys, sizes, params (N, P), seeds (N,),
    renders (N, 3, res, res)); the same ``seed`` gives the same draws."""
    space = sample_space(graph)
    keys = list(space)
    sizes = [int(space[k][0].numel()) for k in keys]
    gen = torch.Generator().manual_seed(int(seed))
    lo = torch.cat([space[k][0] for k in keys]) if keys else torch.zeros(0)
    hi = torch.cat([space[k][1] for k in keys]) if keys else torch.zeros(0)
    params = lo + (hi - lo) * torch.rand(samples, lo.numel(), generator=gen)
    seeds = torch.randint(0, 2**20, (samples,), generator=gen, dtype=torch.int64)
    renders = []
    for s in range(0, samples, SAMPLES_PER_SEED):
        seeds[s: s + SAMPLES_PER_SEED] = seeds[s]
        renders.append(render_samples(graph, keys, params[s: s + SAMPLES_PER_SEED], sizes, int(seeds[s]), res))
    return keys, sizes, params, seeds, torch.cat(renders)


def describe_graph(entry: Entry, samples: int, seed: int, res: int = DESCRIPTOR_RES) -> GraphSamples:
    """An entry's samples and their descriptors."""
    keys, sizes, params, seeds, renders = sample_graph(entry.load(), samples, seed, res)
    return GraphSamples(file_digest(entry.path), keys, sizes, params, seeds, describe(renders))


def build_index(entries: Sequence[Entry], samples: int = SAMPLES, seed: int = 0, res: int = DESCRIPTOR_RES,
                log: Callable[[str], None] = lambda s: None) -> Index:
    """The index of ``entries``: ``samples`` draws per graph (the draws of graph ``i`` use ``seed + i``)."""
    graphs: dict[str, GraphSamples] = {}
    for i, entry in enumerate(entries):
        graphs[entry.name] = describe_graph(entry, samples, seed + i, res)
        log(f"described {entry.name} ({i + 1} of {len(entries)})")
    metric = Metric.fit([g.descriptors for g in graphs.values()])
    return Index(graphs, metric, res, {"samples": samples, "seed": seed})


def save_index(index: Index, path: Path) -> Path:
    """Write ``index`` as one safetensors file (atomically); descriptors and parameters are stored in float16."""
    from safetensors.torch import save

    from .atomic import atomic_target

    tensors = {f"metric.{k}": getattr(index.metric, k).float().contiguous() for k in ("mean", "std", "whiten")}
    graphs = {}
    for name, g in index.graphs.items():
        tensors[f"params.{name}"] = g.params.half().contiguous()
        tensors[f"seeds.{name}"] = g.seeds.contiguous()
        tensors[f"descriptors.{name}"] = g.descriptors.half().contiguous()
        graphs[name] = {"sha256": g.digest, "keys": g.keys, "sizes": g.sizes}
    meta = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "res": index.res, "blocks": BLOCKS, "shrink": SHRINK,
            "graphs": graphs, **index.info}
    data = save(tensors, metadata={"index": json.dumps(meta)})
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def load_index(path: Path) -> Index:
    """Read an index written by :func:`save_index`; :class:`SelectIndexError` (one line) when it cannot be used."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("index", "{}"))
            if meta.get("format") != INDEX_FORMAT or meta.get("version") != INDEX_VERSION:
                raise SelectIndexError(f"{path} is not a proxymat selection index (version {INDEX_VERSION})")
            if meta.get("blocks") != BLOCKS or meta.get("shrink") != SHRINK:
                raise SelectIndexError(f"{path} was built with other descriptors; rebuild it")
            graphs = {name: GraphSamples(g["sha256"], list(g["keys"]), [int(s) for s in g["sizes"]],
                                         f.get_tensor(f"params.{name}").float(), f.get_tensor(f"seeds.{name}"),
                                         f.get_tensor(f"descriptors.{name}").float()) for name, g in meta["graphs"].items()}
            metric = Metric(*(f.get_tensor(f"metric.{k}").float() for k in ("mean", "std", "whiten")))
    except SelectIndexError:
        raise
    except FileNotFoundError:
        raise SelectIndexError(f"selection index not found: {path}") from None
    except Exception as err:  # safetensors raises several types for a damaged file
        raise SelectIndexError(f"cannot read selection index {path}: {' '.join(str(err).split()) or type(err).__name__}") from None
    info = {k: v for k, v in meta.items() if k not in ("format", "version", "res", "blocks", "shrink", "graphs")}
    return Index(graphs, metric, int(meta["res"]), info)


def check_index(index: Index, entries: Sequence[Entry]) -> list[str]:
    """Names of the entries the index does not describe as they are now (changed or missing graphs)."""
    return [e.name for e in entries if e.name not in index.graphs or index.graphs[e.name].digest != file_digest(e.path)]


def refresh_index(index: Index, entries: Sequence[Entry], stale: Sequence[str]) -> Index:
    """``index`` restricted to ``entries``, with the ``stale`` ones described again (same settings, same metric)."""
    samples, seed = int(index.info.get("samples", SAMPLES)), int(index.info.get("seed", 0))
    graphs = {}
    for i, e in enumerate(entries):
        graphs[e.name] = describe_graph(e, samples, seed + i, index.res) if e.name in stale else index.graphs[e.name]
    return Index(graphs, index.metric, index.res, index.info)
