"""Data sources: where a trainer's real batches come from, one stream per ensemble member."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforget.data.toy import mixture


@dataclass
class ToySource:
    """A 2-D Gaussian mixture; ``sample`` draws fresh points for every batch."""

    centers: torch.Tensor
    std: float
    name: str = "ring8"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(2,)``."""
        return (self.centers.shape[1],)

    def sample(self, batch: int, gens: list[torch.Generator]) -> torch.Tensor:
        """Return ``[S, batch, 2]`` samples, member ``i`` drawn with ``gens[i]``."""
        return torch.stack([mixture(batch, self.centers, self.std, generator=g) for g in gens])

    def to(self, device: torch.device) -> ToySource:
        return ToySource(self.centers.to(device), self.std, self.name)


@dataclass
class ImageSource:
    """Images held in memory as uint8 ``[N, C, H, W]``; batches are drawn with replacement.

    Sampling with replacement keeps each member's data stream a pure function of its
    generator, which makes exact resume trivial.
    """

    images: torch.Tensor
    name: str = "images"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one image: ``(C, H, W)``."""
        return tuple(self.images.shape[1:])

    def sample(self, batch: int, gens: list[torch.Generator]) -> torch.Tensor:
        """Return ``[S, batch, C, H, W]`` images in [-1, 1], member ``i`` from ``gens[i]``."""
        n = len(self.images)
        idx = torch.stack(
            [torch.randint(n, (batch,), generator=g, device=g.device) for g in gens]
        ).to(self.images.device)
        return self.images[idx].float().div_(127.5).sub_(1.0)

    def to(self, device: torch.device) -> ImageSource:
        return ImageSource(self.images.to(device), self.name)
