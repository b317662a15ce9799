"""The exact ops give bit for bit the values and gradients of the torch expressions they replace."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from proxymat.exact_ops import (adaptive_avg_pool, avg_pool, channel_norm, circular_conv, circular_pad, gram_product,
                                 normalize_channels)


def _grads(fn, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    (gx,) = torch.autograd.grad(y, x, g)
    return y.detach(), gx


@pytest.mark.parametrize("shape,r", [((2, 3, 9, 7), 1), ((1, 4, 1, 1), 1), ((1, 2, 2, 3), 1), ((2, 3, 8, 8), 2),
                                     ((1, 2, 3, 5), 3), ((1, 16, 32, 32), 1)])
def test_circular_pad_matches_torch(shape: tuple[int, ...], r: int) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    h, w = shape[-2:]
    g = torch.randn(shape[0], shape[1], h + 2 * r, w + 2 * r, generator=gen)
    want, want_gx = _grads(lambda t: F.pad(t, (r, r, r, r), mode="circular"), x, g)
    got, got_gx = _grads(lambda t: circular_pad(t, r), x, g)
    assert torch.equal(got, want)
    assert torch.equal(got_gx, want_gx)
    assert got_gx.is_contiguous()


def test_circular_conv_gradient_matches_padded_conv() -> None:
    gen = torch.Generator().manual_seed(2)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular", bias=False)
    x = torch.rand(2, 3, 16, 16, generator=gen)
    g = torch.randn(2, 8, 16, 16, generator=gen)
    want, want_gx = _grads(conv, x, g)
    got, got_gx = _grads(lambda t: circular_conv(conv, t), x, g)
    assert torch.equal(got, want)
    assert torch.equal(got_gx, want_gx)


@pytest.mark.parametrize("b,c,n", [(1, 16, 4096), (3, 32, 1024), (8, 64, 256), (2, 128, 16), (1, 96, 1)])
def test_gram_product_matches_matmul(b: int, c: int, n: int) -> None:
    gen = torch.Generator().manual_seed(3)
    f = torch.relu(torch.randn(b, c, n, generator=gen))
    g = torch.randn(b, c, c, generator=gen)
    want, want_gf = _grads(lambda t: t @ t.transpose(1, 2), f, g)
    got, got_gf = _grads(gram_product, f, g)
    assert torch.equal(got, want)
    assert torch.equal(got_gf, want_gf)


def test_gram_product_of_strided_features_falls_back() -> None:
    f = torch.rand(2, 5, 6).transpose(1, 2)
    assert torch.equal(gram_product(f), f @ f.transpose(1, 2))


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 1, 5), (3, 2, 8, 8), (1, 4, 16, 16)])
def test_channel_norm_and_normalize_match_torch(shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(*shape, generator=gen) * 2 - 1
    x[0, :, 0, 0] = 0.0  # a zero vector: norm 0, gradient 0
    g = torch.randn(shape[0], 1, *shape[2:], generator=gen)
    want, want_gx = _grads(lambda t: torch.linalg.vector_norm(t, 2, dim=1, keepdim=True), x, g)
    got, got_gx = _grads(channel_norm, x, g)
    assert torch.equal(got, want)
    assert torch.equal(got_gx, want_gx)
    gn = torch.randn(*shape, generator=gen)
    want, want_gx = _grads(lambda t: F.normalize(t, dim=1, eps=1e-6), x, gn)
    got, got_gx = _grads(lambda t: normalize_channels(t, 1e-6), x, gn)
    assert torch.equal(got, want)
    assert torch.equal(got_gx, want_gx)


@pytest.mark.parametrize("shape,k", [((2, 3, 8, 8), 2), ((1, 16, 32, 32), 2), ((3, 2, 16, 8), 4), ((1, 1, 2, 2), 2),
                                     ((2, 3, 9, 9), 3), ((1, 2, 5, 6), 2), ((1, 2, 4, 4), 1)])
def test_avg_pool_matches_torch(shape: tuple[int, ...], k: int) -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(*shape, generator=gen)
    x[..., 0:k, 0:k] = -0.0  # an all-zero window
    g = torch.randn(shape[0], shape[1], shape[2] // k, shape[3] // k, generator=gen)
    g[..., 0, 0] = -0.0
    want, want_gx = _grads(lambda t: F.avg_pool2d(t, k), x, g)
    got, got_gx = _grads(lambda t: avg_pool(t, k), x, g)
    assert torch.equal(got, want) and torch.equal(got.signbit(), want.signbit())
    assert torch.equal(got_gx, want_gx) and torch.equal(got_gx.signbit(), want_gx.signbit())


@pytest.mark.parametrize("shape,size", [((2, 3, 16, 16), 4), ((1, 3, 256, 256), 64), ((1, 1, 12, 12), 6), ((1, 3, 10, 10), 4),
                                        ((1, 3, 8, 12), 4), ((2, 2, 8, 8), 8)])
def test_adaptive_avg_pool_matches_torch(shape: tuple[int, ...], size: int) -> None:
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(*shape, generator=gen)
    g = torch.randn(shape[0], shape[1], size, size, generator=gen)
    want, want_gx = _grads(lambda t: F.adaptive_avg_pool2d(t, size), x, g)
    got, got_gx = _grads(lambda t: adaptive_avg_pool(t, size), x, g)
    assert torch.equal(got, want)
    assert torch.equal(got_gx, want_gx)
    area = F.interpolate(x, size=(size, size), mode="area")
    assert torch.equal(adaptive_avg_pool(x, size), area)
