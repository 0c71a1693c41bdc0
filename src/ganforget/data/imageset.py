"""A loaded image dataset: uint8 pixels, optional labels, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforget.errors import DataError


@dataclass
class ImageSet:
    """Images held in memory as uint8, channels first.

    Attributes:
        images: uint8 tensor [N, C, H, W], pixel values 0..255.
        labels: int64 tensor [N] of class ids (indices into ``classes``), or None when the
            source has no labels (e.g. a plain image folder).
        classes: class names, ``classes[i]`` names label id ``i``; None when unlabelled.
        source: a human-readable description of what was read (format, path, split).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    classes: list[str] | None
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(
                f"{self.source}: images must be a uint8 tensor [N, C, H, W], got "
                f"{self.images.dtype} with shape {tuple(self.images.shape)}; fix the loader"
            )
        if self.labels is not None:
            if self.labels.dtype != torch.int64 or self.labels.shape != (len(self.images),):
                raise DataError(
                    f"{self.source}: labels must be an int64 tensor [{len(self.images)}], got "
                    f"{self.labels.dtype} with shape {tuple(self.labels.shape)}; fix the loader"
                )

    def __len__(self) -> int:
        return int(self.images.shape[0])


def to_unit_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """Map uint8 pixels 0..255 to float32 in [-1, 1] (x / 127.5 - 1); same shape."""
    if images_uint8.dtype != torch.uint8:
        raise DataError(
            f"to_unit_range expects uint8 pixels, got {images_uint8.dtype}; "
            "pass ImageSet.images (uint8), not an already-scaled tensor"
        )
    return images_uint8.to(torch.float32) / 127.5 - 1.0
