"""DCGAN generator and discriminator (the paper's Table II, after the PyTorch DCGAN example).

nz=100, ngf=ndf=64, BatchNorm, ReLU in G and LeakyReLU(0.2) in D, Tanh output, N(0, 0.02)
initialisation. Sizes 64x64 (as in the paper) and 32x32 (one block fewer). D returns a logit.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforget.nets.ensemble import (
    EnsembleBatchNorm2d,
    EnsembleConv2d,
    EnsembleConvTranspose2d,
    EnsembleModule,
    from_grouped,
    to_grouped,
)

SIZES = (32, 64)


def _blocks(image_size: int) -> int:
    if image_size not in SIZES:
        raise ValueError(f"DCGAN image_size must be one of {SIZES}, got {image_size}")
    return 3 if image_size == 32 else 4


class DCGANGenerator(EnsembleModule):
    """G: ``z [S, B, nz] -> images [S, B, nc, size, size]`` in [-1, 1]."""

    def __init__(
        self, members: int, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64
    ) -> None:
        super().__init__()
        self.members, self.nz, self.nc = members, nz, nc
        self.spec = dict(nz=nz, ngf=ngf, nc=nc, image_size=image_size)
        n = _blocks(image_size)
        widths = [ngf * 2 ** (n - 1 - j) for j in range(n)]  # e.g. 512, 256, 128, 64
        s = members
        layers: list[nn.Module] = [
            EnsembleConvTranspose2d(s, nz, widths[0], 4, 1, 0),
            EnsembleBatchNorm2d(s, widths[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [EnsembleConvTranspose2d(s, a, b, 4, 2, 1), EnsembleBatchNorm2d(s, b)]
            layers.append(nn.ReLU(True))
        layers += [EnsembleConvTranspose2d(s, widths[-1], nc, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s, b = z.shape[:2]
        x = z.transpose(0, 1).reshape(b, s * self.nz, 1, 1)
        return from_grouped(self.main(x), self.members)


class DCGANDiscriminator(EnsembleModule):
    """D: ``images [S, B, nc, size, size] -> logits [S, B]``."""

    def __init__(self, members: int, ndf: int = 64, nc: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.members = members
        self.spec = dict(ndf=ndf, nc=nc, image_size=image_size)
        n = _blocks(image_size)
        widths = [ndf * 2**j for j in range(n)]  # e.g. 64, 128, 256, 512
        s = members
        layers: list[nn.Module] = [
            EnsembleConv2d(s, nc, widths[0], 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [EnsembleConv2d(s, a, b, 4, 2, 1), EnsembleBatchNorm2d(s, b)]
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers.append(EnsembleConv2d(s, widths[-1], 1, 4, 1, 0))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[1]
        # Contiguous [S, B] rows: each member's mean over its batch sums in one fixed order.
        return self.main(to_grouped(x)).reshape(b, self.members).t().contiguous()
