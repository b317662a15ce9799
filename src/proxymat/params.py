"""Typed node parameters: kinds, ranges, defaults, and the normalized [0, 1] space.

Every parameter of every node (filter or generator) is described by a
:class:`ParamSpec`. Optimizers work on *normalized* values in [0, 1]; real
values are what users write in graph files. Discrete kinds (int, enum, bool)
are rounded when converted back from the normalized space.

Normalized tensors have a trailing dimension of size :attr:`ParamSpec.size`
(1 for scalars, 3 for colors, 2 for vec2) and optional leading batch dims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import torch

ParamKind = Literal["float", "int", "enum", "bool", "color", "vec2"]
KINDS: tuple[str, ...] = ("float", "int", "enum", "bool", "color", "vec2")
_SIZES = {"float": 1, "int": 1, "enum": 1, "bool": 1, "color": 3, "vec2": 2}


class ParamError(ValueError):
    """A parameter value has the wrong type or lies outside its range."""


@dataclass(frozen=True)
class ParamSpec:
    """Description of one parameter.

    ``low``/``high`` bound float, int, color and vec2 values (per component).
    ``choices`` lists the names of an enum; its real value is one of them.
    ``differentiable`` is False for discrete kinds; a float may also opt out.
    """

    name: str
    kind: ParamKind
    default: Any
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] = ()
    doc: str = ""
    optimize: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "enum":
            if not self.choices:
                raise ValueError(f"enum parameter {self.name!r} needs choices")
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", float(len(self.choices) - 1))
        elif self.kind == "bool":
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", 1.0)
        if not self.high >= self.low:
            raise ValueError(f"parameter {self.name!r}: high < low")
        # The default must itself be valid; this catches spec typos early.
        object.__setattr__(self, "default", self.validate(self.default))

    # ------------------------------------------------------------------ basics
    @property
    def size(self) -> int:
        """Number of scalars in the normalized vector of this parameter."""
        return _SIZES[self.kind]

    @property
    def discrete(self) -> bool:
        return self.kind in ("int", "enum", "bool")

    @property
    def differentiable(self) -> bool:
        """True when gradient descent may change this parameter."""
        return not self.discrete and self.optimize

    # -------------------------------------------------------------- validation
    def validate(self, value: Any) -> Any:
        """Return ``value`` in canonical form, or raise :class:`ParamError`."""
        where = f"parameter {self.name!r} ({self.kind})"
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParamError(f"{where}: expected true or false, got {value!r}")
        if self.kind == "enum":
            if isinstance(value, str):
                if value not in self.choices:
                    raise ParamError(f"{where}: {value!r} is not one of {list(self.choices)}")
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                if 0 <= value < len(self.choices):
                    return self.choices[value]
                raise ParamError(f"{where}: index {value} out of range 0..{len(self.choices) - 1}")
            raise ParamError(f"{where}: expected one of {list(self.choices)}, got {value!r}")
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"{where}: expected an integer, got {value!r}")
            if isinstance(value, float):
                if not math.isfinite(value) or value != int(value):
                    raise ParamError(f"{where}: expected an integer, got {value!r}")
                value = int(value)
            self._check_range(value, where)
            return int(value)
        if self.kind == "float":
            return self._scalar(value, where)
        # color / vec2
        if not isinstance(value, (list, tuple)) or len(value) != self.size:
            raise ParamError(f"{where}: expected a list of {self.size} numbers, got {value!r}")
        return tuple(self._scalar(v, where) for v in value)

    def _scalar(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{where}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ParamError(f"{where}: value must be finite, got {value!r}")
        self._check_range(value, where)
        return value

    def _check_range(self, value: float, where: str) -> None:
        if value < self.low or value > self.high:
            raise ParamError(f"{where}: {value!r} outside range [{self.low:g}, {self.high:g}]")

    # ------------------------------------------------------------ conversions
    def to_numbers(self, value: Any) -> list[float]:
        """Real value -> list of ``size`` floats in real units (enum: index)."""
        value = self.validate(value)
        if self.kind == "enum":
            return [float(self.choices.index(value))]
        if self.kind == "bool":
            return [1.0 if value else 0.0]
        if self.size == 1:
            return [float(value)]
        return [float(v) for v in value]

    def from_numbers(self, numbers: Sequence[float]) -> Any:
        """List of ``size`` real-unit floats -> canonical real value (rounded, clamped)."""
        nums = [min(max(float(x), self.low), self.high) for x in numbers]
        if self.kind == "enum":
            return self.choices[int(round(nums[0]))]
        if self.kind == "bool":
            return nums[0] >= 0.5
        if self.kind == "int":
            return int(round(nums[0]))
        if self.kind == "float":
            return nums[0]
        return tuple(nums)

    def normalize(self, value: Any) -> torch.Tensor:
        """Real value -> float32 tensor of shape (size,) in [0, 1]."""
        t = torch.tensor(self.to_numbers(value), dtype=torch.float64)
        return self.normalize_tensor(t).float()

    def normalize_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """Real-unit tensor (..., size) -> normalized tensor (..., size)."""
        span = self.high - self.low
        if span == 0:
            return torch.zeros_like(t)
        return (t - self.low) / span

    def denormalize_tensor(self, u: torch.Tensor) -> torch.Tensor:
        """Normalized tensor (..., size) -> real units, clamped; discrete kinds rounded.

        Rounding cuts the gradient of discrete kinds, as it should.
        """
        u = u.clamp(0.0, 1.0)
        t = self.low + u * (self.high - self.low)
        if self.discrete:
            t = torch.round(t).detach()
        return t

    def denormalize(self, u: torch.Tensor | Sequence[float]) -> Any:
        """Normalized vector (size,) -> canonical real value (discrete rounded)."""
        u = torch.as_tensor(u, dtype=torch.float64).reshape(-1)
        if u.numel() != self.size:
            raise ParamError(f"parameter {self.name!r}: expected {self.size} normalized values")
        return self.from_numbers(self.denormalize_tensor(u).tolist())

    def integer_range(self, box: tuple[float, float]) -> tuple[int, int]:
        """The lowest and highest whole values (within ``low``-``high``) whose normalized value lies in the
        normalized ``box`` (either order), to 1e-6 of it; empty when the first exceeds the second."""
        lo, hi = sorted(box)
        span = self.high - self.low
        return (max(math.ceil(self.low + (lo - 1e-6) * span), math.ceil(self.low)),
                min(math.floor(self.low + (hi + 1e-6) * span), math.floor(self.high)))

    def to_json(self) -> dict[str, Any]:
        """Description for listings (`proxymat nodes`)."""
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": _jsonable(self.default)}
        if self.kind == "enum":
            d["choices"] = list(self.choices)
        elif self.kind != "bool":
            d["range"] = [self.low, self.high]
        if self.doc:
            d["doc"] = self.doc
        return d


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# Short constructors keep node specs readable.
def f(name: str, default: float, low: float = 0.0, high: float = 1.0, doc: str = "", optimize: bool = True) -> ParamSpec:
    """A float parameter."""
    return ParamSpec(name, "float", default, low, high, doc=doc, optimize=optimize)


def i(name: str, default: int, low: int, high: int, doc: str = "") -> ParamSpec:
    """An integer parameter."""
    return ParamSpec(name, "int", default, low, high, doc=doc)


def e(name: str, default: str, choices: Sequence[str], doc: str = "") -> ParamSpec:
    """An enum parameter."""
    return ParamSpec(name, "enum", default, choices=tuple(choices), doc=doc)


def b(name: str, default: bool, doc: str = "") -> ParamSpec:
    """A bool parameter."""
    return ParamSpec(name, "bool", default, doc=doc)


def color(name: str, default: Sequence[float], doc: str = "") -> ParamSpec:
    """An RGB color parameter, components in [0, 1]."""
    return ParamSpec(name, "color", tuple(default), 0.0, 1.0, doc=doc)


def vec2(name: str, default: Sequence[float], low: float = 0.0, high: float = 1.0, doc: str = "") -> ParamSpec:
    """A 2-vector parameter, each component in [low, high]."""
    return ParamSpec(name, "vec2", tuple(default), low, high, doc=doc)
