"""Image folders (resize short side + centre crop), load_images dispatch and resize_images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforget.data.folder as folder_module
from ganforget.data.folder import load_image_folder
from ganforget.data.images import load_images, resize_images
from ganforget.errors import ConfigError, DataError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def thirds(width: int, height: int, horizontal: bool) -> np.ndarray:
    """An RGB image split in red / green / blue thirds, left to right or top to bottom."""
    pixels = np.zeros((height, width, 3), np.uint8)
    n = width if horizontal else height
    for k, colour in enumerate((RED, GREEN, BLUE)):
        band = slice(k * n // 3, (k + 1) * n // 3)
        if horizontal:
            pixels[:, band] = colour
        else:
            pixels[band, :] = colour
    return pixels


def save(path: Path, pixels: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(pixels)
    (im.convert(mode) if mode else im).save(path)


def as_hwc(images: torch.Tensor, k: int) -> np.ndarray:
    return images[k].permute(1, 2, 0).numpy().astype(int)


def test_wide_and_tall_images_are_centre_cropped(tmp_path):
    # 300x100 -> short side 20 -> 60x20 -> crop columns 20..40 = source columns 100..200,
    # exactly the green third. Bilinear shrinking blends across each edge pixel only.
    save(tmp_path / "a_wide.png", thirds(300, 100, horizontal=True))
    save(tmp_path / "b_tall.png", thirds(100, 300, horizontal=False))
    # Upscaled: 15x5 -> 60x20 -> crop columns 20..40 = source columns 5..10 (green).
    save(tmp_path / "c_small_wide.png", thirds(15, 5, horizontal=True))
    data = load_image_folder(tmp_path, 20, progress=False)
    assert data.images.shape == (3, 3, 20, 20) and data.images.dtype == torch.uint8
    assert data.labels is None and data.classes is None

    wide, tall = as_hwc(data.images, 0), as_hwc(data.images, 1)
    assert (wide[:, 1:-1] == GREEN).all()
    assert (tall[1:-1, :] == GREEN).all()
    # The crop is centred: the left (top) edge leans to red, the right (bottom) edge to blue.
    for first, last in ((wide[:, 0], wide[:, -1]), (tall[0, :], tall[-1, :])):
        assert (first[:, 0] > 0).all() and (first[:, 2] == 0).all() and (first[:, 1] > 128).all()
        assert (last[:, 2] > 0).all() and (last[:, 0] == 0).all() and (last[:, 1] > 128).all()

    small = as_hwc(data.images, 2)
    assert (small[:, 3:-3] == GREEN).all()
    assert small[:, 0, 0].min() > 0 and small[:, -1, 2].min() > 0  # neighbours blend in


def test_square_images_are_resized_without_crop_and_exact_size_kept(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, size=(50, 50, 3), dtype=np.uint8)
    exact = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    save(tmp_path / "big.png", big)
    save(tmp_path / "sub" / "exact.png", exact)
    data = load_image_folder(tmp_path, 16, progress=False)
    reference = np.asarray(Image.fromarray(big).resize((16, 16), Image.Resampling.BILINEAR))
    assert np.array_equal(as_hwc(data.images, 0), reference)
    assert np.array_equal(as_hwc(data.images, 1), exact)


def test_recursive_sorted_modes_and_limit(tmp_path):
    save(tmp_path / "z.png", np.full((8, 8, 3), 10, np.uint8))
    save(tmp_path / "a" / "b" / "deep.bmp", np.full((8, 8, 3), 20, np.uint8))
    save(tmp_path / "m.png", np.full((8, 8, 3), 30, np.uint8), mode="P")
    save(tmp_path / "n.webp", np.full((8, 8, 3), 40, np.uint8), mode="RGBA")
    Image.fromarray(np.full((8, 8, 3), 50, np.uint8)).save(tmp_path / "q.JPEG", quality=100)
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path, 8, progress=False)
    # sorted paths: a/b/deep.bmp, m.png, n.webp, q.JPEG, z.png
    means = data.images.float().mean(dim=(1, 2, 3)).tolist()
    assert means == pytest.approx([20, 30, 40, 50, 10], abs=1)
    assert len(load_image_folder(tmp_path, 8, limit=2, progress=False)) == 2
    assert torch.equal(load_image_folder(tmp_path, 8, limit=2, progress=False).images,
                       data.images[:2])  # fmt: skip


def test_grayscale_uses_itu_r_601_luma(tmp_path):
    save(tmp_path / "red.png", np.full((4, 6, 3), RED, np.uint8))
    save(tmp_path / "rgb.png", np.full((4, 6, 3), (10, 200, 60), np.uint8))
    data = load_image_folder(tmp_path, 4, channels=1, progress=False)
    assert data.images.shape == (2, 1, 4, 4)
    luma = [round(0.299 * 255), round(0.299 * 10 + 0.587 * 200 + 0.114 * 60)]
    assert data.images[:, 0, 0, 0].tolist() == luma  # red.png sorts before rgb.png


def test_parallel_decoding_equals_serial_and_reports_bad_files(tmp_path):
    rng = np.random.default_rng(1)
    n = folder_module._CHUNK + 7  # two chunks -> two worker tasks
    for k in range(n):
        save(tmp_path / f"{k:04d}.png", rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8))
    serial = load_image_folder(tmp_path, 6, progress=False, workers=0)
    parallel = load_image_folder(tmp_path, 6, progress=False, workers=2)
    assert serial.images.shape == (n, 3, 6, 6)
    assert torch.equal(serial.images, parallel.images)
    with Image.open(tmp_path / "0123.png") as im:
        assert np.array_equal(as_hwc(serial.images, 123), np.asarray(im))
    (tmp_path / f"{n - 1:04d}.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=f"{n - 1:04d}.png: cannot read image"):
        load_image_folder(tmp_path, 6, progress=False, workers=2)


def test_progress_bar_shown_only_when_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(folder_module, "_MIN_PROGRESS", 1)
    save(tmp_path / "one.png", np.zeros((4, 4, 3), np.uint8))
    load_image_folder(tmp_path, 4, progress=False)
    assert "decoding" not in capsys.readouterr().err
    load_image_folder(tmp_path, 4, progress=True)
    assert "decoding" in capsys.readouterr().err


def test_empty_missing_and_unreadable_folders_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "absent", 8)
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match="no images found") as err:
        load_image_folder(tmp_path, 8)
    assert "\n" not in str(err.value) and ".jpg" in str(err.value)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated jpeg")
    with pytest.raises(DataError, match="broken.jpg: cannot read image"):
        load_image_folder(tmp_path, 8, progress=False)
    with pytest.raises(ConfigError, match="channels"):
        load_image_folder(tmp_path, 8, channels=4)


def test_load_images_dispatch_and_choices(tmp_path):
    save(tmp_path / "x.png", thirds(30, 10, horizontal=True))
    via_name = load_images("folder", tmp_path, image_size=10, progress=False)
    assert torch.equal(via_name.images, load_image_folder(tmp_path, 10, progress=False).images)
    with pytest.raises(ConfigError, match="mnist, cifar10, folder"):
        load_images("imagenet", tmp_path)
    with pytest.raises(ConfigError, match="needs image_size"):
        load_images("folder", tmp_path)
    with pytest.raises(ConfigError, match="no splits"):
        load_images("folder", tmp_path, split="test", image_size=10)


def test_resize_images_matches_bilinear_closed_forms():
    ramp = (torch.arange(16) * 16).to(torch.uint8).expand(2, 3, 16, 16).contiguous()
    # Shrinking 2x: the symmetric antialiasing filter keeps a linear ramp linear: the output
    # pixel i covers source pixels 2i and 2i+1, centred at 2i + 0.5 -> 16 * (2i + 0.5).
    down = resize_images(ramp, 8)
    assert down.shape == (2, 3, 8, 8) and down.dtype == torch.uint8
    assert down[0, 0, 0, 1:-1].tolist() == [32 * i + 8 for i in range(1, 7)]
    # Growing 2x (align_corners=False): output j samples source (j + 0.5) / 2 - 0.5.
    up = resize_images(ramp, 32)
    assert up[1, 2, 5, 1:-1].tolist() == [8 * j - 4 for j in range(1, 31)]
    constant = torch.full((1, 1, 28, 28), 77, dtype=torch.uint8)
    assert (resize_images(constant, 32) == 77).all() and (resize_images(constant, 20) == 77).all()
