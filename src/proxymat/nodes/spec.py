"""Node specifications: the contract between node functions and the graph loader.

A filter node is a pure, batched torch function. It takes its inputs and its
parameters as keyword arguments and returns one tensor (single output named
``"output"``) or a dict ``{output_name: tensor}``.

Conventions every filter follows:

* images are float32 tensors ``(B, C, H, W)``, C = 1 (gray) or 3 (color), values
  nominally in [0, 1]; an optional input may be ``None``;
* float parameters arrive as tensors of shape ``()`` or ``(B,)``; color as
  ``(3,)`` or ``(B, 3)``; vec2 as ``(2,)`` or ``(B, 2)``; int, enum and bool
  as plain Python ``int``, ``str`` and ``bool``;
* gradients flow to every float/color/vec2 parameter and to every input;
* spatial operations wrap around (materials are tileable);
* no global state, no in-place modification of inputs;
* a node with no image inputs (e.g. ``uniform_color``) also receives the
  keyword arguments ``res: int``, ``batch: int`` and ``device: torch.device``;
* the function's docstring carries a usage example: one line holding the JSON
  of a graph node of that type, e.g.
  ``{"type": "blur", "inputs": {"input": "noise"}, "params": {"radius": 0.02}}``.

The contract tests (``tests/test_node_contracts.py``) check all of this for every
registered node; the few declared exceptions live in the spec
(``piecewise``, ``shift_equivariant``, ``bounded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import torch

from ..params import ParamSpec

Channels = Literal["gray", "color", "any"]


@dataclass(frozen=True)
class PortSpec:
    """An input port. ``channels`` says what the node expects; gray inputs given a
    color image are converted by luminance and color inputs given gray are
    broadcast, so wiring is forgiving while node code stays simple."""

    name: str
    channels: Channels = "any"
    optional: bool = False
    doc: str = ""


@dataclass(frozen=True)
class NodeSpec:
    """Everything the graph needs to know about a filter node type.

    * ``output_channels`` gives, per output, ``"gray"`` (C = 1), ``"color"``
      (C = 3) or ``"any"`` (C of the widest "any" input port, or of the widest
      input when no port is "any"); empty means all "any";
    * ``piecewise`` names float parameters or inputs in which the output is
      piecewise constant (a threshold that splits regions, an id map): they
      get no gradient;
    * ``shift_equivariant`` is False for nodes that lay content out on the
      fixed UV frame (scatter, per-cell), whose output tiles but does not
      follow a circular shift of the inputs;
    * ``bounded`` is False for nodes whose output may leave [0, 1] (unclamped
      sharpening or relief).
    """

    type: str
    fn: Callable[..., Any]
    inputs: tuple[PortSpec, ...]
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...] = ("output",)
    doc: str = ""
    output_channels: tuple[Channels, ...] = ()
    piecewise: tuple[str, ...] = ()
    shift_equivariant: bool = True
    bounded: bool = True

    def channels_of(self, output: str) -> Channels:
        """Declared channel kind of one output (see the class docstring)."""
        if not self.output_channels:
            return "any"
        return self.output_channels[self.outputs.index(output)]

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def port(self, name: str) -> PortSpec:
        for p in self.inputs:
            if p.name == name:
                return p
        raise KeyError(name)


def node(
    type: str,
    fn: Callable[..., Any],
    inputs: Sequence[PortSpec | str],
    params: Sequence[ParamSpec] = (),
    outputs: Sequence[str] = ("output",),
    doc: str = "",
    *,
    out: Channels | Sequence[Channels] = "any",
    piecewise: Sequence[str] = (),
    shift_equivariant: bool = True,
    bounded: bool = True,
) -> NodeSpec:
    """Build a :class:`NodeSpec`; plain strings in ``inputs`` become required 'any' ports.

    ``out`` is the channel kind of every output (one string) or of each output.
    """
    ports = tuple(p if isinstance(p, PortSpec) else PortSpec(p) for p in inputs)
    outs = tuple(outputs)
    kinds = (out,) * len(outs) if isinstance(out, str) else tuple(out)
    if len(kinds) != len(outs):
        raise ValueError(f"node {type!r}: {len(kinds)} output channel kinds for {len(outs)} outputs")
    return NodeSpec(
        type, fn, ports, tuple(params), outs, doc or (fn.__doc__ or "").strip().split("\n")[0],
        output_channels=kinds, piecewise=tuple(piecewise), shift_equivariant=shift_equivariant, bounded=bounded,
    )


def pv(p: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Reshape a *scalar* parameter (float kind) to broadcast against an image ``like``.

    ``()`` stays a scalar; ``(B,)`` becomes ``(B, 1, 1, 1)``.
    """
    t = torch.as_tensor(p, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        return t
    if t.dim() == 1:
        return t.view(-1, 1, 1, 1)
    raise ValueError(f"scalar parameter of shape {tuple(t.shape)} cannot broadcast against an image")


def pc(p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a *vector* parameter (color or vec2) to broadcast against an image.

    ``(k,)`` becomes ``(1, k, 1, 1)``; ``(B, k)`` becomes ``(B, k, 1, 1)``.
    """
    t = torch.as_tensor(p, dtype=like.dtype, device=like.device)
    if t.dim() == 1:
        return t.view(1, -1, 1, 1)
    if t.dim() == 2:
        return t.view(t.shape[0], t.shape[1], 1, 1)
    raise ValueError(f"vector parameter of shape {tuple(t.shape)} cannot broadcast against an image")


def vec_parts(p: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a vec2 parameter ``(2,)`` or ``(B, 2)`` into two tensors broadcastable to ``like``."""
    t = torch.as_tensor(p, dtype=like.dtype, device=like.device)
    if t.dim() == 1:
        return t[0], t[1]
    return t[:, 0].view(-1, 1, 1, 1), t[:, 1].view(-1, 1, 1, 1)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) with Rec.709 weights; gray passes through."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x[:, :3] * w).sum(1, keepdim=True)


def as_channels(x: torch.Tensor, channels: Channels) -> torch.Tensor:
    """Adapt an image to what a port expects (see :class:`PortSpec`)."""
    if channels == "gray" and x.shape[1] != 1:
        return luminance(x)
    if channels == "color" and x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    return x
