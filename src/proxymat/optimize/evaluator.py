"""The optimizer's evaluator: the run's parameter vector, and its loss and render with the real
generators or through the proxies.

One :class:`Evaluator` serves every stage of a run. It owns the parameter
vector: the current graph (:attr:`Evaluator.graph`), whose normalized values in
its :class:`~proxymat.param_space.ParamSpace` the stages read
(:meth:`Evaluator.values`) and write (:meth:`Evaluator.set_values`), with what
bounds them: the graph's free ranges (:mod:`.free`) and the generators'
sampling boxes (:meth:`Evaluator.generator_bounds`). It also holds the starting
graph, the run's search RNG, the loss against the target and the proxies; says
which generator nodes of a graph a proxy fits; renders graphs with the real
generators (remembering the last few, so a stage's start, which is the previous
stage's end, is rendered once) and values through a compiled program
(:meth:`Evaluator.render_values`); and gives the generator hooks that
:meth:`proxymat.program.Program.evaluate` calls: the real generators, or each
node's proxy where it has one (whose outputs for the same inputs, evaluated without gradients,
it remembers for the last few batches). Graphs are compiled once per evaluation
(:meth:`proxymat.graph.Graph.compile`); the stages' loops compile theirs once
per loop.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import torch
import torch.nn.functional as F

from ..graph import Graph, Ref
from ..nodes.generators.base import GeneratorSpec
from ..program import Program
from ..render import Renderer
from .config import DIRECT_WHERE_NO_PROXY, MOVES_DIRECT, STRAIGHT_THROUGH, OptimizeConfig
from .free import allows, free_bounds, intersect, restrict
from .loss import MaterialLoss
from .records import Log, Values

MEMO_SIZE = 4  # real-generator renders remembered
PROXY_MEMO_SIZE = 24  # proxy outputs remembered (batches evaluated without gradients)


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


class Evaluator:
    """The parameter vector of a run and its loss and renders against one target (see the module docstring)."""

    def __init__(self, graph: Graph, target: torch.Tensor, config: OptimizeConfig, proxies: Mapping[str, ProxyLike],
                 device: torch.device, log: Log):
        self.free = free_bounds(graph)  # None: every parameter moves; else only these keys, within their ranges
        self.graph = graph.copy()  # the current values: the run's parameter vector
        self.initial = graph.copy()
        self.config = config
        self.device = device
        self.log = log
        self.target = target
        self.loss: Any = MaterialLoss(target, config.loss)  # a MaterialLoss (or a stand-in with its calls)
        self.proxies = dict(proxies)
        self.renderer = Renderer(config.render)
        self.rng = torch.Generator().manual_seed(config.seed)  # the random search's draws
        self._memo: dict[tuple[Any, ...], tuple[float, torch.Tensor]] = {}
        self._proxy_memo: dict[tuple[Any, ...], torch.Tensor] = {}
        self.proxy_nodes: dict[str, ProxyLike] = {}  # generator nodes of the current graph evaluated through a proxy
        self.direct_nodes: frozenset[str] = frozenset()  # generator nodes moved by autograd through the real generator
        self.refresh_proxies()

    # ------------------------------------------------------------ the parameter vector
    def values(self, which: str, graph: Graph | None = None) -> Values:
        """Normalized values of the current graph's (or ``graph``'s) ``"filters"`` or ``"generators"`` that
        an optimizer moves: the optimizable ones (:attr:`~proxymat.param_space.Entry.optimizable`), only
        the free ones when the graph declares ``free``."""
        return restrict((self.graph if graph is None else graph).normalized(which, optimizable_only=True), self.free)

    def keys(self, which: str) -> list[str]:
        """The keys of the current graph's :meth:`values` (``which``: ``"filters"``, ``"generators"`` or
        ``"all"``), in graph order."""
        return list(restrict(dict.fromkeys(self.graph.space().keys(which, optimizable_only=True)), self.free))

    def set_values(self, values: Mapping[str, torch.Tensor]) -> None:
        """Write normalized values into the current graph (discrete kinds rounded)."""
        self.graph.set_normalized(values)

    def with_values(self, values: Mapping[str, torch.Tensor]) -> Graph:
        """A copy of the current graph with ``values`` written."""
        graph = self.graph.copy()
        graph.set_normalized(values)
        return graph

    def generator_bounds(self) -> dict[str, tuple[float, float]]:
        """Normalized [lo, hi] of each generator parameter that moves: its sampling box (where proxies are
        trained; a parameter a proxy pins keeps the node's value), cut to the graph's free range."""
        space = self.graph.space()
        out = {}
        for key in self.keys("generators"):
            box = space.sampling_box(key, self.graph.value(key))
            out[key] = box if self.free is None else intersect(box, self.free[key])
        return out

    def category_trials(self, graph: Graph | None = None) -> list[tuple[str, Any]]:
        """:func:`category_trials` of the current graph (or ``graph``) that its free parameters allow."""
        graph = self.graph if graph is None else graph
        specs = graph.param_specs("generators")
        return [(k, v) for k, v in category_trials(graph) if allows(self.free, k, float(specs[k].normalize(v)[0]))]

    def count_trials(self) -> list[tuple[str, int]]:
        """``(key, value)`` for every integer generator parameter (a count: bricks per row, cells per side) of
        the current graph at its value plus and minus 1, 2, 4, ... (``config.sweep_counts`` steps each way),
        inside its sampling box and free range (:meth:`generator_bounds`); none when ``sweep_counts`` is 0."""
        graph = self.graph
        steps = [1 << j for j in range(max(int(self.config.sweep_counts), 0))]
        if not steps:
            return []
        specs = graph.param_specs("generators")
        out: list[tuple[str, int]] = []
        for key, box in self.generator_bounds().items():
            spec = specs.get(key)
            if spec is None or spec.kind != "int":
                continue
            now = int(round(float(graph.value(key))))
            first, last = spec.integer_range(box)
            out += [(key, value) for value in sorted({now + sign * d for d in steps for sign in (-1, 1)})
                    if first <= value <= last]
        return out

    def sweep_trials(self) -> list[tuple[str, Any]]:
        """The category sweep's trials of the current graph: :meth:`category_trials`, then :meth:`count_trials`
        (whose sampling boxes are the current graph's)."""
        return self.category_trials() + self.count_trials()

    def refresh_proxies(self, quiet: bool = False) -> None:
        """Set :attr:`proxy_nodes` to the proxies that fit the current graph (see :meth:`applicable_proxies`),
        and :attr:`direct_nodes` to its generator nodes that Stage II moves by direct gradients
        (:meth:`direct_generators`; those then use no proxy)."""
        applicable = self.applicable_proxies(self.graph, quiet)
        self.direct_nodes = self.direct_generators(self.graph, applicable)
        self.proxy_nodes = {k: v for k, v in applicable.items() if k not in self.direct_nodes}

    def usable_proxies(self, graph: Graph, quiet: bool = False) -> dict[str, ProxyLike]:
        """:meth:`applicable_proxies` of ``graph`` but for its direct nodes (:meth:`direct_generators`)."""
        applicable = self.applicable_proxies(graph, quiet)
        direct = self.direct_generators(graph, applicable)
        return {k: v for k, v in applicable.items() if k not in direct}

    def direct_generators(self, graph: Graph, applicable: Mapping[str, ProxyLike] | None = None) -> frozenset[str]:
        """Generator nodes of ``graph`` that Stage II moves by direct gradients: with ``gradients`` "direct" every
        node whose generator declares :attr:`~proxymat.nodes.generators.base.GeneratorSpec.direct` parameters,
        with "auto" or "straight+direct" those of them that no proxy fits (``applicable``: :meth:`applicable_proxies` of ``graph``,
        found here when None), with "proxy" none."""
        if self.config.gradients not in MOVES_DIRECT:
            return frozenset()
        declared = frozenset(name for name in graph.nodes
                             if isinstance(spec := graph.node_spec(name), GeneratorSpec) and spec.direct)
        if self.config.gradients in DIRECT_WHERE_NO_PROXY:
            fits = self.applicable_proxies(graph, quiet=True) if applicable is None else applicable
            return declared - set(fits)
        return declared

    def applicable_proxies(self, graph: Graph, quiet: bool = False) -> dict[str, ProxyLike]:
        """Generator nodes of ``graph`` whose proxy fits: the first of the generator's proxies
        (:func:`~.proxies.proxy_generator` of the keys of :attr:`proxies`) whose pinned parameters equal
        the node's values (``quiet``: do not log the nodes none of whose proxies fits)."""
        from .proxies import proxy_generator

        out: dict[str, ProxyLike] = {}
        for name, node in graph.nodes.items():
            spec = graph.node_spec(name)
            candidates = [(k, p) for k, p in self.proxies.items() if proxy_generator(k) == getattr(spec, "name", "")]
            clashes: list[str] = []
            for key, proxy in candidates:
                fixed = getattr(proxy, "fixed", None) or getattr(spec, "fixed", {})
                clash = [k for k, v in fixed.items()
                         if spec.param(k).to_numbers(node.params.get(k, spec.param(k).default))[0] != float(v)]
                if not clash:
                    out[name] = proxy
                    break
                pins = ", ".join(f"{k}={fixed[k]:g}" for k in clash)
                clashes.append(pins if len(candidates) == 1 else f"{pins} ({key})")
            if candidates and name not in out and not quiet:
                which = f"proxy for {spec.name!r} was" if len(candidates) == 1 else f"proxies for {spec.name!r} were"
                moves = ("autograd on its direct parameters, the random search and polish on the rest"
                         if self.config.gradients in MOVES_DIRECT and getattr(spec, "direct", ())
                         else "random search and polish only")
                self.log(f"{which} trained with {'; '.join(clashes)}; "
                         f"node {name!r} differs, so it uses the real generator ({moves})")
        return out

    # ------------------------------------------------------------ renders and losses
    def render_maps(self, maps: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.renderer(maps)

    def render_values(self, program: Program, values: Mapping[str, torch.Tensor], *, hook: Any = None,
                      frozen: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The render of ``program`` with ``values`` (normalized, batched or not) at the run's resolution and
        device; ``hook``: the generator hook (default the real generators), ``frozen``: fixed generator outputs."""
        return self.render_maps(program.evaluate(self.config.res, values, generator_hook=hook, frozen=frozen,
                                                 device=self.device))

    def real_outputs(self, program: Program) -> dict[str, torch.Tensor]:
        """Real generator outputs at the program's parameters (frozen inputs)."""
        return program.generator_outputs(self.config.res, self.device)

    def real_render(self, graph: Graph) -> torch.Tensor:
        """The render of ``graph`` with the real generators."""
        program = graph.compile()
        with torch.no_grad():
            return self.render_maps(program.evaluate(self.config.res, frozen=self.real_outputs(program), device=self.device))

    def real_eval(self, graph: Graph | None = None) -> tuple[float, torch.Tensor]:
        """Loss and render of ``graph`` (default: the current graph) with the real generators
        (:meth:`real_render`), remembered for the last :data:`MEMO_SIZE` graphs."""
        graph = self.graph if graph is None else graph
        key = graph_key(graph)
        if key not in self._memo:
            with torch.no_grad():
                img = self.real_render(graph)
                self._memo[key] = (float(self.loss(img)), img)
            while len(self._memo) > MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
        return self._memo[key]

    def real_loss(self, graph: Graph | None = None) -> float:
        """Real-generator loss of ``graph`` (default: the current graph)."""
        return self.real_eval(graph)[0]

    def values_loss(self, values: Mapping[str, torch.Tensor]) -> float:
        """Real-generator loss of the current graph with ``values`` (normalized) written."""
        return self.real_loss(self.with_values(values))

    # ------------------------------------------------------------ generator hooks
    @staticmethod
    def real_hook(name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                  res: int, seed: int) -> torch.Tensor:
        """Generator hook that always runs the real generator (batched candidates)."""
        return spec({k: v.detach() for k, v in real.items()}, res, seed)

    def proxy_hook(self, name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                   res: int, seed: int) -> torch.Tensor:
        """Generator hook that runs the node's proxy (with gradients "straight": the real generator's output
        carrying the proxy's gradient), the real generator with gradients for a direct node, or the real
        generator where it has neither."""
        if name in self.direct_nodes:  # gradients reach the declared direct parameters only
            return spec({k: v if k in spec.direct else v.detach() for k, v in real.items()}, res, seed, grad=True)
        proxy = self.proxy_nodes.get(name)
        if proxy is None:
            return self.real_hook(name, spec, real, norm, res, seed)
        p = torch.stack([norm[n] for n in proxy.param_names], dim=-1)
        if torch.is_grad_enabled():
            out = self._run_proxy(proxy, p, res)
            if self.config.gradients in STRAIGHT_THROUGH:  # the real output forward, the proxy's slope backward
                return self.real_hook(name, spec, real, norm, res, seed) + (out - out.detach())
            return out
        # Without gradients, the same inputs give the same output: the search scores every candidate batch
        # with two sets of filters, and the proxies see only the generator parameters.
        key = (name, id(proxy), res, seed, tuple(p.shape), str(p.device), p.detach().cpu().numpy().tobytes())
        out = self._proxy_memo.get(key)
        if out is None:
            out = self._run_proxy(proxy, p.detach(), res)
            self._proxy_memo[key] = out
            while len(self._proxy_memo) > PROXY_MEMO_SIZE:
                self._proxy_memo.pop(next(iter(self._proxy_memo)))
        return out

    @staticmethod
    def _run_proxy(proxy: ProxyLike, p: torch.Tensor, res: int) -> torch.Tensor:
        """The proxy's output for inputs ``p`` at ``res`` pixels (bilinear resize when it renders another size)."""
        out = proxy(p)
        if out.shape[-1] != res:
            out = F.interpolate(out, size=(res, res), mode="bilinear", align_corners=False)
        return out
