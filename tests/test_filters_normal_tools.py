"""Behaviour of normal_to_height, normal_rotate and normal_normalize (filters/normal_tools.py)."""

from __future__ import annotations

import math

import torch

from proxymat.nodes.filters import normal_tools as NT
from proxymat.nodes.filters import normals as N

D = torch.float64


def test_normal_to_height_inverts_height_to_normal_up_to_scale():
    res = 32
    u = (torch.arange(res, dtype=D) + 0.5) / res
    h = 0.5 + 0.2 * torch.cos(2 * math.pi * u).view(1, res) * torch.sin(2 * math.pi * 2 * u).view(res, 1)
    h = h + 0.1 * torch.cos(2 * math.pi * 3 * (u.view(1, res) + u.view(res, 1)))
    h = h.view(1, 1, res, res)
    back = NT.normal_to_height(N.height_to_normal(h, torch.tensor(1.0, dtype=D)))
    centred = h - h.mean()
    expected = 0.5 + 0.5 * centred / centred.abs().max()
    torch.testing.assert_close(back, expected, atol=1e-6, rtol=0)


def test_normal_rotate_quarter_turn_and_normalize():
    n = N.encode(N.normalize(torch.tensor([0.3, 0.0, 1.0], dtype=D).view(1, 3, 1, 1)))
    rot = N.decode(NT.normal_rotate(n, torch.tensor(0.25, dtype=D)))
    torch.testing.assert_close(rot.flatten(), N.decode(n).flatten()[[1, 0, 2]], atol=1e-12, rtol=0)
    long = torch.tensor([0.2, 0.0, 0.8], dtype=D).view(1, 3, 1, 1)  # encoded, not unit
    unit = NT.normal_normalize(long) * 2 - 1
    assert abs(unit.norm().item() - 1.0) < 1e-12
    torch.testing.assert_close(unit / unit.norm(), (long * 2 - 1) / (long * 2 - 1).norm())
