"""Autograd functions that give bit for bit the values and gradients of plain torch expressions, faster.

Each function here computes exactly what the expression it names computes
(forward values and input gradients equal to the last bit, on CPU), with a
cheaper backward or forward pass:

* :func:`circular_pad` is ``F.pad(x, (r, r, r, r), mode="circular")``. Torch
  builds that pad from in-place copies into views, whose backward clones,
  zero-fills and adds the whole padded gradient once per copy; here the
  gradient folds the padded border back onto the image in the same order
  (bottom rows, top rows, right columns, left columns), touching only the border;
  :func:`circular_conv` runs a circular ``nn.Conv2d`` with it.
* :func:`gram_product` is ``f @ f.transpose(1, 2)`` for ``(B, C, N)`` features.
  Torch's backward adds ``g @ f`` to the transpose of ``f^T @ g``, a strided
  add that costs several times the products; here the second term is the
  product ``g^T @ f``, which the same BLAS gives transposed bit for bit, and
  the add is contiguous.
* :func:`avg_pool` is ``F.avg_pool2d(x, k)`` (windows of ``k x k`` pixels, stride
  ``k``) and :func:`adaptive_avg_pool` is ``F.adaptive_avg_pool2d`` where it
  averages such windows: each window summed from zero in row-major order and
  divided as torch's kernels do, from ``k * k`` strided slices; the backward
  spreads the divided gradient over each window by a broadcast copy.
* :func:`channel_norm` is ``torch.linalg.vector_norm(x, 2, dim=1, keepdim=True)``
  (the norm ``F.normalize`` takes), whose CPU reduction over a short channel
  axis is slow: the squares summed in channel order, then a correctly rounded
  square root (float32 via float64, as the reduction's scalar ``sqrt`` rounds).

The tests compare every function with its expression on random inputs
(``tests/test_exact_ops.py``); a torch version that changes its kernels would
show there first.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


class _CircularPad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, r: int) -> torch.Tensor:
        ctx.r = r
        ctx.size = tuple(x.shape[-2:])
        return F.pad(x, (r, r, r, r), mode="circular")

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        r = ctx.r
        h, w = ctx.size
        # Rows first: the bottom pad rows onto the first image rows, then the top pad rows onto the last ones;
        # each column strip (image and the two pad strips) gets the same row folds.
        def rows(cols: slice) -> torch.Tensor:
            out = grad[:, :, r:r + h, cols].clone()
            out[:, :, 0:r] += grad[:, :, h + r:h + 2 * r, cols]
            out[:, :, h - r:h] += grad[:, :, 0:r, cols]
            return out

        gx = rows(slice(r, r + w))
        # Then columns: the right pad columns onto the first image columns, the left ones onto the last.
        gx[..., 0:r] += rows(slice(w + r, w + 2 * r))
        gx[..., w - r:w] += rows(slice(0, r))
        return gx, None


def circular_pad(x: torch.Tensor, r: int) -> torch.Tensor:
    """``F.pad(x, (r, r, r, r), mode="circular")`` of ``(B, C, H, W)`` maps (``1 <= r <= min(H, W)``),
    with a backward pass that touches only the border."""
    return _CircularPad.apply(x, int(r))


def circular_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` of a ``torch.nn.Conv2d``: a circular padding is :func:`circular_pad`."""
    pad = conv.padding
    if conv.padding_mode != "circular" or not isinstance(pad, tuple) or pad[0] != pad[1] or pad[0] < 1:
        return conv(x)
    return F.conv2d(circular_pad(x, pad[0]), conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


class _GramProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad, f) + torch.bmm(grad.transpose(1, 2), f)


def gram_product(f: torch.Tensor) -> torch.Tensor:
    """``f @ f.transpose(1, 2)`` of contiguous ``(B, C, N)`` features -> ``(B, C, C)``."""
    if not f.is_contiguous():
        return f @ f.transpose(1, 2)
    return _GramProduct.apply(f)


class _AvgPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: int, divisors: tuple[int, ...]) -> torch.Tensor:
        ctx.k, ctx.divisors = k, divisors
        ctx.shape = tuple(x.shape)
        total = x[..., 0::k, 0::k]
        for i in range(k):
            for j in range(k):
                if i or j:
                    total = total + x[..., i::k, j::k]
        for d in divisors:
            total = total.div_(d)
        return total.add_(0.0)  # torch sums from +0.0, so an all-zero window gives +0.0

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        k = ctx.k
        b, c, h, w = ctx.shape
        share = grad
        for d in ctx.divisors:
            share = share / d
        share = share + 0.0  # torch adds each share to a zeroed gradient: -0.0 becomes +0.0
        return share[:, :, :, None, :, None].expand(b, c, h // k, k, w // k, k).reshape(b, c, h, w), None, None


def _divides(x: torch.Tensor, k: int) -> bool:
    return x.dim() == 4 and k > 1 and x.shape[-2] % k == 0 and x.shape[-1] % k == 0


def avg_pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """``F.avg_pool2d(x, k)`` of ``(B, C, H, W)`` maps (faster where ``k`` > 1 divides H and W)."""
    k = int(k)
    return _AvgPool.apply(x, k, (k * k,)) if _divides(x, k) else F.avg_pool2d(x, k)


def adaptive_avg_pool(x: torch.Tensor, size: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` (also ``F.interpolate(x, (size, size), mode="area")``) of
    ``(B, C, H, W)`` maps (faster where ``size`` divides H and W by the same ``k`` > 1: torch's kernel
    then averages ``k x k`` windows, dividing by ``k`` twice)."""
    size = int(size)
    k = x.shape[-1] // size if x.dim() == 4 and size > 0 else 0
    if x.shape[-2] == x.shape[-1] == k * size and _divides(x, k):
        return _AvgPool.apply(x, k, (k, k))
    return F.adaptive_avg_pool2d(x, size)


class _ChannelNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = x[:, 0:1] * x[:, 0:1]
        for c in range(1, x.shape[1]):
            s = s + x[:, c:c + 1] * x[:, c:c + 1]
        norm = s.double().sqrt().to(x.dtype)
        ctx.save_for_backward(x, norm)
        return norm

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        x, norm = ctx.saved_tensors
        return grad * (x / norm).masked_fill_(norm == 0, 0)


def channel_norm(x: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.vector_norm(x, 2, dim=1, keepdim=True)`` of float32 ``(B, C, H, W)`` maps."""
    if x.dtype != torch.float32 or x.dim() != 4:
        return torch.linalg.vector_norm(x, 2, dim=1, keepdim=True)
    return _ChannelNorm.apply(x)


def normalize_channels(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``F.normalize(x, dim=1, eps=eps)`` of ``(B, C, H, W)`` maps."""
    return x / channel_norm(x).clamp_min(eps).expand_as(x)
