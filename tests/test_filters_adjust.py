"""Behaviour of the per-pixel adjustment nodes (filters/adjust.py)."""

from __future__ import annotations

import pytest
import torch

from proxymat.nodes.filters import adjust as A


def row(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64).view(1, 1, 1, -1)


def t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def test_quantize_hard_staircase_and_continuity():
    out = A.quantize(row(0.0, 0.1, 0.2, 0.4, 0.6, 0.9, 1.0), 3, t(0.001))
    torch.testing.assert_close(out, row(0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0), atol=1e-6, rtol=0)
    x = torch.linspace(0, 1, 2001, dtype=torch.float64).view(1, 1, 1, -1)
    soft = A.quantize(x, 5, t(0.1))
    assert soft.diff().max() < 0.01 and (soft.diff() >= -1e-12).all()  # continuous and monotone


def test_auto_levels_stretches_each_image():
    x = torch.stack([row(0.2, 0.4, 0.6)[0], row(0.5, 0.5, 0.7)[0]])
    torch.testing.assert_close(A.auto_levels(x), torch.stack([row(0, 0.5, 1)[0], row(0, 0, 1)[0]]))


def test_sigmoid_contrast_keeps_ends_and_pivot():
    out = A.sigmoid_contrast(row(0.0, 0.3, 0.4, 0.5, 1.0), t(1.0), t(0.4))
    assert out[0, 0, 0, 0] == pytest.approx(0.0, abs=1e-9) and out[0, 0, 0, -1] == pytest.approx(1.0, abs=1e-9)
    assert out[0, 0, 0, 1] < 0.3 and out[0, 0, 0, 3] > 0.5  # steeper around the pivot
    torch.testing.assert_close(A.sigmoid_contrast(row(0.1, 0.7), t(0.0), t(0.4)), row(0.1, 0.7))


def test_smoothstep_values():
    out = A.smoothstep(row(0.0, 0.4, 0.5, 0.6, 1.0), t(0.4), t(0.6))
    torch.testing.assert_close(out, row(0.0, 0.0, 0.5, 1.0, 1.0))


def test_channel_shuffle_and_replace_color():
    x = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64).view(1, 3, 1, 1)
    out = A.channel_shuffle(x, "b", "luminance", "r")
    lum = 0.2126 * 0.1 + 0.7152 * 0.5 + 0.0722 * 0.9
    torch.testing.assert_close(out.flatten(), t([0.9, lum, 0.1]))
    near = A.replace_color(x, t([0.1, 0.5, 0.9]), t([0.3, 0.3, 0.3]), t(0.2), t(0.001))
    torch.testing.assert_close(near.flatten(), t([0.3, 0.3, 0.3]))
    far = A.replace_color(x, t([0.9, 0.1, 0.1]), t([0.3, 0.3, 0.3]), t(0.2), t(0.001))
    torch.testing.assert_close(far, x)


def test_difference():
    torch.testing.assert_close(A.difference(row(0.2, 0.9), row(0.5, 0.4)), row(0.3, 0.5))


def test_band_mask_selects_the_band():
    out = A.band_mask(row(0.1, 0.3, 0.45, 0.6, 0.9), t(0.3), t(0.6), t(0.001))
    torch.testing.assert_close(out, row(0.0, 0.5, 1.0, 0.5, 0.0), atol=1e-6, rtol=0)
