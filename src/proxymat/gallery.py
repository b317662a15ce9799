"""Image grids of random generator samples, so a person can look at them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .nodes.generators.base import GeneratorSpec


def tile_grid(images: torch.Tensor, cols: int | None = None, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) -> (1, C, rows*(H+pad)-pad, cols*(W+pad)-pad) grid on a white background."""
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = torch.ones(1, c, rows * (h + pad) - pad, cols * (w + pad) - pad)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[0, :, r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = images[k]
    return grid


def write_gallery(spec: GeneratorSpec, out_dir: Path, n: int = 16, res: int = 128, seed: int = 0) -> Path:
    """Write ``<name>_gallery.png`` and the sampled parameters as JSON; return the PNG path."""
    from .atomic import atomic_write_text
    from .io import write_png

    if n < 1 or n > 256:
        raise ValueError(f"gallery size must be 1..256, got {n}")
    from .proxy.model import sample_params

    _, params = sample_params(spec, n, torch.Generator().manual_seed(seed))
    images = spec(params, res, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{spec.name}_gallery.png"
    write_png(path, tile_grid(images), bits=8)
    rows = [{k: float(v[i]) for k, v in params.items()} for i in range(n)]
    atomic_write_text(out_dir / f"{spec.name}_gallery.json", json.dumps(rows, indent=1) + "\n")
    return path
