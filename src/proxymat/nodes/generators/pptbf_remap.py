"""PPTBF remap and thresholding: per-image equalization, the quantile mask and its rank field.

The soft output is remapped piecewise-linearly (min -> 0, mean -> 0.5,
max -> 1); the mask keeps the requested fraction of pixels white, filling them
in one total order (value, tie-break field, blurred value, hash), with a
1-pixel anti-aliased edge; the rank field is each pixel's place in that order.

Gradients of the mask flow through its edge ramp: the threshold level moves
with the values as the level that keeps the white fraction (the implicit
derivative of the quantile over the ramp pixels), and a ``fraction`` tensor
moves it as the ramp's white area requires (:func:`quantile_mask`).
"""

from __future__ import annotations

import math

import torch

from .hashing import uniform


def equalize(v: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear remap of each row of ``v`` (B, N): min -> 0, mean -> 0.5, max -> 1."""
    lo = v.amin(1, keepdim=True)
    hi = v.amax(1, keepdim=True)
    mean = v.mean(1, keepdim=True).clamp(lo, hi)
    low = 0.5 * (v - lo) / (mean - lo).clamp(min=1e-30)
    high = 0.5 + 0.5 * (v - mean) / (hi - mean).clamp(min=1e-30)
    out = torch.where(v <= mean, low, high)
    return torch.where(hi - lo > 1e-12, out, torch.full_like(out, 0.5)).clamp(0.0, 1.0)


def _periodic_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur with wrap-around of a (H, W) image, by FFT."""
    h, w = img.shape
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    gain = torch.exp(-2.0 * (math.pi * sigma) ** 2 * (fx * fx + fy * fy))
    return torch.fft.irfft2(torch.fft.rfft2(img) * gain, s=(h, w))


def _lexsort(keys: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Ascending order of flat tensors sorted by keys[0], ties by keys[1], ..."""
    order = torch.arange(keys[0].numel())
    for k in reversed(keys):
        order = order[torch.sort(k[order], stable=True).indices]
    return order


def _mask_order(v: torch.Tensor, aux: torch.Tensor, seed: int) -> torch.Tensor:
    """Pixels of ``v`` (H, W) in the order a mask fills them, last first: by ``v``, ties by ``aux``,
    then a blurred ``v`` (flat areas fill from the bright side), then a hash."""
    h, w = v.shape
    r = torch.arange(v.numel())
    keys = (v.reshape(-1), aux.reshape(-1), _periodic_blur(v, max(h, w) / 32.0).reshape(-1), uniform(r, seed, 977))
    return _lexsort(keys)


def rank_field(v: torch.Tensor, aux: torch.Tensor, seed: int) -> torch.Tensor:
    """Each pixel's place in the mask fill order, as (rank + 0.5) / N in (0, 1) (H, W).

    Uniformly distributed; the pixels above ``1 - t`` are exactly the white
    pixels of ``quantile_mask(v, aux, t, seed)`` (before its edge ramp).
    """
    n = v.numel()
    out = torch.empty(n)
    out[_mask_order(v, aux, seed)] = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    return out.view_as(v)


def edge_ramp(v: torch.Tensor, level: torch.Tensor | float, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1-pixel linear ramp across the ``level`` set of ``v`` (..., H, W): ``0.5 + (v - level) / g``
    clamped to [0, 1], with ``g`` the L1 norm of the toroidal central-difference gradient (floored at
    ``eps`` in the division). Returns ``(ramp, g)``."""
    gx = 0.5 * (torch.roll(v, -1, -1) - torch.roll(v, 1, -1))
    gy = 0.5 * (torch.roll(v, -1, -2) - torch.roll(v, 1, -2))
    g = gx.abs() + gy.abs()
    return (0.5 + (v - level) / g.clamp(min=eps)).clamp(0.0, 1.0), g


def quantile_mask(v: torch.Tensor, aux: torch.Tensor, fraction: float | torch.Tensor, seed: int) -> torch.Tensor:
    """Binary map (H, W) with round(fraction * H * W) white pixels: those with the largest ``v``.

    Ties are broken by ``aux``, then a blurred ``v`` (so flat areas fill from
    the bright side), then a hash. Boundary pixels get a 1-pixel linear ramp
    when the threshold separates distinct values and the white fraction moves
    by at most 0.005.

    With a graph (``v`` requiring grad or a ``fraction`` tensor) the values are
    the same and the ramp pixels carry the gradient, the level moving by
    :func:`_level_gradient`; the hard pixels have none. Where the ramp is not
    kept (it would move the white fraction), the hard values get the ramp's
    gradient (a relaxation: the hard map's own derivative is 0 between jumps).
    """
    h, w = v.shape
    n = v.numel()
    n_white = int(round(float(fraction.detach() if isinstance(fraction, torch.Tensor) else fraction) * n))
    if n_white <= 0 or n_white >= n:
        return torch.full_like(v, 1.0 if n_white >= n else 0.0)
    order = _mask_order(v, aux, seed)
    hard = torch.zeros(n)
    hard[order[n - n_white :]] = 1.0
    hard = hard.view(h, w)
    flat = v.detach().reshape(-1)
    v_lo, v_hi = float(flat[order[n - n_white - 1]]), float(flat[order[n - n_white]])
    if not v_hi > v_lo:
        return hard
    level = 0.5 * (v_lo + v_hi)
    ramp, g = edge_ramp(v, level, eps=1e-12)
    edge = (hard != torch.roll(hard, 1, 0)) | (hard != torch.roll(hard, -1, 0))
    edge |= (hard != torch.roll(hard, 1, 1)) | (hard != torch.roll(hard, -1, 1))
    graph = v.requires_grad or isinstance(fraction, torch.Tensor) and fraction.requires_grad
    if graph:
        on_ramp = edge & (g > 1e-12) & (ramp > 0.0) & (ramp < 1.0)
        ramp, g = edge_ramp(v, level + _level_gradient(v, g.detach(), on_ramp, fraction), eps=1e-12)
    soft = torch.where(edge & (g > 1e-12), ramp, hard)
    if abs(float(soft.detach().mean()) - float(hard.mean())) <= 0.005:
        return soft
    return hard + (soft - soft.detach()) if graph else hard  # the ramp's gradient on the hard values


def _level_gradient(v: torch.Tensor, g: torch.Tensor, on_ramp: torch.Tensor,
                    fraction: float | torch.Tensor) -> torch.Tensor:
    """Zero, with the gradient of the threshold level: the ramp pixels' white area
    ``sum (0.5 + (v - level) / g)`` stays put as ``v`` moves and grows by ``n`` per unit of
    ``fraction``, so ``d level = (sum dv / g - n d fraction) / sum 1 / g`` over them."""
    inv = torch.where(on_ramp, 1.0 / g.clamp(min=1e-12), torch.zeros_like(g))
    total = inv.sum().clamp(min=1e-12)
    moved = ((v - v.detach()) * inv).sum()
    if isinstance(fraction, torch.Tensor):
        moved = moved - v.numel() * (fraction - fraction.detach())
    return moved / total

