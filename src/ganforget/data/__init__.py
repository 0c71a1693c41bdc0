"""Data: toy 2-D mixtures and offline image datasets (MNIST, CIFAR-10, image folders)."""

from ganforget.data.cifar10 import load_cifar10
from ganforget.data.folder import load_image_folder
from ganforget.data.images import IMAGE_DATASETS, load_images, resize_images
from ganforget.data.imageset import ImageSet, to_unit_range
from ganforget.data.mnist import load_mnist
from ganforget.data.toy import grid25, grid25_centers, ring8, ring8_centers

__all__ = [
    "IMAGE_DATASETS",
    "ImageSet",
    "grid25",
    "grid25_centers",
    "load_cifar10",
    "load_image_folder",
    "load_images",
    "load_mnist",
    "resize_images",
    "ring8",
    "ring8_centers",
    "to_unit_range",
]
