"""Progressive resolution: start a proxy at a higher resolution from a trained lower-resolution one.

The synthesis network sums each resolution's output, upsampled (a skip architecture). A proxy at
``res`` therefore holds a proxy at ``res / 2`` in its first blocks: :func:`grown_config` is the
larger model, :func:`grow_into` copies the smaller one's weights into it and zeroes the new blocks'
output layers, so the grown proxy starts out drawing exactly the source's map, upsampled, and
training only has to add the finer detail.
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
