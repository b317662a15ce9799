"""Generator specs: black-box pattern functions with typed parameters.

A generator is a plain function ``fn(params, res, seed) -> Tensor(B, 1, H, W)``:

* ``params`` maps every parameter name of the spec to a float32 tensor of shape
  ``(B,)`` in *real* units (ints, enums as indices and bools as 0/1 are
  already rounded); the batch size B is taken from these tensors;
* ``res`` is the output size in pixels (square, H = W = res);
* ``seed`` is an int; the same (params, res, seed) always gives the same image;
* output values lie in [0, 1]; the pattern tiles (left/right and top/bottom
  edges continue);
* the optimizer treats generators as black boxes (their output is detached)
  except for the parameters a spec declares ``direct``, whose autograd
  gradient is exact: ``spec(params, res, seed, grad=True)`` keeps the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch

from ...params import ParamSpec

GeneratorFn = Callable[[Mapping[str, torch.Tensor], int, int], torch.Tensor]


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator function with its parameters.

    ``sample_box`` optionally narrows the range each parameter is drawn from
    when training a proxy, as ``{name: (low, high)}`` in real units; parameters
    not listed use their full range. ``fixed`` pins parameters to a value
    during proxy training (they are then not proxy inputs). ``stochastic``
    marks generators whose layouts are very random (adversarial proxy loss).
    ``direct`` names the continuous parameters whose gradient autograd through
    ``fn`` gives exactly (checked against finite differences): the optimizer
    can move them through the real generator instead of a proxy.
    """

    name: str
    fn: GeneratorFn
    params: tuple[ParamSpec, ...]
    doc: str = ""
    sample_box: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)
    stochastic: bool = False
    direct: tuple[str, ...] = ()

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self, batch: int = 1, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Real-unit parameter tensors (B,) at the spec defaults."""
        return {
            p.name: torch.full((batch,), p.to_numbers(p.default)[0], dtype=torch.float32, device=device)
            for p in self.params
        }

    def __call__(self, params: Mapping[str, torch.Tensor], res: int, seed: int = 0, grad: bool = False) -> torch.Tensor:
        """Evaluate with missing parameters filled from the defaults; values are clamped and rounded.
        ``grad``: keep the autograd graph (gradients reach the :attr:`direct` parameters)."""
        batch = next((int(v.reshape(-1).shape[0]) for v in params.values()), 1)
        device = next((v.device for v in params.values()), torch.device("cpu"))
        unknown = set(params) - {p.name for p in self.params}
        if unknown:
            raise KeyError(f"generator {self.name!r} has no parameter(s) {sorted(unknown)}")
        full: dict[str, torch.Tensor] = {}
        for p in self.params:
            if p.name in params:
                v = torch.as_tensor(params[p.name], dtype=torch.float32, device=device).reshape(-1)
                v = v.expand(batch) if v.shape[0] == 1 else v
                v = v.clamp(p.low, p.high)
                full[p.name] = torch.round(v) if p.discrete else v
            else:
                full[p.name] = torch.full((batch,), p.to_numbers(p.default)[0], dtype=torch.float32, device=device)
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            out = self.fn(full, int(res), int(seed))
        return out.clamp(0.0, 1.0)
