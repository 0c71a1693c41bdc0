"""One entry point for image datasets by name, with an optional resize to the model's size."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ganforget.data.cifar10 import load_cifar10
from ganforget.data.folder import load_image_folder
from ganforget.data.imageset import ImageSet
from ganforget.data.mnist import load_mnist
from ganforget.errors import ConfigError

IMAGE_DATASETS = ("mnist", "cifar10", "folder")
_RESIZE_BATCH = 1024  # images resized at once: bounds the float32 working memory


def load_images(
    name: str,
    root: str | Path,
    *,
    split: str = "train",
    image_size: int | None = None,
    progress: bool = True,
) -> ImageSet:
    """Load image dataset ``name`` ("mnist", "cifar10" or "folder") from local files.

    ``root`` is the dataset's directory (or, for cifar10, its .tar.gz archive). ``split`` is
    "train", "test" or "all"; a plain folder has no splits and accepts "train" or "all"
    (both mean every image in it). ``image_size`` resizes to image_size x image_size when it
    differs from the native size (MNIST 28, CIFAR-10 32), e.g. 28 -> 32 for DCGAN on MNIST;
    a folder needs it, as its images have no common size.

    Returns an ImageSet with uint8 images [N, C, S, S] (C = 1 for MNIST, 3 otherwise).
    """
    if name not in IMAGE_DATASETS:
        raise ConfigError(
            f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}"
        )
    if image_size is not None and image_size < 1:
        raise ConfigError(f"image_size must be a positive number of pixels, got {image_size}")
    if name == "folder":
        if split not in ("train", "all"):
            raise ConfigError(
                f"split {split!r} does not apply to an image folder (it has no splits); "
                "use split='train' and point root at the folder you want"
            )
        if image_size is None:
            raise ConfigError("dataset 'folder' needs image_size (e.g. 64); set image_size")
        return load_image_folder(root, image_size, progress=progress)
    data = (
        load_mnist(root, split) if name == "mnist" else load_cifar10(root, split, progress=progress)
    )
    if image_size is None or image_size == data.images.shape[-1]:
        return data
    return ImageSet(
        images=resize_images(data.images, image_size),
        labels=data.labels,
        classes=data.classes,
        source=f"{data.source} resized to {image_size}x{image_size}",
    )


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinearly resize uint8 images [N, C, H, W] to uint8 [N, C, size, size].

    Antialiased when shrinking; values are rounded and clamped to 0..255.
    """
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], _RESIZE_BATCH):
        block = images[start : start + _RESIZE_BATCH].to(torch.float32)
        block = F.interpolate(
            block, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        out[start : start + _RESIZE_BATCH] = block.round_().clamp_(0, 255).to(torch.uint8)
    return out
