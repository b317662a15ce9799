"""Find the shipped (or user-given) proxies for the generators a graph uses."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Collection, Mapping

import torch

from ..graph import Graph
from ..nodes.generators.base import GeneratorSpec
from ..proxy.weights import proxy_generator

__all__ = ["graph_generators", "load_graph_proxies", "proxy_generator", "shipped_variants"]


def shipped_variants(generator: str) -> list[str]:
    """The shipped proxy names of ``generator``: its own name first (when shipped), then its variants."""
    from ..proxy.weights import shipped_proxy_names

    names = shipped_proxy_names()
    return [n for n in names if n == generator] + [n for n in names if proxy_generator(n) == generator and n != generator]


def graph_generators(graph: Graph) -> dict[str, GeneratorSpec]:
    """Generator specs used by a graph, by generator name."""
    out = {}
    for node in graph.nodes.values():
        spec = graph.node_spec(node.name)
        if isinstance(spec, GeneratorSpec):
            out[spec.name] = spec
    return out


def load_graph_proxies(graph: Graph, extra: Mapping[str, str | Path] | None = None, device: torch.device | str = "cpu",
                       log: Callable[[str], None] = print, skip: Collection[str] = ()) -> dict[str, torch.nn.Module]:
    """Load the proxies of every generator of ``graph`` that has one: each shipped proxy of the generator,
    keyed by its name (``cells``, and variants with other pins such as ``cells@f1``; the optimizer gives
    each node the first whose pins match it).

    ``extra`` maps generator names to weight files that override the shipped ones;
    generators in ``skip`` get no proxy (``--no-proxy``). A shipped proxy whose recorded held-out
    fidelity is no better than a flat image is left out with a log line unless ``extra`` names it.
    Generators without a proxy are reported and later optimized by random search and the polish only.
    """
    from ..proxy.weights import ProxyWeightsError, load_proxy, resolve_weights

    proxies: dict[str, torch.nn.Module] = {}
    used = graph_generators(graph)
    for flag, names in (("--proxy", set(extra or {})), ("--no-proxy", set(skip))):
        unknown = sorted(names - set(used))
        if unknown:
            raise ProxyWeightsError(f"{flag} names generator(s) {unknown} that the graph does not use (it uses {sorted(used)})")
    clash = sorted(set(extra or {}) & set(skip))
    if clash:
        raise ProxyWeightsError(f"generator(s) {clash} given to both --proxy and --no-proxy")
    for name, spec in used.items():
        if name in skip:
            log(f"proxy for generator {name!r} turned off (--no-proxy)")
            continue
        if extra and name in extra:
            path = resolve_weights(extra[name])
            if not path.is_file():
                raise ProxyWeightsError(f"proxy weights not found: {path}")
            proxies[name] = load_proxy(path, device=device, spec=spec)
            continue
        variants = shipped_variants(name)
        if not variants:
            log(f"no trained proxy for generator {name!r}")
        for key in variants:
            proxy = load_proxy(resolve_weights(key), device=device, spec=spec)
            if proxy.below_flat_floor():
                m = proxy.metrics
                log(f"shipped proxy {key!r} not used: on held-out parameters it is no better than a "
                    f"flat image (L1 {m['l1']:.3f} vs {m['flat_l1']:.3f}, SSIM {m['ssim']:.2f} vs {m['flat_ssim']:.2f}); "
                    f"--proxy {name if key == name else f'{name}={key}'} uses it anyway")
                continue
            proxies[key] = proxy
    return proxies
