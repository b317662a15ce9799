"""Growing a trained proxy: to a higher resolution, or to more inputs.

The synthesis network sums each resolution's output, upsampled (a skip architecture). A proxy at
``res`` therefore holds a proxy at ``res / 2`` in its first blocks: :func:`grown_config` is the
larger model, :func:`grow_into` copies the smaller one's weights into it and zeroes the new blocks'
output layers, so the grown proxy starts out drawing exactly the source's map, upsampled, and
training only has to add the finer detail.

A proxy can also grow *inputs*: a generator parameter that the source pinned becomes an input
(``proxy train --free NAME --init SOURCE``). :func:`widen_inputs` gives the mapping network's first
layer a zero column for each new input and rescales the old ones (the layer's equalized gain
depends on its input count), so the widened proxy draws the source's map whatever the new inputs'
values, and training only has to learn what they change.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from .model import DEFAULT_CHANNELS, ProxyConfig, ProxyNet


def grows_from(source: ProxyConfig, target: ProxyConfig) -> bool:
    """True when ``target`` is ``source`` with more resolution levels (same everything else,
    the source's channel counts as its first levels)."""
    if target.res < source.res:
        return False
    same_rest = replace(target, res=source.res, channels=source.channels) == source
    return same_rest and target.channels[: len(source.channels)] == source.channels


def grown_config(source: ProxyConfig, res: int, channels: tuple[int, ...] = ()) -> ProxyConfig:
    """``source`` grown to ``res``: its channel counts, then ``channels`` for the added levels
    (default :data:`~.model.DEFAULT_CHANNELS`). Raises ``ValueError`` for a lower resolution or a
    wrong number of added channel counts."""
    if res < source.res:
        raise ValueError(f"cannot grow a {source.res} px proxy down to {res} px")
    added = [source.res << k for k in range(1, (res // source.res).bit_length())]
    extra = tuple(int(c) for c in channels) or tuple(DEFAULT_CHANNELS[r] for r in added)
    if len(extra) != len(added):
        raise ValueError(f"growing {source.res} -> {res} px adds {len(added)} resolution level(s); got {len(extra)} channel counts")
    return replace(source, res=res, channels=source.channels + extra)


def grow_into(target: ProxyNet, source_state: dict[str, torch.Tensor], source: ProxyConfig) -> None:
    """Load ``source_state`` (a ``source``-config proxy's weights) into the first levels of ``target``
    and zero the output layer of every added level, in place. Afterwards ``target`` draws the
    source's map upsampled to its resolution (the added levels contribute nothing until trained)."""
    if not grows_from(source, target.config):
        raise ValueError(f"model {target.config.to_dict()} does not grow from {source.to_dict()}")
    missing = set(source_state) - set(target.state_dict())
    if missing:
        raise ValueError(f"source weights have entries the grown model lacks: {sorted(missing)[:3]}")
    target.load_state_dict(source_state, strict=False)
    with torch.no_grad():
        for block in target.blocks[len(source.channels):]:
            block.torgb.weight.zero_()
            block.torgb.bias.zero_()


def added_inputs(source: list[tuple[str, float, float]], target: list[tuple[str, float, float]]) -> list[int] | None:
    """Where the source's inputs sit among the target's, when the target's inputs are the source's
    (same names and ranges, same order) with some added; otherwise None. Rows are
    :func:`~.weights.param_signature` tuples."""
    where, k = [], 0
    for row in source:
        while k < len(target) and target[k] != row:
            k += 1
        if k == len(target):
            return None
        where.append(k)
        k += 1
    return where if len(target) > len(source) else None


def widen_inputs(source_state: dict[str, torch.Tensor], source: ProxyConfig, where: list[int],
                 n_params: int) -> tuple[dict[str, torch.Tensor], ProxyConfig]:
    """A ``source``-config proxy's weights as a proxy of ``n_params`` inputs, the source's at indices
    ``where``: the first mapping layer's columns move there, scaled by sqrt(n_params / source.n_params)
    to keep its equalized gain, and the new inputs' columns are zero. Returns the state and its config.
    Raises ``ValueError`` for a proxy with one-hot inputs (a new input's choice count is unknown)."""
    if source.categories:
        raise ValueError("a proxy with one-hot inputs cannot grow inputs")
    if len(where) != source.n_params or n_params <= source.n_params:
        raise ValueError(f"widening {source.n_params} inputs to {n_params} at {where}")
    old = source_state["mapping.embed.weight"]
    new = torch.zeros(old.shape[0], n_params, dtype=old.dtype)
    new[:, where] = old * (n_params / source.n_params) ** 0.5
    return {**source_state, "mapping.embed.weight": new}, replace(source, n_params=n_params)
