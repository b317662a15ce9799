"""Counter-based hashing: order-independent, batch-parallel, count-stable randomness.

Random values are pure functions of integer keys (cell ids, object ids, seed,
stream index), so adding tiles or splines never reshuffles existing ones and
results do not depend on batch size or evaluation order.
"""

from __future__ import annotations

import torch

_MASK = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """Bijective 32-bit integer mixer (xor-shift-multiply), on int64 tensors."""
    x = x & _MASK
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK
    x = x ^ (x >> 16)
    return x


def hash_u32(*keys: torch.Tensor | int) -> torch.Tensor:
    """Hash any number of integer keys (tensors broadcast together) to uint32 values in int64."""
    h: torch.Tensor | None = None
    for k in keys:
        kt = torch.as_tensor(k, dtype=torch.int64, device=None if h is None else h.device)
        if h is None:
            h = _mix32(kt + 0x9E3779B9)
        else:
            h = _mix32(h ^ _mix32(kt + 0x632BE5AB))
    if h is None:
        raise ValueError("hash_u32 needs at least one key")
    return h


def uniform(*keys: torch.Tensor | int) -> torch.Tensor:
    """Uniform float32 in [0, 1) from integer keys."""
    return (hash_u32(*keys) >> 8).to(torch.float32) * (1.0 / 16777216.0)


def signed(*keys: torch.Tensor | int) -> torch.Tensor:
    """Uniform float32 in [-1, 1) from integer keys."""
    return uniform(*keys) * 2.0 - 1.0
