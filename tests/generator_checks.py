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


def check_deterministic_and_seeded(spec, params: dict, res: int = 32) -> None:
    """Same seed -> identical image; another seed -> a different one."""
    a, b, c = spec(params, res, seed=1), spec(params, res, seed=1), spec(params, res, seed=2)
    assert torch.equal(a, b)
    assert (a - c).abs().mean().item() > 0.01


def check_batch_items_independent(spec, params: dict, res: int = 32, seed: int = 4) -> None:
    """Item k of a batch equals the same parameters evaluated alone."""
    batch = spec(params, res, seed=seed)
    n = next(iter(params.values())).shape[0]
    for k in range(n):
        alone = spec({name: v[k:k + 1] for name, v in params.items()}, res, seed=seed)
        torch.testing.assert_close(batch[k:k + 1], alone, atol=1e-6, rtol=0)
