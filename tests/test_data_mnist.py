"""MNIST IDX reader: synthetic IDX files written here, and the real files in ../shared/data."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforget.data.images import load_images, resize_images
from ganforget.data.imageset import ImageSet, to_unit_range
from ganforget.data.mnist import load_mnist
from ganforget.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"

CANONICAL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
CANONICAL_MD5 = {  # of the decompressed files, from ../shared/data/README.md
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: magic 0x00000800 + ndim, big-endian dims, then the data."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root: Path, n: dict[str, int], gz: bool, seed: int = 0) -> dict:
    """Random MNIST-shaped IDX files in root; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, count in n.items():
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        for name, array in zip(NAMES[split], (images, labels), strict=True):
            data = idx_bytes(array)
            if gz:
                (root / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (root / name).write_bytes(data)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_synthetic_idx_read_back_exactly(tmp_path, gz):
    written = write_mnist(tmp_path, {"train": 7, "test": 5}, gz=gz)
    for split in ("train", "test"):
        data = load_mnist(tmp_path, split)
        images, labels = written[split]
        assert data.images.dtype == torch.uint8 and data.images.shape == (len(images), 1, 28, 28)
        assert np.array_equal(data.images[:, 0].numpy(), images)
        assert data.labels.dtype == torch.int64
        assert np.array_equal(data.labels.numpy(), labels.astype(np.int64))
        assert data.classes == [str(i) for i in range(10)]
    both = load_mnist(tmp_path, "all")
    assert np.array_equal(
        both.images[:, 0].numpy(), np.concatenate([written["train"][0], written["test"][0]])
    )
    assert np.array_equal(
        both.labels.numpy(), np.concatenate([written["train"][1], written["test"][1]])
    )


def test_gz_and_plain_files_can_be_mixed(tmp_path):
    written = write_mnist(tmp_path, {"test": 4}, gz=True)
    name = NAMES["test"][0]
    (tmp_path / name).write_bytes(gzip.decompress((tmp_path / (name + ".gz")).read_bytes()))
    (tmp_path / (name + ".gz")).unlink()
    assert np.array_equal(load_mnist(tmp_path, "test").images[:, 0].numpy(), written["test"][0])


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_file_names_the_file(tmp_path, gz):
    write_mnist(tmp_path, {"test": 6}, gz=False)
    name = NAMES["test"][0]
    raw = (tmp_path / name).read_bytes()[:-100]
    if gz:
        (tmp_path / name).unlink()
        name += ".gz"
        (tmp_path / name).write_bytes(gzip.compress(raw))
    else:
        (tmp_path / name).write_bytes(raw)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, "test")
    message = str(err.value)
    assert name in message and "\n" not in message
    assert f"expected {16 + 6 * 28 * 28}" in message and "truncated" in message


def test_truncated_gzip_stream_names_the_file(tmp_path):
    write_mnist(tmp_path, {"test": 6}, gz=True)
    path = tmp_path / (NAMES["test"][0] + ".gz")
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match=path.name):
        load_mnist(tmp_path, "test")


def test_wrong_magic_and_wrong_size_are_refused(tmp_path):
    write_mnist(tmp_path, {"test": 3}, gz=False)
    images_file, labels_file = (tmp_path / n for n in NAMES["test"])
    labels = labels_file.read_bytes()
    images_file.write_bytes(labels)  # a labels file where the images file should be
    with pytest.raises(DataError, match=r"magic number 0x00000801, expected 0x00000803"):
        load_mnist(tmp_path, "test")
    images_file.write_bytes(idx_bytes(np.zeros((3, 32, 32), np.uint8)))
    with pytest.raises(DataError, match="expected 28x28"):
        load_mnist(tmp_path, "test")
    images_file.write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    with pytest.raises(DataError, match="4 images but .* 3 labels"):
        load_mnist(tmp_path, "test")
    images_file.write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    labels_file.write_bytes(idx_bytes(np.array([1, 2, 10], np.uint8)))
    with pytest.raises(DataError, match="label 10 out of range"):
        load_mnist(tmp_path, "test")


def test_missing_directory_is_one_line_naming_the_files(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        load_mnist(missing, "train")
    message = str(err.value)
    assert "\n" not in message and str(missing) in message
    for name in CANONICAL_MD5:
        assert name in message


def test_missing_file_names_it_and_the_directory(tmp_path):
    write_mnist(tmp_path, {"train": 2}, gz=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, "train")
    assert "missing train-labels-idx1-ubyte[.gz]" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_unknown_split_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="train, test, all"):
        load_mnist(tmp_path, "validation")


def test_load_images_resizes_mnist_28_to_32(tmp_path):
    write_mnist(tmp_path, {"train": 3}, gz=True)
    native = load_images("mnist", tmp_path)
    assert native.images.shape == (3, 1, 28, 28)
    big = load_images("mnist", tmp_path, image_size=32)
    assert big.images.shape == (3, 1, 32, 32) and big.images.dtype == torch.uint8
    assert torch.equal(big.images, resize_images(native.images, 32))
    assert torch.equal(big.labels, native.labels)


def test_to_unit_range_maps_0_255_to_minus1_1():
    x = torch.tensor([0, 51, 127, 128, 255], dtype=torch.uint8)
    y = to_unit_range(x)
    assert y.dtype == torch.float32
    expected = torch.tensor([-1.0, 51 / 127.5 - 1, 127 / 127.5 - 1, 128 / 127.5 - 1, 1.0])
    assert torch.allclose(y, expected, atol=1e-7)
    with pytest.raises(DataError, match="uint8"):
        to_unit_range(y)


def test_image_set_validates_dtype_and_label_length():
    with pytest.raises(DataError, match="uint8"):
        ImageSet(torch.zeros(2, 1, 4, 4), None, None, "test")
    with pytest.raises(DataError, match="int64"):
        ImageSet(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3).long(), None, "t")
    assert len(ImageSet(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), None, None, "t")) == 2


# ---------------------------------------------------------------------------- real MNIST

needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"real MNIST not found at {MNIST_DIR} (../shared/data/mnist)"
)


@pytest.fixture(scope="module")
def real_mnist() -> dict[str, ImageSet]:
    return {split: load_mnist(MNIST_DIR, split) for split in ("train", "test", "all")}


@needs_mnist
def test_real_mnist_sizes_and_canonical_label_counts(real_mnist):
    assert len(real_mnist["train"]) == 60_000 and len(real_mnist["test"]) == 10_000
    assert real_mnist["all"].images.shape == (70_000, 1, 28, 28)
    for split, counts in CANONICAL_COUNTS.items():
        assert torch.bincount(real_mnist[split].labels, minlength=10).tolist() == counts
    assert torch.equal(
        real_mnist["all"].images, torch.cat([real_mnist["train"].images, real_mnist["test"].images])
    )


@needs_mnist
def test_real_mnist_decompressed_md5_matches_readme():
    for name, md5 in CANONICAL_MD5.items():
        path = MNIST_DIR / (name + ".gz")
        raw = (
            gzip.decompress(path.read_bytes()) if path.exists() else (MNIST_DIR / name).read_bytes()
        )
        assert hashlib.md5(raw).hexdigest() == md5, name
