"""Proxy fidelity metrics (L1, SSIM, Gram distance) and a real-vs-proxy image grid."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..features import TextureFeatures, gram_descriptor
from ..nodes.generators.base import GeneratorSpec
from .model import sample_params

SSIM_K1, SSIM_K2 = 0.01, 0.03


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image -> (B,)."""
    return (a - b).abs().flatten(1).mean(dim=1)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalized separable 1-D Gaussian of ``size`` taps."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Valid (no padding) separable Gaussian filtering of (B, C, H, W), per channel."""
    c = x.shape[1]
    kx = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Gaussian-window SSIM (Wang et al. 2004) per image -> (B,).

    Local statistics use a ``window``-tap Gaussian (shrunk to the image size
    for tiny images) over valid positions only, population (co)variances, and
    ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``; the map is averaged over
    positions and channels.
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim: expected two (B, C, H, W) tensors of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    out_dtype = a.dtype
    a, b = a.double(), b.double()  # E[x^2] - mu^2 cancels badly in float32
    size = min(window, a.shape[-1], a.shape[-2])
    g = gaussian_window(size, sigma, a.dtype).to(a.device)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = _blur(a, g), _blur(b, g)
    var_a = _blur(a * a, g) - mu_a**2
    var_b = _blur(b * b, g) - mu_b**2
    cov = _blur(a * b, g) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(dim=1).to(out_dtype)


def gram_distance(
    a: torch.Tensor, b: torch.Tensor, features: TextureFeatures | None = None, scales: Sequence[float] | None = None
) -> torch.Tensor:
    """Mean absolute difference of multi-scale Gram descriptors per image -> (B,).

    Default scales: those of (1, 1/2, 1/4) that leave the image at least as
    large as the network's stride.
    """
    features = features or TextureFeatures()
    if scales is None:
        scales = [s for s in (1.0, 0.5, 0.25) if min(a.shape[-2:]) * s >= features.stride] or [1.0]
    da, db = gram_descriptor(a, features, scales), gram_descriptor(b, features, scales)
    return (da - db).abs().mean(dim=1)


@torch.no_grad()
def evaluate_proxy(
    proxy: Callable[[torch.Tensor], torch.Tensor],
    spec: GeneratorSpec,
    n: int = 256,
    res: int | None = None,
    seed: int = 12345,
    batch: int = 16,
    gen_seed: int = 0,
    features: TextureFeatures | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Fidelity of ``proxy`` against the real generator on ``n`` random parameter sets.

    Parameters are drawn in the sample box with their own ``seed``; both maps
    are compared at ``res`` (default: the proxy's resolution; the proxy output
    is resized when it differs). Returns mean L1, SSIM and Gram distance, and
    as a floor for context ``flat_l1`` / ``flat_ssim``: the scores of a flat
    image at each target's median, i.e. of a proxy that draws no structure at
    all (for sparse maps such as scratches this is nearly black, and a low
    L1 alone says little). For the texture descriptor, ``flat_gram`` is the flat
    image's Gram distance and ``seed_gram`` the real generator's own at another
    layout seed (``gen_seed + 1``, the same parameters): the floor a proxy of a
    stochastic generator cannot go below, since it draws one layout per vector.
    """
    res = int(res or getattr(proxy, "res", 0) or 128)
    features = (features or TextureFeatures()).to(device)
    gen = torch.Generator().manual_seed(seed)
    sums = {"l1": 0.0, "ssim": 0.0, "gram": 0.0, "flat_l1": 0.0, "flat_ssim": 0.0, "flat_gram": 0.0, "seed_gram": 0.0}
    for start in range(0, n, batch):
        p, real = sample_params(spec, min(batch, n - start), gen)
        target = spec({k: v.to(device) for k, v in real.items()}, res, gen_seed).to(device)
        out = _proxy_at(proxy, p.to(device), res)
        sums["l1"] += l1(out, target).sum().item()
        sums["ssim"] += ssim(out, target).sum().item()
        sums["gram"] += gram_distance(out, target, features).sum().item()
        flat = flat_like(target)
        sums["flat_l1"] += l1(flat, target).sum().item()
        sums["flat_ssim"] += ssim(flat, target).sum().item()
        sums["flat_gram"] += gram_distance(flat, target, features).sum().item()
        other = spec({k: v.to(device) for k, v in real.items()}, res, gen_seed + 1).to(device)
        sums["seed_gram"] += gram_distance(other, target, features).sum().item()
    return {**{k: v / n for k, v in sums.items()}, "n": n, "res": res}


def flat_like(target: torch.Tensor) -> torch.Tensor:
    """Each map replaced by a flat image at its own median (the best constant under L1)."""
    med = target.flatten(1).median(dim=1).values
    return med.view(-1, *([1] * (target.dim() - 1))).expand_as(target).contiguous()


def _proxy_at(proxy: Callable[[torch.Tensor], torch.Tensor], p: torch.Tensor, res: int) -> torch.Tensor:
    if hasattr(proxy, "at_res"):
        return proxy.at_res(p, res)
    out = proxy(p)
    if out.shape[-1] == res:
        return out
    mode = "area" if out.shape[-1] > res else "bilinear"
    return F.interpolate(out, size=(res, res), mode=mode).clamp(0.0, 1.0)


def comparison_grid(real: torch.Tensor, proxy_out: torch.Tensor, path: str | Path, max_cols: int = 8, gap: int = 2) -> Path:
    """Write an 8-bit PNG: real maps on the top row, proxy maps below (white gaps)."""
    from PIL import Image

    if real.shape != proxy_out.shape or real.ndim != 4 or real.shape[1] != 1:
        raise ValueError(f"comparison_grid: expected two (B, 1, H, W) tensors of equal shape, got {tuple(real.shape)} and {tuple(proxy_out.shape)}")
    cols = min(real.shape[0], max_cols)
    h, w = real.shape[-2:]
    canvas = torch.ones(2 * h + gap, cols * w + (cols - 1) * gap)
    for row, imgs in enumerate((real, proxy_out)):
        for k in range(cols):
            y, x = row * (h + gap), k * (w + gap)
            canvas[y : y + h, x : x + w] = imgs[k, 0].detach().float().cpu().clamp(0, 1)
    arr = (canvas * 255 + 0.5).floor().to(torch.uint8).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def proxy_grid(proxy: Callable[[torch.Tensor], torch.Tensor], spec: GeneratorSpec, path: str | Path,
               res: int | None = None, n: int = 8, seed: int = 7, gen_seed: int = 0,
               device: str | torch.device = "cpu") -> Path:
    """Real-vs-proxy grid (like the paper's Fig. 7) on ``n`` random parameter sets from the sample box."""
    p, real = sample_params(spec, n, torch.Generator().manual_seed(seed))
    res = int(res or getattr(proxy, "res", 0) or 128)
    with torch.no_grad():
        target = spec(real, res, gen_seed)
        out = _proxy_at(proxy, p.to(device), res).cpu()
    return comparison_grid(target, out, path)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for maps in [0, 1] -> (B,)."""
    mse = (a - b).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


__all__ = ["comparison_grid", "evaluate_proxy", "flat_like", "gaussian_window", "gram_distance", "l1", "psnr", "ssim"]
