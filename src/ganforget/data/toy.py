"""Toy 2-D mixtures: the ring of eight Gaussians and the 5x5 grid.

Samples are drawn fresh for every batch. Centres of the ring are at angles 2πi/8 for
i = 0..7, which gives eight distinct modes (``linspace(0, 2π, 8)`` would repeat one).
"""

from __future__ import annotations

import math

import torch


def ring8_centers(radius: float = 1.0) -> torch.Tensor:
    """Return the eight centres of the ring, ``[8, 2]``, at angles 2πi/8 and ``radius``."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_centers(spacing: float = 2.0) -> torch.Tensor:
    """Return the 25 centres of the 5x5 grid, ``[25, 2]``, at {-4, -2, 0, 2, 4}² by default."""
    ticks = (torch.arange(5, dtype=torch.float32) - 2) * spacing
    xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def mixture(
    n: int, centers: torch.Tensor, std: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Return ``[n, d]`` samples of an equal-weight isotropic Gaussian mixture.

    Each sample picks a centre uniformly at random and adds N(0, std²) noise per coordinate.
    """
    device = centers.device
    idx = torch.randint(len(centers), (n,), generator=generator, device=device)
    noise = torch.randn(n, centers.shape[1], generator=generator, device=device)
    return centers[idx] + std * noise


def ring8(
    n: int, *, radius: float = 1.0, std: float = 0.02, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Return ``[n, 2]`` samples from eight Gaussians on a circle of ``radius`` (std ``std``)."""
    return mixture(n, ring8_centers(radius), std, generator=generator)


def grid25(n: int, *, std: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return ``[n, 2]`` samples from 25 Gaussians on the grid {-4, -2, 0, 2, 4}² (std ``std``)."""
    return mixture(n, grid25_centers(), std, generator=generator)
