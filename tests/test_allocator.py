"""retain_freed_memory sets glibc's thresholds where there is glibc, and changes no result."""

from __future__ import annotations

import platform
import sys

import pytest
import torch

from proxymat.allocator import retain_freed_memory


def test_retain_freed_memory_reports_whether_it_applied() -> None:
    applied = retain_freed_memory()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert applied is True
    else:
        assert applied is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting")
def test_results_are_unchanged_after_retaining_memory() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 16, 128, 128, generator=gen)
    before = torch.nn.functional.avg_pool2d(x.exp(), 2).sum()
    assert retain_freed_memory()
    big = [torch.empty(1 << 20) for _ in range(4)]  # allocated and freed from the heap now
    del big
    assert torch.equal(torch.nn.functional.avg_pool2d(x.exp(), 2).sum(), before)
