"""Sorting along the last dimension, through numpy's sort where no gradient is needed (several times faster).

:func:`sort_last` returns ``x.sort(dim=-1).values`` bit for bit. Where autograd records
(``x`` requires grad and grad mode is on) it is torch's sort itself. Elsewhere (the
material loss's target side, the random search's and the polish's candidate scores, the
patch-SWD metric) the values come from ``numpy.sort``: on 64 rows of 1024 float32 values
(one level of the patch term) about a tenth of torch's time at one thread (numpy sorts on one
thread; torch spreads rows over its threads). Sorted values do not depend on the algorithm, so
both paths agree to the last bit; numpy sorts NaN last, as torch does.

Why not numpy's argsort for the differentiable path too (about 2x faster than torch's
sort there): rows of a rendered image hold many equal values (clamped and flat regions),
and each sort orders equal values its own way, which hands their gradients to different
inputs; the optimizer's results would then differ from torch's in their last bits and, by
chance, in a category or a count.
"""

from __future__ import annotations

import numpy as np
import torch

_NUMPY_DTYPES = (torch.float32, torch.float64)


def sort_last(x: torch.Tensor) -> torch.Tensor:
    """``x.sort(dim=-1).values``, differentiable; through ``numpy.sort`` on CPU where no gradient is recorded."""
    recording = x.requires_grad and torch.is_grad_enabled()
    if recording or x.device.type != "cpu" or x.dtype not in _NUMPY_DTYPES or x.dim() == 0:
        return x.sort(dim=-1).values
    return torch.from_numpy(np.sort(x.detach().numpy(), axis=-1))
