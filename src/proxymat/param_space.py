"""A graph's parameters as one space: keys, kinds, the normalized box, discreteness, the proxies' sampling box.

Every optimizer works in the normalized space: each parameter ``"node.param"``
is a vector of :attr:`~proxymat.params.ParamSpec.size` values in [0, 1]. A
:class:`ParamSpace` lists the parameters of a graph in graph order (nodes as
they were added, each node's parameters in spec order) and answers what the
optimizers ask of them: which are generator parameters, which can gradient
descent move, the grid step of the discrete ones, and the box a generator's
proxy was trained on. It holds no values; :class:`~proxymat.program.Program`
and :class:`~proxymat.graph.Graph` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import torch

from .nodes.generators.base import GeneratorSpec
from .nodes.registry import AnySpec, is_generator
from .params import ParamSpec

WHICH = ("all", "filters", "generators")


@dataclass(frozen=True)
class Entry:
    """One parameter of the space: its key, node, spec and, for a generator's parameter, the generator."""

    key: str
    node: str
    spec: ParamSpec
    generator: GeneratorSpec | None  # None: a filter node's parameter

    @property
    def optimizable(self) -> bool:
        """True when an optimizer moves it: every generator parameter (proxies treat discrete ones as
        continuous) and the differentiable filter parameters."""
        return self.generator is not None or self.spec.differentiable


class ParamSpace:
    """The parameters of a graph's nodes (``{node name: node spec}`` in graph order)."""

    def __init__(self, node_specs: Mapping[str, AnySpec]):
        entries: dict[str, Entry] = {}
        for name, spec in node_specs.items():
            gen = spec if is_generator(spec) else None
            for p in spec.params:
                entries[f"{name}.{p.name}"] = Entry(f"{name}.{p.name}", name, p, gen)  # type: ignore[arg-type]
        self.entries = entries

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def keys(self, which: str = "all", optimizable_only: bool = False) -> list[str]:
        """Keys of the filter, generator or all parameters, in graph order (``optimizable_only``: those an
        optimizer moves, see :attr:`Entry.optimizable`)."""
        if which not in WHICH:
            raise ValueError(f"which must be all, filters or generators, not {which!r}")
        return [k for k, e in self.entries.items()
                if (which == "all" or (which == "generators") == (e.generator is not None))
                and (not optimizable_only or e.optimizable)]

    def specs(self, which: str = "all") -> dict[str, ParamSpec]:
        """``{"node.param": spec}`` of :meth:`keys`."""
        return {k: self.entries[k].spec for k in self.keys(which)}

    def size(self, keys: list[str] | None = None) -> int:
        """Number of normalized values of ``keys`` (default: all)."""
        return sum(self.entries[k].spec.size for k in (self.entries if keys is None else keys))

    def grid_step(self, key: str) -> float:
        """Normalized distance between neighbouring values of a discrete parameter (0: continuous)."""
        p = self.entries[key].spec
        if not p.discrete:
            return 0.0
        span = p.high - p.low
        return 1.0 / span if span > 0 else 1.0

    def sampling_box(self, key: str, value: Any) -> tuple[float, float]:
        """Normalized ``(lo, hi)`` of a generator parameter's sampling box (where its proxy was trained);
        a parameter the proxy pins keeps ``value``, the node's own real value."""
        e = self.entries[key]
        if e.generator is None:
            raise KeyError(f"{key!r} is not a generator parameter")
        p = e.spec
        lo, hi = e.generator.sample_box.get(p.name, (p.low, p.high))
        if p.name in e.generator.fixed:
            lo = hi = p.to_numbers(value)[0]
        u = p.normalize_tensor(torch.tensor([float(lo), float(hi)], dtype=torch.float64)).clamp(0, 1).tolist()
        return (u[0], u[1])
