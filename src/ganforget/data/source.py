"""Data sources: where a trainer's real batches come from, one stream per ensemble member."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforget.train.streams import randint_members, randn_members


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
        """Return ``[S, batch, 2]`` samples, member ``i`` drawn with ``gens[i]``.

        Row ``i`` equals ``mixture(batch, centers, std, generator=gens[i])``: each member
        draws its centre indices, then its noise, from its own generator (the generators
        are independent, so drawing all indices first changes nothing); the arithmetic
        runs once for all members.
        """
        dev = self.centers.device
        idx = randint_members(gens, len(self.centers), (batch,), dev)
        noise = randn_members(gens, (batch, self.centers.shape[1]), dev)
        return self.centers[idx] + self.std * noise

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
        idx = randint_members(gens, len(self.images), (batch,), gens[0].device)
        return self.images[idx.to(self.images.device)].float().div_(127.5).sub_(1.0)

    def to(self, device: torch.device) -> ImageSource:
        return ImageSource(self.images.to(device), self.name)
