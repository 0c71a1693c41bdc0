"""MNIST from the four original IDX files in a directory the user names (gzipped or not)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforget.data.imageset import ImageSet
from ganforget.errors import ConfigError, DataError

SPLITS = ("train", "test", "all")

# split -> (images file, labels file), canonical names without ".gz"
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_SIDE = 28
_NUM_CLASSES = 10


def load_mnist(root: str | Path, split: str = "train") -> ImageSet:
    """Read MNIST from the original IDX files in directory ``root``.

    Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not
    (``train-images-idx3-ubyte``; the ``train-images.idx3-ubyte`` spelling is accepted too).

    Returns an ImageSet with images uint8 [N, 1, 28, 28], labels int64 [N] in 0..9 and
    classes ``["0", ..., "9"]``; N is 60,000 for "train", 10,000 for "test" and 70,000 for
    "all" (train then test).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown MNIST split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    parts = ("train", "test") if split == "all" else (split,)
    images, labels = [], []
    for part in parts:
        image_name, label_name = _FILES[part]
        imgs = _read_idx(_find(root, image_name), _IMAGES_MAGIC, ndim=3)
        labs = _read_idx(_find(root, label_name), _LABELS_MAGIC, ndim=1)
        if imgs.shape[1:] != (_SIDE, _SIDE):
            raise DataError(
                f"{_find(root, image_name)}: expected {_SIDE}x{_SIDE} images, header says "
                f"{imgs.shape[1]}x{imgs.shape[2]}; this is not an MNIST images file"
            )
        if len(imgs) != len(labs):
            raise DataError(
                f"{root}: {image_name} holds {len(imgs)} images but {label_name} holds "
                f"{len(labs)} labels; replace the files with a matching pair"
            )
        if labs.size and int(labs.max()) >= _NUM_CLASSES:
            raise DataError(
                f"{_find(root, label_name)}: label {int(labs.max())} out of range 0..9; "
                "this is not an MNIST labels file"
            )
        images.append(imgs)
        labels.append(labs)
    return ImageSet(
        images=torch.from_numpy(np.concatenate(images)).unsqueeze(1),
        labels=torch.from_numpy(np.concatenate(labels).astype(np.int64)),
        classes=[str(i) for i in range(_NUM_CLASSES)],
        source=f"mnist:{root} ({split})",
    )


def _find(root: Path, name: str) -> Path:
    """The path of IDX file ``name`` in ``root``: plain, ``.gz``, or with the dotted spelling."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (root / candidate).is_file():
            return root / candidate
    expected = ", ".join(f"{a}[.gz]" for pair in _FILES.values() for a in pair)
    if not root.is_dir():
        raise DataError(f"MNIST directory {root} does not exist; it must hold {expected}")
    raise DataError(
        f"{root}: missing {name}[.gz]; an MNIST directory must hold {expected} "
        "(the original IDX files)"
    )


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file into a uint8 array with the header's dimensions."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: cannot read ({e}); the file is truncated or corrupted, replace it"
        ) from None
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found == magic and len(raw) < header:
        raise DataError(
            f"{path}: {len(raw)} bytes, shorter than the {header}-byte IDX header; "
            "the file is truncated, replace it"
        )
    if found != magic:
        shown = "(none)" if found is None else f"0x{found:08x}"
        raise DataError(
            f"{path}: IDX magic number {shown}, expected 0x{magic:08x} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); "
            "this is not the expected MNIST file"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: {len(raw)} bytes{' after decompression' if path.suffix == '.gz' else ''}, "
            f"expected {expected} "
            f"({header}-byte header + {' x '.join(map(str, dims))} bytes); "
            "the file is truncated or corrupted, replace it"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
