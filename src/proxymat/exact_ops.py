"""Autograd functions that give bit for bit the values and gradients of plain torch expressions, faster.

Each function here computes exactly what the expression it names computes
(forward values and input gradients equal to the last bit, on CPU), with a
cheaper backward or forward pass:

* :func:`circular_pad` is ``F.pad(x, (r, r, r, r), mode="circular")``. Torch
  builds that pad from in-place copies into views, whose backward clones,
  zero-fills and adds the whole padded gradient once per copy; here the
  gradient folds the padded border back onto the image in the same order
  (bottom rows, top rows, right columns, left columns), touching only the border.
* :func:`gram_product` is ``f @ f.transpose(1, 2)`` for ``(B, C, N)`` features.
  Torch's backward adds ``g @ f`` to the transpose of ``f^T @ g``, a strided
  add that costs several times the products; here the second term is the
  product ``g^T @ f``, which the same BLAS gives transposed bit for bit, and
  the add is contiguous.
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
