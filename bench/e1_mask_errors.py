"""Where a binary-mask proxy's error lies: next to the real mask's edges, and by zoom.

    .venv/bin/python bench/e1_mask_errors.py [--name pptbf_mask_cellular] [--n 256] [--threads 1]

Same held-out vectors as ``proxymat proxy eval`` (seed 12345, generator seed 0).
Prints mean L1 / SSIM, L1 of the proxy thresholded at 0.5, the share of pixels
that touch an edge of the real mask (3x3 neighbourhood holds both values) and
the share of the L1 error on those pixels, then the same by quartile of the
zoom range.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from proxymat.nodes.generators import get_generator
from proxymat.proxy.metrics import l1, ssim
from proxymat.proxy.model import sample_params
from proxymat.proxy.weights import load_proxy


def edge_pixels(mask: torch.Tensor) -> torch.Tensor:
    """Pixels whose 3x3 neighbourhood (wrapping) holds both values of a binary mask."""
    padded = F.pad(mask, (1, 1, 1, 1), mode="circular")
    return (F.max_pool2d(padded, 3, 1) + F.max_pool2d(-padded, 3, 1)) > 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="pptbf_mask_cellular")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    spec = get_generator(args.name)
    proxy = load_proxy(args.name, spec=spec)
    gen = torch.Generator().manual_seed(12345)
    zoom, real_maps, proxy_maps = [], [], []
    for start in range(0, args.n, 16):
        p, real = sample_params(spec, min(16, args.n - start), gen)
        real_maps.append(spec(real, proxy.res, 0))
        proxy_maps.append(proxy.at_res(p, proxy.res))
        zoom.append(real["zoom"].float())
    z, r, o = torch.cat(zoom), torch.cat(real_maps), torch.cat(proxy_maps)
    err, sim, edge = l1(o, r), ssim(o, r), edge_pixels(r)
    pixel_err = (o - r).abs()
    print(f"{len(err)} maps at {proxy.res} px: L1 {err.mean():.4f}, SSIM {sim.mean():.3f}, "
          f"L1 thresholded at 0.5 {l1((o > 0.5).float(), r).mean():.4f}")
    print(f"pixels next to an edge {edge.float().mean():.3f}, share of the error there "
          f"{(pixel_err * edge).sum() / pixel_err.sum():.3f}")
    lo, hi = spec.sample_box["zoom"]
    bounds = torch.linspace(lo, hi, 5).tolist()
    print("| zoom | maps | L1 | SSIM | pixels next to an edge |\n|---|---|---|---|---|")
    for a, b in zip(bounds[:-1], bounds[1:]):
        m = (z >= a) & ((z < b) if b < hi else (z <= b))
        print(f"| {a:.2f}-{b:.2f} | {int(m.sum())} | {err[m].mean():.3f} | {sim[m].mean():.2f} | {edge[m].float().mean():.2f} |")


if __name__ == "__main__":
    main()
