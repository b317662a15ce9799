"""A graph's parameters as one space: keys, kinds, the normalized box, discreteness, the proxies' sampling box.

Every optimizer works in the normalized space: each parameter ``"node.param"``
is a vector of :attr:`~proxymat.params.ParamSpec.size` values in [0, 1]. A
:class:`ParamSpace` lists the parameters of a graph (or of one generator,
:meth:`ParamSpace.of_generator`) in graph order (nodes as they were added, each
node's parameters in spec order) and answers what the optimizers, the
gradient-free baselines, the benchmarks and proxy training ask of them: which
are generator parameters, which can gradient descent move, the grid step of
the discrete ones, the box a generator's proxy is trained on
(:meth:`ParamSpace.real_box`, :meth:`ParamSpace.sampling_box`), draws in that
box (:meth:`ParamSpace.sample_real`, :meth:`ParamSpace.uniform`), and the
parameters as one vector: :class:`Layout` in normalized units, :class:`Box`
spanning the sampling box. It holds no values; :class:`~proxymat.program.Program`
and :class:`~proxymat.graph.Graph` do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Container, Iterator, Mapping, Sequence

import numpy as np
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


@dataclass(frozen=True)
class Layout:
    """Where each parameter lives in a vector ``x`` and which coordinates are discrete."""

    keys: tuple[str, ...]
    specs: tuple[ParamSpec, ...]
    slices: tuple[slice, ...]
    steps: np.ndarray  # (d,) grid step of discrete coordinates, 0 for continuous ones

    @property
    def dim(self) -> int:
        return int(self.steps.shape[0])

    @property
    def discrete(self) -> np.ndarray:
        return self.steps > 0

    def mask(self, keys: Container[str]) -> np.ndarray:
        """``(d,)`` bool: True on the coordinates of the parameters in ``keys``."""
        out = np.zeros(self.dim, dtype=bool)
        for key, s in zip(self.keys, self.slices):
            out[s] = key in keys
        return out

    def bounds(self, ranges: Mapping[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        """``(d,)`` low and high ends of each coordinate: its parameter's ``(lo, hi)`` in ``ranges``,
        [0, 1] for a parameter not in it."""
        lo, hi = np.zeros(self.dim), np.ones(self.dim)
        for key, s in zip(self.keys, self.slices):
            lo[s], hi[s] = ranges.get(key, (0.0, 1.0))
        return lo, hi


@dataclass(frozen=True, eq=False)
class Box:
    """Scalar parameters as ``x`` in [0, 1]^d spanning each one's sampling box: ``x = 0`` is the box's low
    end, ``x = 1`` its high end (:meth:`ParamSpace.box`)."""

    keys: tuple[str, ...]
    specs: tuple[ParamSpec, ...]
    low: torch.Tensor  # (d,) float32, real units
    high: torch.Tensor

    @property
    def dim(self) -> int:
        return len(self.keys)

    def uniform(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` points ``(n, d)`` drawn uniformly in the box (one ``torch.rand`` of ``generator``)."""
        return torch.rand(n, self.dim, generator=generator)

    def real(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, d), clamped to [0, 1] -> real units (B, d), differentiable in ``x``."""
        return self.low + x.clamp(0.0, 1.0) * (self.high - self.low)

    def layout(self) -> Layout:
        """The :class:`Layout` of ``x``: one coordinate per key, a discrete one's grid step 1 / (box width)."""
        steps = [1.0 / max(hi - lo, 1e-9) if p.discrete else 0.0
                 for p, lo, hi in zip(self.specs, self.low.tolist(), self.high.tolist())]
        return Layout(self.keys, self.specs, tuple(slice(k, k + 1) for k in range(self.dim)),
                      np.asarray(steps, dtype=np.float64))


class ParamSpace:
    """The parameters of a graph's nodes (``{node name: node spec}`` in graph order)."""

    def __init__(self, node_specs: Mapping[str, AnySpec]):
        entries: dict[str, Entry] = {}
        for name, spec in node_specs.items():
            gen = spec if is_generator(spec) else None
            for p in spec.params:
                entries[f"{name}.{p.name}"] = Entry(f"{name}.{p.name}", name, p, gen)  # type: ignore[arg-type]
        self.entries = entries

    @classmethod
    def of_generator(cls, spec: GeneratorSpec) -> "ParamSpace":
        """The parameters of one generator, as a node named after it (keys ``"<spec.name>.<param>"``)."""
        return cls({spec.name: spec})

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

    def proxy_keys(self, node: str) -> list[str]:
        """Keys of the parameters a proxy of generator node ``node`` takes: all but the pinned (``fixed``) ones."""
        return [k for k, e in self.entries.items()
                if e.node == node and e.generator is not None and e.spec.name not in e.generator.fixed]

    def _generator(self, key: str) -> GeneratorSpec:
        gen = self.entries[key].generator
        if gen is None:
            raise KeyError(f"{key!r} is not a generator parameter")
        return gen

    def real_box(self, key: str) -> tuple[float, float]:
        """Real-unit ``(lo, hi)`` a generator parameter is drawn from for its proxy: the generator's
        ``sample_box`` entry (else the full range), cut to the parameter's range."""
        p = self.entries[key].spec
        lo, hi = self._generator(key).sample_box.get(p.name, (p.low, p.high))
        return max(float(lo), p.low), min(float(hi), p.high)

    def normalized_box(self, key: str) -> tuple[float, float]:
        """:meth:`real_box` in normalized units."""
        return _normalized(self.entries[key].spec, *self.real_box(key))

    def sampling_box(self, key: str, value: Any) -> tuple[float, float]:
        """Normalized ``(lo, hi)`` of a generator parameter's sampling box (where its proxy was trained):
        :meth:`normalized_box`, except that a parameter the proxy pins keeps ``value``, the node's own real value."""
        p = self.entries[key].spec
        if p.name in self._generator(key).fixed:
            v = p.to_numbers(value)[0]
            return _normalized(p, v, v)
        return self.normalized_box(key)

    def sample_real(self, keys: Sequence[str], n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``n`` draws ``{key: float32 (n,)}`` in real units, uniform in each :meth:`real_box`; discrete
        parameters uniform over the box's integers (inclusive). One float64 ``torch.rand(n)`` of
        ``generator`` per key, in the order of ``keys``. ValueError for a discrete box holding no integer."""
        out: dict[str, torch.Tensor] = {}
        for key in keys:
            p = self.entries[key].spec
            lo, hi = self.real_box(key)
            u = torch.rand(n, generator=generator, dtype=torch.float64)
            if p.discrete:
                a, b = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
                if a > b:
                    raise ValueError(f"generator {self._generator(key).name!r}: sample box ({lo:g}, {hi:g}) "
                                     f"of {p.name!r} holds no integer")
                out[key] = torch.floor(a + u * (b - a + 1)).clamp(a, b).float()
            else:
                out[key] = (lo + u * (hi - lo)).float()
        return out

    def uniform(self, bounds: Mapping[str, tuple[float, float]], n: int,
                generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``n`` normalized values ``{key: (n, 1)}`` uniform in each key's ``(lo, hi)`` of ``bounds``
        (one ``torch.rand(n, 1)`` of ``generator`` per key, in the order of ``bounds``)."""
        unknown = [k for k in bounds if k not in self.entries]
        if unknown:
            raise KeyError(f"not parameters of this space: {unknown}")
        return {k: lo + (hi - lo) * torch.rand(n, 1, generator=generator) for k, (lo, hi) in bounds.items()}

    def layout(self, keys: Sequence[str] | None = None) -> Layout:
        """The :class:`Layout` of ``keys`` (default: those an optimizer moves, ``keys("all", True)``) as
        one normalized vector, in the order given; discrete coordinates step by :meth:`grid_step`."""
        keys = tuple(self.keys("all", optimizable_only=True) if keys is None else keys)
        specs = tuple(self.entries[k].spec for k in keys)
        slices, steps, start = [], [], 0
        for key, p in zip(keys, specs):
            slices.append(slice(start, start + p.size))
            start += p.size
            steps.extend([self.grid_step(key)] * p.size)
        return Layout(keys, specs, tuple(slices), np.asarray(steps, dtype=np.float64))

    def box(self, keys: Sequence[str]) -> Box:
        """The :class:`Box` of the scalar generator parameters ``keys``, each over its :meth:`real_box`."""
        bad = [k for k in keys if self.entries[k].spec.size != 1]
        if bad:
            raise ValueError(f"a box holds scalar parameters, not {bad}")
        bounds = [self.real_box(k) for k in keys]
        return Box(tuple(keys), tuple(self.entries[k].spec for k in keys),
                   torch.tensor([b[0] for b in bounds]), torch.tensor([b[1] for b in bounds]))


def _normalized(p: ParamSpec, lo: float, hi: float) -> tuple[float, float]:
    """Real-unit ``(lo, hi)`` of ``p`` normalized (in float64) and clamped to [0, 1]."""
    u = p.normalize_tensor(torch.tensor([float(lo), float(hi)], dtype=torch.float64)).clamp(0, 1).tolist()
    return (u[0], u[1])
