"""A mask proxy built from a field proxy: the field thresholded at a quantile.

The binary PPTBF family (``pptbf_mask_*``) is the soft PPTBF with its brightest
``threshold`` fraction of pixels white and a 1-pixel linear ramp across each
edge. :class:`QuantileMaskProxy` applies the same rule, differentiably, to the
output of a proxy trained on a field whose level sets are those masks (the
rank field ``pptbf_rank_cellular``, or the soft PPTBF up to ties), so one field
proxy serves every threshold: the mask proxy's first input is the white
fraction and the rest are the field proxy's inputs, in the same order.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..nodes.generators.base import GeneratorSpec
from ..nodes.generators.pptbf import edge_ramp
from .weights import Proxy, ProxyWeightsError, load_proxy, param_signature, param_table

FRACTION_PARAM = "threshold"


def quantile_level(soft: torch.Tensor, fraction: torch.Tensor) -> torch.Tensor:
    """Per image, the level above which a ``fraction`` (B,) of the pixels of ``soft`` (B, 1, H, W) lie -> (B,).

    Halfway between the last black and the first white pixel in value order,
    linearly interpolated, so it is differentiable in ``soft`` and in ``fraction``.
    """
    flat = soft.flatten(1).sort(dim=1).values
    n = flat.shape[1]
    pos = ((1.0 - fraction.clamp(0.0, 1.0)) * n - 0.5).clamp(0.0, n - 1.0)
    lo = pos.detach().floor().long().clamp(0, max(n - 2, 0))
    hi = (lo + 1).clamp(max=n - 1)
    t = pos - lo.to(pos.dtype)
    v_lo, v_hi = flat.gather(1, lo[:, None])[:, 0], flat.gather(1, hi[:, None])[:, 0]
    return v_lo + t * (v_hi - v_lo)


def threshold_with_ramp(soft: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """``soft`` (B, 1, H, W) >= ``level`` (B,) as a mask in [0, 1] with a 1-pixel linear ramp.

    The generator's own edge ramp (:func:`~proxymat.nodes.generators.pptbf.edge_ramp`), applied everywhere.
    """
    return edge_ramp(soft, level.view(-1, 1, 1, 1), eps=1e-6)[0]


class QuantileMaskProxy(nn.Module):
    """Mask proxy from a field proxy (``soft``: the rank or soft field's proxy):
    P (B, 1 + n) = [white fraction, the field proxy's inputs] -> mask (B, 1, res, res)."""

    def __init__(self, soft: Proxy, mask_spec: GeneratorSpec):
        super().__init__()
        rows = param_table(mask_spec)
        if not rows or rows[0]["name"] != FRACTION_PARAM or (rows[0]["low"], rows[0]["high"]) != (0.0, 1.0):
            raise ProxyWeightsError(f"generator {mask_spec.name!r} does not start with a {FRACTION_PARAM!r} in [0, 1]")
        want, got = param_signature(rows[1:]), param_signature(soft.param_table)
        if want != got:
            raise ProxyWeightsError(f"proxy of {soft.spec_name!r} takes {[g[0] for g in got]}; a mask of "
                                    f"{mask_spec.name!r} needs {[w[0] for w in want]} after {FRACTION_PARAM!r}")
        fixed = {k: float(v) for k, v in mask_spec.fixed.items()}
        if {k: float(v) for k, v in soft.fixed.items()} != fixed:
            raise ProxyWeightsError(f"proxy of {soft.spec_name!r} pins other parameters than {mask_spec.name!r}")
        self.soft = soft
        self.spec_name = mask_spec.name
        self.source = soft.spec_name

    @property
    def res(self) -> int:
        return self.soft.res

    @property
    def training_info(self) -> dict:
        return self.soft.training_info

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        soft = self.soft(p[:, 1:])
        return threshold_with_ramp(soft, quantile_level(soft, p[:, 0]))


def load_proxy_for(spec: GeneratorSpec, weights: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The proxy for ``spec`` from ``weights`` (default: the shipped one): a proxy of ``spec`` itself,
    or, for a mask family, a :class:`QuantileMaskProxy` around a proxy of its rank (or soft) field."""
    try:
        return load_proxy(weights or spec.name, device=device, spec=spec)
    except ProxyWeightsError as err:
        first = spec.params[0] if spec.params else None
        if weights is None or first is None or first.name != FRACTION_PARAM:
            raise
        field = load_proxy(weights, device=device)
        if field.spec_name == spec.name:
            raise
        try:
            return QuantileMaskProxy(field, spec)
        except ProxyWeightsError as why:
            raise ProxyWeightsError(f"{err}; nor can it make masks: {why}") from None
