"""A minimal hand-written PyTorch GAN loop: the reference for the trainer's overhead.

It does the same math as one seed of :class:`ganforget.train.trainer.Trainer` with an MLP
and the non-saturating loss, written the way a user would write it: ``nn.Linear`` layers,
the same optimizer, batch, latent size and data, one D step then one G step with D's
parameters frozen. Nothing else: no ensemble axis, no hooks, no callbacks, no checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforget.config import Config
from ganforget.data.source import ImageSource, ToySource


def _mlp(sizes: list[int], out_act: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if j < len(sizes) - 2:
            layers.append(nn.ReLU())
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class HandLoop:
    """One plain GAN (``nn.Linear`` MLPs) trained by a bare loop on ``source``'s data.

    Only ``model.arch=mlp`` with ``relu`` and the ``ns`` loss without penalty are supported:
    it is a yardstick, not a second trainer.
    """

    def __init__(self, cfg: Config, source, device: torch.device, seed: int = 0) -> None:
        m, o = cfg.model, cfg.optim
        if m.arch != "mlp" or m.act != "relu" or cfg.objective.loss != "ns":
            raise ValueError("the hand-written loop covers the ReLU MLP with the NS loss only")
        torch.manual_seed(seed)
        shape = tuple(source.shape)
        dim = math.prod(shape)
        image = isinstance(source, ImageSource)
        self.G = _mlp([m.nz] + [m.hidden] * m.depth + [dim], nn.Tanh() if image else None)
        self.D = _mlp([dim] + [m.hidden] * m.depth + [1], None)
        self.G.to(device)
        self.D.to(device)

        def make(params, lr):
            if o.name == "adam":
                return torch.optim.Adam(params, lr=lr, betas=tuple(o.betas))
            return torch.optim.SGD(params, lr=lr, momentum=o.momentum)

        self.opt_g = make(self.G.parameters(), o.lr_g)
        self.opt_d = make(self.D.parameters(), o.lr_d)
        self.batch, self.nz, self.device = cfg.data.batch_size, m.nz, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        if isinstance(source, ToySource):
            self.centers, self.std, self.images = source.centers, source.std, None
        else:
            self.centers, self.std, self.images = None, 0.0, source.images.reshape(-1, dim)
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None

    def real(self) -> torch.Tensor:
        """Return a real batch ``[B, dim]`` drawn as the trainer's sources draw it."""
        g, b = self.gen, self.batch
        if self.images is None:
            idx = torch.randint(len(self.centers), (b,), generator=g, device=self.device)
            noise = torch.randn(b, self.centers.shape[1], generator=g, device=self.device)
            return self.centers[idx] + self.std * noise
        idx = torch.randint(len(self.images), (b,), generator=g, device=self.device)
        return self.images[idx].float().div_(127.5).sub_(1.0)

    def run(self, iterations: int) -> None:
        """Train for ``iterations`` D+G steps."""
        G, D, g = self.G, self.D, self.gen
        d_params = list(D.parameters())
        for _ in range(iterations):
            real = self.real()
            with torch.no_grad():
                fake = G(torch.randn(self.batch, self.nz, generator=g, device=self.device))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            for p in d_params:
                p.requires_grad_(False)
            z = torch.randn(self.batch, self.nz, generator=g, device=self.device)
            loss_g = F.softplus(-D(G(z))).mean()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            for p in d_params:
                p.requires_grad_(True)
            self.last = (loss_d.detach(), loss_g.detach())
