"""The field's fit scores: patch SWD and the Lab colour distance."""

import pytest
import torch

from proxymat.colorspace import srgb_to_lab
from proxymat.metrics import SCORE_DOCS, fit_scores, lab_distance, laplacian_pyramid, patch_swd, pyramid_levels


def _texture(seed: int, res: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, res // 4, res // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=(res, res), mode="bilinear", align_corners=False)


def test_lab_of_reference_colours():
    white = srgb_to_lab(torch.ones(1, 3, 1, 1)).flatten()
    assert white.tolist() == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    red = srgb_to_lab(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten()
    assert red.tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # standard sRGB red in Lab (D65)
    grey = srgb_to_lab(torch.full((1, 3, 1, 1), 0.5)).flatten()
    assert grey[1:].abs().max() < 1e-3


def test_lab_is_differentiable():
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_()
    assert torch.autograd.gradcheck(srgb_to_lab, (x,), eps=1e-6, atol=1e-4)


def test_identical_images_score_zero_and_shifts_almost_zero():
    a = _texture(0)
    assert patch_swd(a, a) == 0.0 and lab_distance(a, a) == 0.0
    shifted = torch.roll(a, (13, 29), (2, 3))
    darker = _texture(1) ** 2  # another texture of another palette
    assert lab_distance(shifted, a) < 1e-3
    assert patch_swd(shifted, a) < 0.25 * patch_swd(darker, a)


def test_patch_swd_orders_by_similarity():
    a = _texture(0)
    flat = a.mean((2, 3), keepdim=True).expand_as(a).contiguous()
    noisy = (a + 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    assert patch_swd(noisy, a) < patch_swd(flat, a)


def test_lab_distance_sees_a_hue_swap_that_luminance_misses():
    a = _texture(0) * torch.tensor([1.0, 0.6, 0.3]).view(1, 3, 1, 1)  # orange-brown
    swapped = a[:, [2, 1, 0]]  # red <-> blue: hues change, the mean luminance barely moves
    assert lab_distance(swapped, a) > 5.0


def test_pyramid_levels_and_reconstruction():
    assert [pyramid_levels(r) for r in (16, 32, 128, 256, 512)] == [1, 1, 3, 4, 5]
    a = _texture(0)
    bands = laplacian_pyramid(a, 3)
    assert [b.shape[-1] for b in bands] == [64, 32, 16]


def test_fit_scores_resizes_the_target_and_documents_every_key():
    a = _texture(0, 64)
    big = a.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # area-downsamples back to ``a`` exactly
    scores = fit_scores(a, big)
    assert set(scores) == set(SCORE_DOCS)
    assert scores["lab_distance"] < 1e-3 and scores["patch_swd"] < 1e-3


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        patch_swd(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="one size"):
        lab_distance(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 33, 18), (1, 1, 7, 5)])
def test_a_pyramid_step_is_the_circular_binomial_blur_at_every_second_pixel(shape):
    """The strided step gives exactly the full blur's even pixels, forward and backward (odd sizes too)."""
    from proxymat.metrics import _down

    x = torch.rand(shape, generator=torch.Generator().manual_seed(3), requires_grad=True)
    k = torch.tensor([1.0, 2.0, 1.0]) / 4.0
    blur = sum(k[i] * k[j] * torch.roll(x, (1 - i, 1 - j), dims=(-2, -1)) for i in range(3) for j in range(3))
    ref = blur[..., ::2, ::2]
    out = _down(x)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    w = torch.rand(ref.shape, generator=torch.Generator().manual_seed(4))
    g_out, = torch.autograd.grad((out * w).sum(), x)
    g_ref, = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(g_out, g_ref, rtol=1e-5, atol=1e-6)
