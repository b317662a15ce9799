"""A compiled graph: validated once, then evaluated as often as needed.

:meth:`proxymat.graph.Graph.compile` checks the graph and freezes what its
evaluation needs (topological order, node specs, parameter values, output
routing) into a :class:`Program`. Optimizers evaluate the program at every step
with normalized parameter tensors in ``overrides``; the graph is neither
validated nor copied again. Later edits of the graph do not reach a program
compiled before them.

Parameters are addressed by keys ``"node.param"``; :attr:`Program.space` is the
graph's :class:`~proxymat.param_space.ParamSpace`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from .graph_core import MAP_CHANNELS, MAP_DEFAULTS, GraphError, Node, Output, Ref
from .nodes.generators.base import GeneratorSpec
from .nodes.registry import AnySpec, is_generator
from .nodes.spec import NodeSpec, as_channels
from .param_space import ParamSpace
from .resolution import GRAPH_RES

# A generator evaluator: (node name, spec, real-unit params (B,), normalized params (B, n), res, seed) -> (B,1,H,W)
GeneratorHook = Callable[[str, GeneratorSpec, dict[str, torch.Tensor], dict[str, torch.Tensor], int, int], torch.Tensor]


class Program:
    """A validated graph frozen for evaluation (build it with :meth:`proxymat.graph.Graph.compile`).

    ``nodes`` are copies of the graph's nodes, ``specs`` their node specs and ``order`` their
    topological order; ``seed`` and ``res`` are the graph's."""

    def __init__(self, nodes: Mapping[str, Node], specs: Mapping[str, AnySpec], order: list[str],
                 outputs: Mapping[str, Output], seed: int, res: int, space: ParamSpace):
        self.nodes = {name: Node(n.name, n.type, dict(n.inputs), dict(n.params), n.seed) for name, n in nodes.items()}
        self.specs = dict(specs)
        self.order = tuple(order)
        self.outputs = dict(outputs)
        self.seed = seed
        self.res = res
        self.space = space

    # ------------------------------------------------------------ parameters
    def check_key(self, key: str) -> None:
        """:class:`GraphError` unless ``key`` names a parameter ``"node.param"`` of the program."""
        node, _, pname = key.partition(".")
        if node not in self.nodes:
            raise GraphError(f"unknown node in parameter key {key!r}")
        if key not in self.space:
            raise GraphError(f"unknown parameter in key {key!r}")

    def generator_seed(self, name: str) -> int:
        """The seed a generator node is evaluated with (graph seed combined with the node's)."""
        return self.seed * 1000003 + self.nodes[name].seed

    def generator_inputs(self, name: str, overrides: Mapping[str, torch.Tensor] | None = None, batch: int = 1,
                         device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Real-unit ``(B,)`` and normalized ``(B,)`` parameter tensors of a generator node."""
        node = self.nodes[name]
        overrides = overrides or {}
        real: dict[str, torch.Tensor] = {}
        norm: dict[str, torch.Tensor] = {}
        for p in self.specs[name].params:
            key = f"{name}.{p.name}"
            if key in overrides:
                u = overrides[key].to(device).reshape(-1, 1)[:, 0]
            else:
                u = p.normalize(node.params.get(p.name, p.default)).to(device)
            u = u.expand(batch) if u.shape[0] == 1 else u
            norm[p.name] = u.clamp(0.0, 1.0)
            real[p.name] = p.denormalize_tensor(u.unsqueeze(-1))[..., 0]
        return real, norm

    def generator_outputs(self, res: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Real outputs of every generator node at the program's parameters (for ``frozen``)."""
        out = {}
        for name, spec in self.specs.items():
            if is_generator(spec):
                real, _ = self.generator_inputs(name, device=device)
                out[name] = spec(real, res, self.generator_seed(name))
        return out

    # ------------------------------------------------------------ evaluation
    def evaluate(
        self,
        res: int | None = None,
        overrides: Mapping[str, torch.Tensor] | None = None,
        *,
        generator_hook: GeneratorHook | None = None,
        frozen: Mapping[str, torch.Tensor] | None = None,
        device: torch.device | str = "cpu",
    ) -> dict[str, torch.Tensor]:
        """Evaluate to SVBRDF maps ``{basecolor, normal, roughness, metallic, height}``.

        ``overrides`` maps ``"node.param"`` to normalized tensors ``(size,)`` or
        batched ``(B, size)``; gradients flow through them. ``frozen`` maps
        generator node names to precomputed outputs (B,1,H,W) used as is.
        ``generator_hook`` replaces real generator calls (e.g. by proxies).
        """
        res = int(res or self.res)
        if not GRAPH_RES.accepts(res):
            raise GraphError(f"resolution {res} outside {GRAPH_RES.lo}..{GRAPH_RES.hi}")
        device = torch.device(device)
        overrides = dict(overrides or {})
        for key in overrides:
            self.check_key(key)
        batch = max([int(t.shape[0]) for t in overrides.values() if t.dim() == 2] + [1])
        values: dict[tuple[str, str], torch.Tensor] = {}
        for name in self.order:
            node = self.nodes[name]
            spec = self.specs[name]
            if is_generator(spec):
                if frozen is not None and name in frozen:
                    out = frozen[name].to(device)
                else:
                    out = self._run_generator(node, spec, res, overrides, generator_hook, device, batch)
                values[(name, "output")] = out
                continue
            kwargs = self._filter_kwargs(node, spec, overrides, device)
            for port in spec.inputs:
                ref = node.inputs.get(port.name)
                kwargs[port.name] = None if ref is None else as_channels(values[(ref.node, ref.port)], port.channels)
            if not spec.inputs:
                kwargs.update(res=res, batch=batch, device=device)
            result = spec.fn(**kwargs)
            if isinstance(result, torch.Tensor):
                result = {"output": result}
            for port in spec.outputs:
                values[(name, port)] = result[port]
        return self._collect_maps(values, res, device)

    def _filter_kwargs(self, node: Node, spec: NodeSpec, overrides: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for p in spec.params:
            key = f"{node.name}.{p.name}"
            if key in overrides and not p.discrete:
                t = p.denormalize_tensor(overrides[key].to(device))
                kwargs[p.name] = t[..., 0] if p.size == 1 else t
                continue
            v = p.denormalize(overrides[key].reshape(-1)[: p.size]) if key in overrides else node.params.get(p.name, p.default)
            if p.kind in ("int", "enum", "bool"):
                kwargs[p.name] = v
            elif p.size == 1:
                kwargs[p.name] = torch.tensor(float(v), dtype=torch.float32, device=device)
            else:
                kwargs[p.name] = torch.tensor([float(x) for x in v], dtype=torch.float32, device=device)
        return kwargs

    def _run_generator(self, node: Node, spec: GeneratorSpec, res: int, overrides: Mapping[str, torch.Tensor],
                       hook: GeneratorHook | None, device: torch.device, batch: int) -> torch.Tensor:
        real, norm = self.generator_inputs(node.name, overrides, batch, device)
        seed = self.generator_seed(node.name)
        if hook is not None:
            return hook(node.name, spec, real, norm, res, seed)
        return spec({k: v.detach() for k, v in real.items()}, res, seed)

    def _collect_maps(self, values: dict[tuple[str, str], torch.Tensor], res: int, device: torch.device) -> dict[str, torch.Tensor]:
        batch = max([int(v.shape[0]) for v in values.values()] + [1])
        maps: dict[str, torch.Tensor] = {}
        for map_name, channels in MAP_CHANNELS.items():
            src = self.outputs.get(map_name, MAP_DEFAULTS.get(map_name))
            if isinstance(src, Ref):
                img = values[(src.node, src.port)]
                img = as_channels(img, "color" if channels == 3 else "gray")
            else:
                vals = [float(src)] * channels if isinstance(src, (int, float)) else [float(x) for x in src]  # type: ignore[arg-type]
                if len(vals) == 1:
                    vals = vals * channels
                if len(vals) != channels:
                    raise GraphError(f"output {map_name!r}: constant needs {channels} value(s)")
                img = torch.tensor(vals, dtype=torch.float32, device=device).view(1, channels, 1, 1).expand(1, channels, res, res)
            if img.shape[-1] != res or img.shape[-2] != res:
                raise GraphError(f"output {map_name!r} has size {tuple(img.shape[-2:])}, expected {res}x{res}")
            maps[map_name] = img.expand(batch, -1, -1, -1).clamp(0.0, 1.0)
        return maps
