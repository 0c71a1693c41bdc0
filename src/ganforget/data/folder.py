"""Any folder of images (e.g. CelebA's img_align_celeba/), resized and centre-cropped.

Decoding is the slow part (about 0.2 ms per 32x32 JPEG in Pillow, far more for large
photos), so big sets are decoded in worker processes. Threads do not help: Pillow's
per-image Python overhead holds the GIL (measured: 2 threads were slower than 1).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ganforget.data.imageset import ImageSet
from ganforget.errors import ConfigError, DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# An image to decode: a file path, or (a name for messages, the encoded bytes).
ImageItem = Path | tuple[str, bytes]

_CHUNK = 500  # images per task sent to a worker process
_MIN_PARALLEL = 2000  # below this, starting workers costs more than it saves
_MIN_PROGRESS = 1000  # below this, no progress bar


def load_image_folder(
    root: str | Path,
    image_size: int,
    *,
    channels: int = 3,
    limit: int | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> ImageSet:
    """Read every image under ``root`` (recursively; jpg, jpeg, png, bmp, webp).

    Each image is resized so that its short side is ``image_size`` (Pillow bilinear,
    antialiased when shrinking) and centre-cropped to ``image_size`` x ``image_size``.
    Files are taken in sorted path order; ``limit`` keeps the first ``limit`` of them.
    ``workers`` is the number of decoding processes (default: one per available core;
    0 or 1 decodes in this process).

    Returns an ImageSet with images uint8 [N, channels, image_size, image_size], no labels.
    """
    root = Path(root)
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if image_size < 1:
        raise ConfigError(f"image_size must be a positive number of pixels, got {image_size}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be a positive number of images or None, got {limit}")
    if not root.is_dir():
        raise DataError(
            f"image folder {root} does not exist; point root at a folder holding "
            f"{'/'.join(IMAGE_EXTENSIONS)} files"
        )
    files = list_images(root)
    if not files:
        raise DataError(
            f"{root}: no images found (looked recursively for "
            f"{', '.join(IMAGE_EXTENSIONS)}); point root at a folder of images"
        )
    if limit is not None:
        files = files[:limit]
    images = decode_images(
        files, image_size, channels=channels, progress=progress, workers=workers, desc=root.name
    )
    return ImageSet(images=images, labels=None, classes=None, source=f"folder:{root}")


def list_images(root: Path) -> list[Path]:
    """All image files under ``root``, recursively, in sorted order."""
    return sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )


def decode_images(
    items: Sequence[ImageItem],
    image_size: int,
    *,
    channels: int = 3,
    progress: bool = True,
    workers: int | None = None,
    desc: str = "images",
) -> torch.Tensor:
    """Decode, resize (short side) and centre-crop images; uint8 [N, channels, S, S]."""
    n = len(items)
    chunks = [items[i : i + _CHUNK] for i in range(0, n, _CHUNK)]
    out = np.empty((n, image_size, image_size, channels), dtype=np.uint8)
    bar = tqdm(
        total=n, desc=f"decoding {desc}", unit="img", disable=not progress or n < _MIN_PROGRESS
    )
    with bar:
        start = 0
        for block in _map_chunks(chunks, image_size, channels, _worker_count(workers, n)):
            out[start : start + len(block)] = block
            start += len(block)
            bar.update(len(block))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _worker_count(workers: int | None, n: int) -> int:
    if workers is not None:
        return max(0, workers)
    if n < _MIN_PARALLEL:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, 8)


def _map_chunks(
    chunks: list[Sequence[ImageItem]], size: int, channels: int, workers: int
) -> Iterator[np.ndarray]:
    # Worker processes are forked: they need only Pillow and NumPy, and forking avoids
    # re-importing torch in each worker. Fork is safe on Linux only, so elsewhere (macOS,
    # Windows) decoding stays in this process.
    if workers <= 1 or len(chunks) <= 1 or not sys.platform.startswith("linux"):
        for chunk in chunks:
            yield _decode_chunk(chunk, size, channels)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context) as pool:
        yield from pool.map(_decode_chunk, chunks, [size] * len(chunks), [channels] * len(chunks))


def _decode_chunk(items: Sequence[ImageItem], size: int, channels: int) -> np.ndarray:
    out = np.empty((len(items), size, size, channels), dtype=np.uint8)
    for i, item in enumerate(items):
        pixels = _decode_one(item, size, "RGB" if channels == 3 else "L")
        out[i] = pixels.reshape(size, size, channels)
    return out


def _decode_one(item: ImageItem, size: int, mode: str) -> np.ndarray:
    name, source = (str(item), item) if isinstance(item, Path) else (item[0], io.BytesIO(item[1]))
    try:
        with Image.open(source) as im:
            # Large JPEGs: let the decoder shrink by 1/2, 1/4 or 1/8 while both sides stay
            # >= 2 * size, so the bilinear step below still does at least a 2x reduction.
            im.draft(mode, (2 * size, 2 * size))
            im = resize_center_crop(im if im.mode == mode else im.convert(mode), size)
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{name}: cannot read image ({e}); remove or replace the file") from None


def resize_center_crop(im: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is ``size`` (bilinear), then crop the central size x size."""
    w, h = im.size
    if (w, h) == (size, size):
        return im
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return im.crop((left, top, left + size, top + size))
