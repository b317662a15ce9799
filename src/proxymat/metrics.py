"""Scores the field reports for a material fit: patch SWD and a Lab colour distance.

Both compare two display-encoded images ``(1, 3, H, W)`` in [0, 1] (a render
and its target) and need no downloaded weights. They are measurements, not the
optimized loss: the optimizer never sees them, so they can judge it.

* :func:`patch_swd` — sliced Wasserstein distance between the distributions
  of random 7x7 colour patches, per level of a Laplacian pyramid, averaged over
  levels (the patch SWD of ProcMatRL / conditional MatFormer). Lower is better;
  identical images score 0 and a circular shift of an image scores ~0.
* :func:`lab_distance` — Euclidean distance between the per-channel means and
  standard deviations of the two images in CIE Lab (6 numbers each). It sees
  a palette that is off (wrong hue, wrong contrast) even when the texture
  statistics agree.

>>> scores = fit_scores(render, target)   # {"patch_swd": ..., "lab_distance": ...}
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .colorspace import srgb_to_lab
from .sorting import sort_last

PATCH = 7
MIN_LEVEL_PX = 16

SCORE_DOCS: dict[str, str] = {
    "patch_swd": "Patch SWD (x1000): how far apart the distributions of 7x7 colour patches of the render and "
                 "the target are, over a Laplacian pyramid (structure, grain and colour together; 0 = same "
                 "texture statistics; the field's metric, ProcMatRL).",
    "lab_distance": "Lab colour distance: Euclidean distance between the means and standard deviations of the "
                    "two images in CIE Lab (palette and contrast; about 2.3 is a just-noticeable difference in "
                    "the mean colour).",
}


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    for name, x in (("render", a), ("target", b)):
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f"metrics expect (1, 3, H, W) images; the {name} has shape {tuple(x.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"metrics compare images of one size; got {tuple(a.shape)} and {tuple(b.shape)}")


def _down(x: torch.Tensor) -> torch.Tensor:
    """Blur with a 1-2-1 binomial kernel (circular) and halve: one Gaussian-pyramid step."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device) / 4.0
    c = x.shape[1]
    x = F.pad(x, (1, 1, 1, 1), mode="circular")
    # strided passes compute only the kept pixels: the same sums as blurring everything and taking every
    # second pixel, at about a sixth of the cost (forward and backward)
    x = F.conv2d(x, k.view(1, 1, 1, 3).expand(c, 1, 1, 3), groups=c, stride=(1, 2))
    return F.conv2d(x, k.view(1, 1, 3, 1).expand(c, 1, 3, 1), groups=c, stride=(2, 1))


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels, finest first; the last entry is the low-pass residual."""
    out = []
    for _ in range(levels - 1):
        low = _down(x)
        out.append(x - F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False))
        x = low
    out.append(x)
    return out


def pyramid_levels(res: int) -> int:
    """log2(res / 16) levels (at least one), as the field computes patch SWD."""
    return max(1, int(math.log2(max(res, MIN_LEVEL_PX) / MIN_LEVEL_PX)))


def patches_at(x: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """7x7 patches of ``x (B, C, H, W)`` centred at (ys, xs), wrapping around the edges (tileable maps):
    ``(B, N, C*49)``, each patch channel by channel, rows then columns."""
    b, c, h, w = x.shape
    n = ys.shape[0]
    offs = torch.arange(PATCH, device=x.device) - PATCH // 2
    rows = (ys.to(x.device).view(n, 1) + offs.view(1, PATCH)) % h  # (n, 7)
    cols = (xs.to(x.device).view(n, 1) + offs.view(1, PATCH)) % w
    flat = (rows.view(n, PATCH, 1) * w + cols.view(n, 1, PATCH)).reshape(-1)  # (N * 49,) pixel indices
    p = x.reshape(b, c, h * w)[:, :, flat].view(b, c, n, PATCH * PATCH)  # half index_select's cost with backward
    return p.transpose(1, 2).reshape(b, n, c * PATCH * PATCH)


def patch_swd(a: torch.Tensor, b: torch.Tensor, patches: int = 2048, directions: int = 512, seed: int = 0) -> float:
    """Patch sliced Wasserstein distance (x1000) between two images ``(1, 3, H, W)``.

    Per pyramid level: ``patches`` random 7x7 patches of each image (the same random
    positions in both, so identical images score exactly 0), projected on ``directions`` random unit
    vectors; the mean absolute difference of the sorted projections, averaged over
    directions and levels. Deterministic for a given ``seed``.
    """
    _check_pair(a, b)
    gen = torch.Generator().manual_seed(int(seed))
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    levels = pyramid_levels(int(a.shape[-1]))
    total = 0.0
    for la, lb in zip(laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)):
        h, w = la.shape[-2:]
        ys, xs = torch.randint(0, h, (patches,), generator=gen), torch.randint(0, w, (patches,), generator=gen)
        pa, pb = patches_at(la, ys, xs)[0], patches_at(lb, ys, xs)[0]
        dirs = torch.randn(pa.shape[1], directions, generator=gen)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        sa = sort_last(dirs.t() @ pa.t())  # (directions, patches): sorted along contiguous rows (fast)
        sb = sort_last(dirs.t() @ pb.t())
        total += float((sa - sb).abs().mean())
    return 1000.0 * total / levels


def lab_moments(x: torch.Tensor) -> torch.Tensor:
    """Means and standard deviations of L, a, b over the image: ``(B, 6)``."""
    lab = srgb_to_lab(x).flatten(2)
    return torch.cat((lab.mean(2), lab.std(2, unbiased=False)), dim=1)


def lab_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Euclidean distance between the Lab means and standard deviations of two images."""
    _check_pair(a, b)
    return float((lab_moments(a.detach().float()) - lab_moments(b.detach().float())).norm())


def fit_scores(render: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Patch SWD and Lab distance of a render against its target (the target is resized to the render's size)."""
    render = render.detach().float().cpu()
    target = target.detach().float().cpu()
    if target.shape[-2:] != render.shape[-2:]:
        mode = "area" if target.shape[-1] > render.shape[-1] else "bilinear"
        target = F.interpolate(target, size=render.shape[-2:], mode=mode, align_corners=None if mode == "area" else False)
    return {"patch_swd": patch_swd(render, target), "lab_distance": lab_distance(render, target)}
