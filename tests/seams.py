"""Shared tileability check for generator tests."""

import torch


def seam_ok(img: torch.Tensor, factor: float = 1.5) -> bool:
    """Wrap-around differences are like interior neighbour differences, along both axes."""
    for dim in (-1, -2):
        inner = img.diff(dim=dim).abs().mean()
        seam = (img.select(dim, 0) - img.select(dim, -1)).abs().mean()
        if seam > factor * inner + 1e-3:
            return False
    return True
