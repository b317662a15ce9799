"""Material graphs: a DAG of filter and generator nodes producing SVBRDF maps.

A :class:`Graph` is built in Python (:meth:`Graph.add`, :meth:`Graph.set_output`)
or loaded from JSON (:meth:`Graph.load`, format in docs/graph-format.md). It is
validated on load and before evaluation, evaluated in topological order by
:meth:`Graph.evaluate` (or compiled once by :meth:`Graph.compile` into a
:class:`~proxymat.program.Program` that is evaluated many times), and saved
with its current parameter values by :meth:`Graph.save`.

Parameters are addressed by keys ``"node.param"``. Optimizers pass normalized
tensors for some keys through ``overrides``; everything else comes from the
values stored in the graph.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .atomic import atomic_write_text
from .graph_core import MAP_CHANNELS, MAP_DEFAULTS, REQUIRED_MAPS, GraphError, Node, NodeHandle, Output, Ref
from .graph_free import FreeRanges, check_free, free_to_json, parse_category, parse_free
from .nodes.generators.base import GeneratorSpec
from .nodes.registry import AnySpec, is_generator, lookup
from .param_space import ParamSpace
from .params import ParamError, ParamSpec
from .program import GeneratorHook, Program
from .resolution import GRAPH_RES

FORMAT = "proxymat-graph"
VERSION = 1
MAX_SEED = 2**31 - 1  # |seed| bound: graph and node seeds are combined and hashed as int64
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
__all__ = ["FORMAT", "VERSION", "MAP_CHANNELS", "MAP_DEFAULTS", "REQUIRED_MAPS", "MAX_SEED", "Graph", "GraphError",
           "GeneratorHook", "Node", "NodeHandle", "Program", "Ref", "spec_name"]


def _spec_params(spec: AnySpec) -> tuple[ParamSpec, ...]:
    return spec.params


def _spec_outputs(spec: AnySpec) -> tuple[str, ...]:
    return ("output",) if is_generator(spec) else spec.outputs  # type: ignore[union-attr]


def _spec_inputs(spec: AnySpec) -> tuple:
    return () if is_generator(spec) else spec.inputs  # type: ignore[union-attr]


class Graph:
    """A procedural material graph."""

    def __init__(self, name: str = "material", seed: int = 0, res: int = 256, description: str = "",
                 category: str = "") -> None:
        self.name = name
        self.description = description
        self.category = category
        self.free: FreeRanges = {}  # "node.param" -> (low, high) in real units (graph_free.py)
        self.seed = seed
        self.res = res
        self.nodes: dict[str, Node] = {}
        self.outputs: dict[str, Output] = {}

    # ------------------------------------------------------------- building
    def add(self, type: str, name: str | None = None, *, seed: int = 0, **kwargs: Any) -> NodeHandle:
        """Add a node. Keyword arguments naming input ports are wired (a handle,
        a :class:`Ref` or ``"node:port"``); the others set parameters."""
        try:
            spec = lookup(type)
        except KeyError as err:
            raise GraphError(str(err.args[0])) from None
        if name is None:
            k = 1
            while f"{type}_{k}" in self.nodes:
                k += 1
            name = f"{type}_{k}"
        if name in self.nodes:
            raise GraphError(f"node {name!r} already exists")
        ports = {p.name for p in _spec_inputs(spec)}
        inputs = {k: Ref.parse(v, f"node {name!r} input {k!r}") for k, v in kwargs.items() if k in ports}
        params = {k: v for k, v in kwargs.items() if k not in ports}
        self.nodes[name] = Node(name, type, inputs, params, seed)
        self._check_node(self.nodes[name], spec, require_inputs=False)
        return NodeHandle(name)

    def connect(self, node: str, port: str, source: Ref | str) -> None:
        """Wire ``source`` into input ``port`` of ``node``."""
        self.nodes[node].inputs[port] = Ref.parse(source, f"node {node!r} input {port!r}")

    def set_param(self, node: str, param: str, value: Any) -> None:
        """Set a real parameter value (validated)."""
        if node not in self.nodes:
            raise GraphError(f"unknown node {node!r}")
        spec = lookup(self.nodes[node].type)
        try:
            p = next(p for p in _spec_params(spec) if p.name == param)
        except StopIteration:
            raise GraphError(f"node {node!r} ({spec_name(spec)}) has no parameter {param!r}") from None
        self.nodes[node].params[param] = _validate_param(p, value, f"node {node!r}")

    def set_output(self, map_name: str, source: Ref | str | float | Iterable[float]) -> None:
        """Route a node output (or a constant) to a material map."""
        if map_name not in MAP_CHANNELS:
            raise GraphError(f"unknown output map {map_name!r}; expected one of {list(MAP_CHANNELS)}")
        self.outputs[map_name] = _parse_output(source, f"output {map_name!r}")

    # ------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`GraphError` describing the first problem found."""
        if not self.nodes:
            raise GraphError("graph has no nodes")
        for node in self.nodes.values():
            self._check_node(node, self._spec(node), require_inputs=True)
        for map_name in self.outputs:
            if map_name not in MAP_CHANNELS:
                raise GraphError(f"unknown output map {map_name!r}; expected one of {list(MAP_CHANNELS)}")
        missing = [m for m in REQUIRED_MAPS if m not in self.outputs]
        if missing:
            raise GraphError(f"graph is missing output(s) {missing} (a constant number is allowed)")
        for map_name, src in self.outputs.items():
            if isinstance(src, Ref):
                self._check_ref(src, f"output {map_name!r}")
        try:
            check_free(self.free, self.param_specs())
        except ValueError as err:
            raise GraphError(str(err)) from None
        self.order()

    def _spec(self, node: Node) -> AnySpec:
        try:
            return lookup(node.type)
        except KeyError as err:
            raise GraphError(f"node {node.name!r}: {err.args[0]}") from None

    def _check_node(self, node: Node, spec: AnySpec, require_inputs: bool) -> None:
        if not _NAME_RE.fullmatch(node.name):
            raise GraphError(f"invalid node name {node.name!r}: use letters, digits and underscores")
        ports = {p.name: p for p in _spec_inputs(spec)}
        for port, ref in node.inputs.items():
            if port not in ports:
                known = ", ".join(ports) or "none"
                raise GraphError(f"node {node.name!r} ({node.type}) has no input {port!r} (inputs: {known})")
            if require_inputs:
                self._check_ref(ref, f"node {node.name!r} input {port!r}")
        if require_inputs:
            for p in ports.values():
                if not p.optional and p.name not in node.inputs:
                    raise GraphError(f"node {node.name!r} ({node.type}) is missing required input {p.name!r}")
        pspecs = {p.name: p for p in _spec_params(spec)}
        for k, v in node.params.items():
            if k not in pspecs:
                known = ", ".join(pspecs) or "none"
                raise GraphError(f"node {node.name!r} ({node.type}) has no parameter {k!r} (parameters: {known})")
            node.params[k] = _validate_param(pspecs[k], v, f"node {node.name!r}")
        if not _is_seed(node.seed):
            raise GraphError(f"node {node.name!r}: seed must be an integer in -{MAX_SEED}..{MAX_SEED}, got {_short(node.seed)}")

    def _check_ref(self, ref: Ref, where: str) -> None:
        if ref.node not in self.nodes:
            raise GraphError(f"{where} refers to unknown node {ref.node!r}")
        outs = _spec_outputs(self._spec(self.nodes[ref.node]))
        if ref.port not in outs:
            raise GraphError(f"{where} refers to unknown output {ref.port!r} of node {ref.node!r} (outputs: {', '.join(outs)})")

    def order(self) -> list[str]:
        """Node names in topological order; raises GraphError naming a cycle."""
        state: dict[str, int] = {}
        out: list[str] = []
        for start in self.nodes:
            if state.get(start):
                continue
            stack: list[tuple[str, Iterable[str]]] = [(start, iter(r.node for r in self.nodes[start].inputs.values()))]
            path = [start]
            state[start] = 1
            while stack:
                name, deps = stack[-1]
                dep = next(deps, None)
                if dep is None:
                    stack.pop()
                    path.pop()
                    state[name] = 2
                    out.append(name)
                    continue
                if dep not in self.nodes:
                    raise GraphError(f"node {name!r} refers to unknown node {dep!r}")
                if state.get(dep) == 1:
                    cycle = path[path.index(dep):] + [dep]
                    raise GraphError(f"graph has a cycle: {' -> '.join(reversed(cycle))}")
                if not state.get(dep):
                    state[dep] = 1
                    path.append(dep)
                    stack.append((dep, iter(r.node for r in self.nodes[dep].inputs.values())))
        return out

    # ------------------------------------------------------------ parameters
    def param_specs(self, which: str = "all") -> dict[str, ParamSpec]:
        """``{"node.param": spec}`` for filters, generators or all nodes (graph order; :meth:`space`)."""
        return self.space().specs(which)

    def value(self, key: str) -> Any:
        """Real value of ``"node.param"`` (the stored one or the default)."""
        node, p = self._key(key)
        return self.nodes[node].params.get(p.name, p.default)

    def _key(self, key: str) -> tuple[str, ParamSpec]:
        node, _, pname = key.partition(".")
        if node not in self.nodes:
            raise GraphError(f"unknown node in parameter key {key!r}")
        spec = self._spec(self.nodes[node])
        for p in _spec_params(spec):
            if p.name == pname:
                return node, p
        raise GraphError(f"unknown parameter in key {key!r}")

    def normalized(self, which: str = "all", optimizable_only: bool = False) -> dict[str, torch.Tensor]:
        """Current values as normalized float32 tensors ``(size,)`` keyed ``"node.param"``, for the keys
        :meth:`~proxymat.param_space.ParamSpace.keys` of :meth:`space` gives (``optimizable_only``: the
        generator parameters and the differentiable filter parameters)."""
        space = self.space()
        return {k: space.entries[k].spec.normalize(self.value(k)) for k in space.keys(which, optimizable_only)}

    def set_normalized(self, values: Mapping[str, torch.Tensor]) -> None:
        """Write normalized values back as real values (discrete kinds rounded)."""
        for key, t in values.items():
            node, p = self._key(key)
            self.nodes[node].params[p.name] = p.denormalize(t.detach().reshape(-1).cpu())

    # ------------------------------------------------------------ evaluation
    def compile(self) -> Program:
        """Validate the graph and freeze it into a :class:`~proxymat.program.Program` for evaluation
        (edits of the graph made afterwards do not reach the program)."""
        self.validate()
        return self._program()

    def _program(self) -> Program:
        specs = {name: self._spec(node) for name, node in self.nodes.items()}
        return Program(self.nodes, specs, self.order(), self.outputs, self.seed, self.res, ParamSpace(specs))

    def space(self) -> ParamSpace:
        """The graph's parameters as a :class:`~proxymat.param_space.ParamSpace`."""
        return ParamSpace({name: self._spec(node) for name, node in self.nodes.items()})

    def node_spec(self, name: str) -> AnySpec:
        """The spec (filter node spec or generator spec) of node ``name``."""
        if name not in self.nodes:
            raise GraphError(f"unknown node {name!r}")
        return self._spec(self.nodes[name])

    def evaluate(
        self,
        res: int | None = None,
        overrides: Mapping[str, torch.Tensor] | None = None,
        *,
        generator_hook: GeneratorHook | None = None,
        frozen: Mapping[str, torch.Tensor] | None = None,
        device: torch.device | str = "cpu",
    ) -> dict[str, torch.Tensor]:
        """Validate and evaluate the graph to SVBRDF maps (see :meth:`proxymat.program.Program.evaluate`);
        to evaluate one graph many times, :meth:`compile` it once."""
        res = int(res or self.res)
        if not GRAPH_RES.accepts(res):
            raise GraphError(f"resolution {res} outside {GRAPH_RES.lo}..{GRAPH_RES.hi}")
        return self.compile().evaluate(res, overrides, generator_hook=generator_hook, frozen=frozen, device=device)

    def generator_inputs(self, name: str, overrides: Mapping[str, torch.Tensor] | None = None, batch: int = 1,
                         device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Real-unit ``(B,)`` and normalized ``(B,)`` parameter tensors of a generator node."""
        return self._program().generator_inputs(name, overrides, batch, device)

    def generator_seed(self, name: str) -> int:
        """The seed a generator node is evaluated with (graph seed combined with the node's)."""
        return self.seed * 1000003 + self.nodes[name].seed

    def generator_outputs(self, res: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Real outputs of every generator node at the current parameters (for ``frozen``)."""
        return self._program().generator_outputs(res, device)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description with every parameter value written out."""
        nodes = {}
        for node in self.nodes.values():
            spec = self._spec(node)
            d: dict[str, Any] = {"type": node.type}
            if node.inputs:
                d["inputs"] = {k: str(v) for k, v in node.inputs.items()}
            params = {p.name: node.params.get(p.name, p.default) for p in _spec_params(spec)}
            if params:
                d["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
            if node.seed:
                d["seed"] = node.seed
            nodes[node.name] = d
        outputs = {k: (str(v) if isinstance(v, Ref) else (list(v) if isinstance(v, tuple) else v)) for k, v in self.outputs.items()}
        head: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name}
        if self.description:
            head["description"] = self.description
        if self.category:
            head["category"] = self.category
        tail: dict[str, Any] = {"free": free_to_json(self.free)} if self.free else {}
        return {**head, "seed": self.seed, "res": self.res, "nodes": nodes, "outputs": outputs, **tail}

    @classmethod
    def from_dict(cls, data: Any) -> "Graph":
        """Build and validate a graph from parsed JSON."""
        if not isinstance(data, dict):
            raise GraphError("graph file must contain a JSON object")
        if data.get("format", FORMAT) != FORMAT:
            raise GraphError(f"not a proxymat graph (format {data.get('format')!r})")
        version = data.get("version", VERSION)
        if version != VERSION:
            raise GraphError(f"unsupported graph version {version!r} (this proxymat reads version {VERSION})")
        unknown = set(data) - {"format", "version", "name", "seed", "res", "nodes", "outputs", "description",
                               "category", "free"}
        if unknown:
            raise GraphError(f"unknown top-level key(s) {sorted(unknown)}")
        seed = data.get("seed", 0)
        res = data.get("res", 256)
        if not _is_seed(seed):
            raise GraphError(f"'seed' must be an integer in -{MAX_SEED}..{MAX_SEED}, got {_short(seed)}")
        if not GRAPH_RES.accepts(res):
            raise GraphError(f"'res' must be an integer in {GRAPH_RES.lo}..{GRAPH_RES.hi}, got {res!r}")
        name = data.get("name", "material")
        description = data.get("description", "")
        if not isinstance(name, str) or not isinstance(description, str):
            raise GraphError("'name' and 'description' must be strings")
        try:
            category = parse_category(data.get("category", ""))
            free = parse_free(data.get("free", {}))
        except ValueError as err:
            raise GraphError(str(err)) from None
        g = cls(name=name, seed=seed, res=res, description=description, category=category)
        g.free = free
        nodes = data.get("nodes")
        if not isinstance(nodes, dict) or not nodes:
            raise GraphError("'nodes' must be a non-empty object mapping node names to nodes")
        for nname, nd in nodes.items():
            if not isinstance(nd, dict):
                raise GraphError(f"node {nname!r} must be an object")
            extra = set(nd) - {"type", "inputs", "params", "seed"}
            if extra:
                raise GraphError(f"node {nname!r}: unknown key(s) {sorted(extra)}")
            ntype = nd.get("type")
            if not isinstance(ntype, str):
                raise GraphError(f"node {nname!r}: 'type' must be a string")
            inputs = nd.get("inputs", {})
            params = nd.get("params", {})
            if not isinstance(inputs, dict):
                raise GraphError(f"node {nname!r}: 'inputs' must be an object")
            if not isinstance(params, dict):
                raise GraphError(f"node {nname!r}: 'params' must be an object")
            node = Node(str(nname), ntype, {k: Ref.parse(v, f"node {nname!r} input {k!r}") for k, v in inputs.items()},
                        dict(params), nd.get("seed", 0))
            g.nodes[node.name] = node
            g._check_node(node, g._spec(node), require_inputs=False)
        outputs = data.get("outputs")
        if not isinstance(outputs, dict):
            raise GraphError("'outputs' must be an object mapping map names (basecolor, normal, ...) to node outputs")
        for map_name, src in outputs.items():
            if map_name not in MAP_CHANNELS:
                raise GraphError(f"unknown output map {map_name!r}; expected one of {list(MAP_CHANNELS)}")
            g.outputs[map_name] = _parse_output(src, f"output {map_name!r}")
        g.validate()
        return g

    @classmethod
    def loads(cls, text: str) -> "Graph":
        """Parse JSON text (NaN/Infinity rejected) into a validated graph."""
        def reject(const: str) -> Any:
            raise GraphError(f"invalid number {const} in graph JSON")
        try:
            data = json.loads(text, parse_constant=reject)
        except json.JSONDecodeError as err:
            raise GraphError(f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
        except RecursionError:
            raise GraphError("invalid JSON: nested too deeply") from None
        except ValueError as err:  # e.g. an integer longer than Python's int-parsing limit
            raise GraphError(f"invalid JSON: {str(err).split(';')[0]}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Graph":
        """Load a graph file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")  # tolerate a byte-order mark (Windows editors)
        except FileNotFoundError:
            raise GraphError(f"graph file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise GraphError(f"cannot read graph file {p}: {err}") from None
        try:
            return cls.loads(text)
        except GraphError as err:
            raise GraphError(f"{p}: {err}") from None

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the graph atomically (temporary file, then rename)."""
        p = Path(path)
        text = self.dumps()
        atomic_write_text(p, text)
        return p

    def copy(self) -> "Graph":
        return Graph.from_dict(json.loads(self.dumps()))


def _is_seed(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_SEED <= value <= MAX_SEED


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters (huge numbers stay readable in one-line errors)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's int-to-str digit limit
        return f"<integer of {value.bit_length()} bits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _validate_param(p: ParamSpec, value: Any, where: str) -> Any:
    """``p.validate`` with every failure (also numbers too large for a float) as GraphError."""
    try:
        return p.validate(value)
    except ParamError as err:
        raise GraphError(f"{where}: {_shorten_message(str(err))}") from None
    except (OverflowError, ValueError):  # a float() overflow, or repr() of an int with > 4300 digits
        raise GraphError(f"{where}: parameter {p.name!r} ({p.kind}): number {_short(value)} is too large") from None


def _shorten_message(msg: str, limit: int = 300) -> str:
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def spec_name(spec: AnySpec) -> str:
    return spec.name if isinstance(spec, GeneratorSpec) else spec.type


def _parse_output(src: Any, where: str) -> Output:
    if isinstance(src, (Ref, str)):
        return Ref.parse(src, where)
    if isinstance(src, bool):
        raise GraphError(f"{where}: expected a node reference or a number, got {src!r}")
    if isinstance(src, (int, float)):
        v = _as_float(src)
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise GraphError(f"{where}: constant {_short(src)} must be a finite number in [0, 1]")
        return v
    if isinstance(src, (list, tuple)) and len(src) in (1, 3) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in src):
        vals = tuple(_as_float(x) for x in src)
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals):
            raise GraphError(f"{where}: constants must be finite numbers in [0, 1]")
        return vals
    raise GraphError(f"{where}: expected a node reference like 'node' or 'node:port', or a constant, got {_short(src)}")


def _as_float(x: int | float) -> float:
    """``float(x)``, with integers too large for a float mapped to infinity."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf
