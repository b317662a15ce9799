"""The optimizer's evaluator: a graph's loss and render with the real generators or through the proxies.

One :class:`Evaluator` serves every stage of a run. It holds the loss against
the target and the proxies, says which generator nodes of a graph a proxy fits,
renders graphs with the real generators (remembering the last few, so a stage's
start, which is the previous stage's end, is rendered once), and gives the
generator hooks that :meth:`proxymat.program.Program.evaluate` calls: the real
generators, or each node's proxy where it has one. Graphs are compiled once per
evaluation (:meth:`proxymat.graph.Graph.compile`); the stages' loops compile
theirs once per loop.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

import torch
import torch.nn.functional as F

from ..graph import Graph, Ref
from ..nodes.generators.base import GeneratorSpec
from ..program import Program
from ..render import render
from .config import OptimizeConfig
from .loss import MaterialLoss
from .records import Log

MEMO_SIZE = 4  # real-generator renders remembered


class ProxyLike(Protocol):
    """What Stage II needs of a proxy: parameter order and a differentiable forward."""

    param_names: list[str]

    def __call__(self, p: torch.Tensor) -> torch.Tensor: ...


def graph_key(graph: Graph) -> tuple[Any, ...]:
    """What a graph's render depends on, as a hashable key (seed, nodes with every parameter value, outputs)."""
    nodes = tuple((n.name, n.type, n.seed, tuple(sorted((k, str(v)) for k, v in n.inputs.items())),
                   tuple((p.name, repr(n.params.get(p.name, p.default))) for p in graph.node_spec(n.name).params))
                  for n in graph.nodes.values())
    return graph.seed, nodes, tuple(sorted((k, repr(v) if not isinstance(v, Ref) else str(v))
                                           for k, v in graph.outputs.items()))


class Evaluator:
    """Loss and renders of graphs against one target (see the module docstring)."""

    def __init__(self, target: torch.Tensor, config: OptimizeConfig, proxies: Mapping[str, ProxyLike],
                 device: torch.device, log: Log):
        self.config = config
        self.device = device
        self.log = log
        self.loss: Any = MaterialLoss(target, config.loss)  # a MaterialLoss (or a stand-in with its calls)
        self.proxies = dict(proxies)
        self.proxy_nodes: dict[str, ProxyLike] = {}
        self._memo: dict[tuple[Any, ...], tuple[float, torch.Tensor]] = {}

    def applicable_proxies(self, graph: Graph, quiet: bool = False) -> dict[str, ProxyLike]:
        """Generator nodes of ``graph`` whose proxy fits: the proxy's pinned parameters equal the node's
        values (``quiet``: do not log the nodes whose proxy does not fit)."""
        out: dict[str, ProxyLike] = {}
        for name, node in graph.nodes.items():
            spec = graph.node_spec(name)
            proxy = self.proxies.get(getattr(spec, "name", ""))
            if proxy is None:
                continue
            fixed = getattr(proxy, "fixed", None) or getattr(spec, "fixed", {})
            clash = [k for k, v in fixed.items()
                     if spec.param(k).to_numbers(node.params.get(k, spec.param(k).default))[0] != float(v)]
            if clash:
                if not quiet:
                    self.log(f"proxy for {spec.name!r} was trained with {', '.join(f'{k}={fixed[k]:g}' for k in clash)}; "
                             f"node {name!r} differs, so it uses the real generator (random search and polish only)")
                continue
            out[name] = proxy
        return out

    # ------------------------------------------------------------ real generators
    def render_maps(self, maps: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return render(maps, self.config.render)

    def real_outputs(self, program: Program) -> dict[str, torch.Tensor]:
        """Real generator outputs at the program's parameters (frozen inputs)."""
        return program.generator_outputs(self.config.res, self.device)

    def real_render(self, graph: Graph) -> torch.Tensor:
        """The render of ``graph`` with the real generators."""
        program = graph.compile()
        with torch.no_grad():
            return self.render_maps(program.evaluate(self.config.res, frozen=self.real_outputs(program), device=self.device))

    def real_eval(self, graph: Graph, render_with: Callable[[Graph], torch.Tensor] | None = None) -> tuple[float, torch.Tensor]:
        """Loss and render of the graph with the real generators (``render_with``: the render function,
        default :meth:`real_render`), remembered for the last :data:`MEMO_SIZE` graphs."""
        key = graph_key(graph)
        if key not in self._memo:
            with torch.no_grad():
                img = (render_with or self.real_render)(graph)
                self._memo[key] = (float(self.loss(img)), img)
            while len(self._memo) > MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
        return self._memo[key]

    # ------------------------------------------------------------ generator hooks
    @staticmethod
    def real_hook(name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                  res: int, seed: int) -> torch.Tensor:
        """Generator hook that always runs the real generator (batched candidates)."""
        return spec({k: v.detach() for k, v in real.items()}, res, seed)

    def proxy_hook(self, name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                   res: int, seed: int) -> torch.Tensor:
        """Generator hook that runs the node's proxy, or the real generator where it has none."""
        proxy = self.proxy_nodes.get(name)
        if proxy is None:
            return self.real_hook(name, spec, real, norm, res, seed)
        p = torch.stack([norm[n] for n in proxy.param_names], dim=-1)
        out = proxy(p)
        if out.shape[-1] != res:
            out = F.interpolate(out, size=(res, res), mode="bilinear", align_corners=False)
        return out
