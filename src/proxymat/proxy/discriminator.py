"""The discriminator of GAN proxy training and its logistic loss with the R1 penalty.

:class:`Discriminator` is a small conv pyramid with a projection on an
embedding of the parameters P (conditional), or without it (``n_params=0``).
:func:`d_loss_local` computes the loss with separate passes (one process);
:func:`d_loss_one_pass` gives the same losses from one forward over fake and
real images together, as DistributedDataParallel allows one forward per backward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Discriminator(nn.Module):
    """Small conditional D: conv pyramid down to 4x4, projection with an embedding of P.

    With ``n_params=0`` it is unconditional (no projection term).
    """

    def __init__(self, n_params: int, res: int, base: int = 16, cmax: int = 128, hidden: int = 128):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, base, 3, padding=1, padding_mode="circular"), nn.LeakyReLU(0.2)]
        c, r = base, res
        while r > 4:
            c_out = min(c * 2, cmax)
            layers += [nn.Conv2d(c, c_out, 3, padding=1, padding_mode="circular"), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
            c, r = c_out, r // 2
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c * r * r, hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 1)
        self.embed = (
            nn.Sequential(nn.Linear(n_params, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden)) if n_params else None
        )
        self.hidden = hidden

    def forward(self, img: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(self.convs(img))
        logit = self.out(h).squeeze(1)
        if self.embed is None or p is None:
            return logit
        return logit + (h * self.embed(p)).sum(dim=1) / math.sqrt(self.hidden)


def d_loss_local(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor, p: torch.Tensor, with_r1: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(logistic D loss, R1 penalty or None) with separate fake / real / R1 passes (single process)."""
    loss = F.softplus(disc(fake, p)).mean() + F.softplus(-disc(real, p)).mean()
    if not with_r1:
        return loss, None
    real_r = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(real_r, p).sum(), real_r, create_graph=True)
    return loss, grad.square().sum(dim=(1, 2, 3)).mean()


def d_loss_one_pass(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor, p: torch.Tensor, with_r1: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Same losses from ONE forward over [fake; real] (DDP allows one forward per backward)."""
    real_in = real.detach().requires_grad_(with_r1)
    fake_logit, real_logit = disc(torch.cat([fake, real_in]), torch.cat([p, p])).split(fake.shape[0])
    loss = F.softplus(fake_logit).mean() + F.softplus(-real_logit).mean()
    if not with_r1:
        return loss, None
    (grad,) = torch.autograd.grad(real_logit.sum(), real_in, create_graph=True)
    return loss, grad.square().sum(dim=(1, 2, 3)).mean()
