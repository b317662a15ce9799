"""sort_last: torch's sorted values bit for bit, with torch's gradient."""

import pytest
import torch

from proxymat.sorting import sort_last


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 64, 257), (2, 16, 1024)])
def test_values_equal_torch_sort(dtype, shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    x[..., ::5] = 0.5  # ties, as a clamped render's flat regions give
    out = sort_last(x)
    assert out.dtype == dtype and torch.equal(out, x.sort(dim=-1).values)


def test_non_contiguous_rows_and_nan_last():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(2)).t()  # rows strided
    x[1, 7] = float("nan")
    out, ref = sort_last(x), x.sort(dim=-1).values
    assert torch.isnan(out[1, -1]) and torch.isnan(ref[1, -1])
    assert torch.equal(out[:, :-1], ref[:, :-1]) and torch.equal(out[0], ref[0])


def test_gradient_is_torch_sorts_ties_included():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 32, 500, generator=gen).round(decimals=1).requires_grad_(True)  # many ties
    w = torch.randn(4, 32, 500, generator=gen)
    ours, = torch.autograd.grad((sort_last(x) * w).sum(), x)
    theirs, = torch.autograd.grad((x.sort(dim=-1).values * w).sum(), x)
    assert torch.equal(ours, theirs)


def test_no_gradient_recorded_under_no_grad():
    x = torch.randn(2, 100, requires_grad=True)
    with torch.no_grad():
        out = sort_last(x)
    assert not out.requires_grad and torch.equal(out, x.detach().sort(dim=-1).values)


def test_other_dtypes_fall_back_to_torch():
    x = torch.tensor([[5, 2, 9, 1]])
    assert torch.equal(sort_last(x), torch.tensor([[1, 2, 5, 9]]))
    assert sort_last(torch.empty(2, 0)).shape == (2, 0)
