"""The plugin interface: a user's own generator, given as a Python callable and its parameters.

A plugin is a Python module (a file given to ``--plugin FILE.py``, or a module
an installed package names in the entry point group ``proxymat.generators``)
that defines ``GENERATORS``, a list of :class:`Generator`::

    GENERATORS = [Generator("stripes", stripes, [i("count", 8, 1, 32), e("profile", "square", ["square", "sine"])])]

The callable draws one image, ``fn(params, res, seed)``:

* ``params`` maps every parameter name to its real value: ``float`` (float),
  ``int`` (int), ``str`` (enum: the choice's name) or ``bool`` (bool);
* ``res`` is the image size in pixels (square);
* ``seed`` is the layout seed (an int);
* it returns a numpy array or a torch tensor of shape ``(res, res)``
  (``(1, res, res)`` and ``(res, res, 1)`` are accepted too), of a float or
  bool dtype, with finite values in [0, 1]; the same ``(params, res, seed)``
  must give the same image (draw random numbers from a generator seeded by
  ``seed``). A pattern that tiles (wraps around at the edges) suits the
  renderer's tileable maps best.

It need not be differentiable, batched or torch code: proxymat calls it once
per image, never differentiates it, and optimizes it through a trained proxy
or by random search, like the built-in generators. Any break of these rules
raises :class:`PluginError`, one line naming the plugin and the generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .nodes.generators.base import GeneratorSpec
from .params import ParamSpec, b, e, f, i

__all__ = ["Generator", "PluginError", "b", "e", "f", "i"]

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SCALAR_KINDS = ("float", "int", "enum", "bool")
RANGE_TOLERANCE = 1e-3
"""Output values may leave [0, 1] by this much (rounding); they are then clamped."""


class PluginError(ValueError):
    """A plugin cannot be loaded, or one of its generators broke the rules of :mod:`proxymat.plugin`."""


@dataclass(frozen=True)
class Generator:
    """One generator of a plugin: a name (a node type in graphs), the callable, its parameters.

    ``params`` are :class:`~proxymat.params.ParamSpec` of the scalar kinds
    (``f``, ``i``, ``e``, ``b`` of :mod:`proxymat.params`, re-exported here);
    their ranges are also the ranges a proxy is trained on. ``doc`` is a
    one-line description (default: the first line of ``fn``'s docstring).
    ``stochastic`` marks a pattern whose layout changes a lot with the seed
    (its proxy then trains with the adversarial loss).
    """

    name: str
    fn: Callable[[dict[str, Any], int, int], Any]
    params: Sequence[ParamSpec]
    doc: str = ""
    stochastic: bool = False

    def problem(self) -> str | None:
        """What is wrong with this declaration, or None."""
        if not isinstance(self.name, str) or not NAME.match(self.name):
            return f"name {self.name!r} is not letters, digits and underscores starting with a letter"
        if not callable(self.fn):
            return f"generator {self.name!r}: fn is a {type(self.fn).__name__}, not a callable"
        if not isinstance(self.params, (list, tuple)) or not self.params:
            return f"generator {self.name!r}: params must be a non-empty list of parameters (proxymat.params f, i, e, b)"
        for p in self.params:
            if not isinstance(p, ParamSpec):
                return f"generator {self.name!r}: parameter {p!r} is not a proxymat.params.ParamSpec"
            if p.kind not in SCALAR_KINDS:
                return f"generator {self.name!r}: parameter {p.name!r} is a {p.kind}; generators take {', '.join(SCALAR_KINDS)}"
        names = [p.name for p in self.params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return f"generator {self.name!r}: parameter(s) {twice} declared twice"
        if not isinstance(self.doc, str) or not isinstance(self.stochastic, bool):
            return f"generator {self.name!r}: doc must be a string and stochastic a bool"
        return None


def first_line(err: BaseException) -> str:
    """``Type: message`` of an exception, its message cut to the first line."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def image_of(out: Any, res: int, where: str) -> torch.Tensor:
    """The callable's result as a float32 tensor (1, res, res) in [0, 1], or :class:`PluginError`."""
    if isinstance(out, torch.Tensor):
        if not (out.is_floating_point() or out.dtype == torch.bool):
            raise PluginError(f"{where} returned a tensor of dtype {out.dtype}; expected floats in [0, 1]")
        t = out.detach().to("cpu", torch.float32)
    elif isinstance(out, np.ndarray):
        if not (np.issubdtype(out.dtype, np.floating) or out.dtype == np.bool_):
            raise PluginError(f"{where} returned an array of dtype {out.dtype}; expected floats in [0, 1]")
        t = torch.from_numpy(np.asarray(out, dtype=np.float32))
    else:
        raise PluginError(f"{where} returned a {type(out).__name__}; expected a numpy array or a torch tensor")
    if tuple(t.shape) not in ((res, res), (1, res, res), (res, res, 1)):
        raise PluginError(f"{where} returned shape {tuple(t.shape)} at res {res}; expected ({res}, {res})")
    if not bool(torch.isfinite(t).all()):
        raise PluginError(f"{where} returned NaN or infinite values")
    lo, hi = float(t.min()), float(t.max())
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        raise PluginError(f"{where} returned values in [{lo:g}, {hi:g}]; expected [0, 1]")
    return t.reshape(1, res, res).clamp(0.0, 1.0)


@dataclass(frozen=True)
class PerImage:
    """A plugin callable as a batched generator function ``(params (B,), res, seed) -> (B, 1, res, res)``."""

    fn: Callable[[dict[str, Any], int, int], Any]
    params: tuple[ParamSpec, ...]
    where: str

    def __call__(self, params: Mapping[str, torch.Tensor], res: int, seed: int) -> torch.Tensor:
        columns = {p.name: params[p.name].reshape(-1).tolist() for p in self.params}
        batch = len(next(iter(columns.values())))
        device = next(iter(params.values())).device
        images = []
        for k in range(batch):
            values = {p.name: p.from_numbers([columns[p.name][k]]) for p in self.params}
            try:
                out = self.fn(values, res, seed)
            except Exception as err:  # the user's code: any failure is reported as one line
                raise PluginError(f"{self.where} failed at {values}, res {res}, seed {seed}: {first_line(err)}") from err
            images.append(image_of(out, res, self.where))
        return torch.stack(images).to(device)


def generator_spec(gen: Generator, origin: str) -> GeneratorSpec:
    """The registry's spec of a checked :class:`Generator` from ``origin`` (e.g. ``plugin stripes.py``)."""
    params = tuple(gen.params)
    doc = gen.doc or (getattr(gen.fn, "__doc__", None) or "").strip().split("\n")[0] or f"plugin generator ({origin})"
    where = f"{origin}: generator {gen.name!r}"
    return GeneratorSpec(name=gen.name, fn=PerImage(gen.fn, params, where), params=params, doc=doc,
                         stochastic=gen.stochastic)
