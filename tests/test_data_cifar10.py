"""CIFAR-10 reader: official layouts written here, and the real JPEG copy in ../shared/data."""

from __future__ import annotations

import os
import pickle
import struct
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforget.data.cifar10 import CLASSES, load_cifar10
from ganforget.data.images import load_images, resize_images
from ganforget.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10" / "cifar10-jpeg.tar.gz"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
PER_BATCH = 20


# ------------------------------------------------------------------ writing official layouts


def py2_pickle(obj: object) -> bytes:
    """Pickle ``obj`` as Python 2's cPickle (protocol 2) wrote the official CIFAR-10 batches.

    Supports dicts, lists, bytes (Python 2 ``str``), small ints and 2-D uint8 arrays (the
    ``numpy.core.multiarray._reconstruct`` + BUILD encoding). Python 3's pickler cannot
    produce this: it writes bytes at protocol 2 as ``_codecs.encode`` calls.
    """

    def s(b: bytes) -> bytes:  # SHORT_BINSTRING or BINSTRING
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b

    def i(n: int) -> bytes:  # BININT1, BININT2 or BININT
        if 0 <= n < 256:
            return b"K" + bytes([n])
        if 0 <= n < 65536:
            return b"M" + struct.pack("<H", n)
        return b"J" + struct.pack("<i", n)

    def enc(x: object) -> bytes:
        if isinstance(x, dict):
            return b"}(" + b"".join(enc(k) + enc(v) for k, v in x.items()) + b"u"
        if isinstance(x, list):
            return b"](" + b"".join(enc(v) for v in x) + b"e"
        if isinstance(x, bytes):
            return s(x)
        if isinstance(x, int):
            return i(x)
        assert isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2
        dtype = (
            b"cnumpy\ndtype\n" + s(b"u1") + b"\x89\x88\x87R"
            b"(" + i(3) + s(b"|") + b"NNN" + b"J\xff\xff\xff\xffJ\xff\xff\xff\xff" + i(0) + b"tb"
        )
        return (
            b"cnumpy.core.multiarray\n_reconstruct\n"
            b"cnumpy\nndarray\n" + i(0) + b"\x85" + s(b"b") + b"\x87R"
            b"(" + i(1) + i(x.shape[0]) + i(x.shape[1]) + b"\x86" + dtype
            + b"\x89" + s(x.tobytes()) + b"tb"
        )  # fmt: skip

    return b"\x80\x02" + enc(obj) + b"."


def random_batches(names: list[str], seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(seed)
    return {
        name: (
            rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8),
            rng.integers(0, 10, size=PER_BATCH).tolist(),
        )
        for name in names
    }


def write_python_batches(folder: Path, protocol: str, seed: int = 0) -> dict:
    """The official cifar-10-batches-py layout with random pixels; returns what was written."""
    folder.mkdir(parents=True)
    batches = random_batches([*TRAIN_BATCHES, "test_batch"], seed)
    for name, (data, labels) in batches.items():
        d = {
            b"batch_label": b"batch " + name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{k}.png".encode() for k in range(len(labels))],
        }
        raw = py2_pickle(d) if protocol == "py2" else pickle.dumps(d, protocol=int(protocol))
        (folder / name).write_bytes(raw)
    meta = {b"label_names": [c.encode() for c in CLASSES], b"num_vis": 3072}
    raw = py2_pickle(meta) if protocol == "py2" else pickle.dumps(meta, protocol=int(protocol))
    (folder / "batches.meta").write_bytes(raw)
    return batches


def write_binary_batches(folder: Path, seed: int = 1) -> dict:
    """The official cifar-10-batches-bin layout: records of 1 label byte + 3072 pixel bytes."""
    folder.mkdir(parents=True)
    batches = random_batches([*TRAIN_BATCHES, "test_batch"], seed)
    for name, (data, labels) in batches.items():
        records = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(CLASSES) + "\n\n")
    return batches


def expected(batches: dict, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    data = np.concatenate([batches[n][0] for n in names])
    labels = np.concatenate([batches[n][1] for n in names]).astype(np.int64)
    return data, labels


def test_py2_pickle_helper_matches_numpy_unpickling():
    # The hand-written encoder must mean what the official files mean to NumPy itself.
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is numpy._core in 2.x
        back = pickle.loads(py2_pickle({b"data": data, b"labels": [3, 300]}), encoding="bytes")
    assert back[b"labels"] == [3, 300] and np.array_equal(back[b"data"], data)


# ----------------------------------------------------------------------- official formats


@pytest.mark.parametrize("protocol", ["py2", "2", "4", "5"])
def test_python_batches_read_back_exactly(tmp_path, protocol):
    batches = write_python_batches(tmp_path / "cifar-10-batches-py", protocol)
    for split, names in {
        "train": TRAIN_BATCHES,
        "test": ["test_batch"],
        "all": [*TRAIN_BATCHES, "test_batch"],
    }.items():
        got = load_cifar10(tmp_path, split)  # found in the subfolder
        data, labels = expected(batches, names)
        assert got.images.dtype == torch.uint8 and got.images.shape == (len(data), 3, 32, 32)
        assert np.array_equal(got.images.reshape(len(data), -1).numpy(), data)
        assert np.array_equal(got.labels.numpy(), labels)
        assert got.classes == CLASSES
    # Layout: row k of 'data' holds channel c, row y, column x at byte c*1024 + y*32 + x.
    got = load_cifar10(tmp_path / "cifar-10-batches-py", "test")
    row = batches["test_batch"][0][7]
    assert int(got.images[7, 2, 5, 9]) == int(row[2 * 1024 + 5 * 32 + 9])
    assert int(got.images[7, 0, 31, 0]) == int(row[31 * 32])


def test_binary_batches_read_back_exactly(tmp_path):
    batches = write_binary_batches(tmp_path / "cifar-10-batches-bin")
    for split, names in {"train": TRAIN_BATCHES, "test": ["test_batch"]}.items():
        got = load_cifar10(tmp_path, split)
        data, labels = expected(batches, names)
        assert got.images.shape == (len(data), 3, 32, 32)
        assert np.array_equal(got.images.reshape(len(data), -1).numpy(), data)
        assert np.array_equal(got.labels.numpy(), labels)
        assert got.classes == CLASSES
    row = batches["data_batch_3"][0][4]
    got = load_cifar10(tmp_path, "train")
    assert int(got.images[2 * PER_BATCH + 4, 1, 10, 3]) == int(row[1024 + 10 * 32 + 3])


def test_truncated_binary_batch_names_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_binary_batches(folder)
    path = folder / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, "train")
    message = str(err.value)
    assert str(path) in message and "multiple of 3073" in message and "\n" not in message


def test_truncated_python_batch_names_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_python_batches(folder, "py2")
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, "test")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_python_batch_with_wrong_row_length_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_python_batches(folder, "py2")
    bad = {b"data": np.zeros((4, 1024), np.uint8), b"labels": [0, 1, 2, 3]}
    (folder / "test_batch").write_bytes(py2_pickle(bad))
    with pytest.raises(DataError, match="1024 bytes, expected 3072"):
        load_cifar10(folder, "test")
    bad = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2]}
    (folder / "test_batch").write_bytes(py2_pickle(bad))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        load_cifar10(folder, "test")


class _RunsCode:
    """Unpickling this would call os.system and create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_RunsCode, _Evals])
@pytest.mark.parametrize("where", ["test_batch", "batches.meta"])
def test_pickle_that_runs_code_is_refused_without_side_effect(tmp_path, payload, where):
    folder = tmp_path / "cifar-10-batches-py"
    write_python_batches(folder, "py2")
    marker = tmp_path / "pwned"
    evil = {b"data": payload(marker), b"labels": [0], b"label_names": payload(marker)}
    (folder / where).write_bytes(pickle.dumps(evil, protocol=2))
    assert not marker.exists()
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, "test")
    assert str(folder / where) in str(err.value) and "not allowed" in str(err.value)
    assert not marker.exists()


def test_malicious_payload_is_real(tmp_path):
    # The payloads above are only meaningful if plain pickle would run them.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()


# ----------------------------------------------------------------- image folder and archive


def write_class_folder(root: Path, seed: int = 2) -> dict[str, dict[str, list[np.ndarray]]]:
    """train/ and test/ with PNG class folders (lossless), classes created out of order."""
    rng = np.random.default_rng(seed)
    written: dict[str, dict[str, list[np.ndarray]]] = {}
    for part, n in (("train", 3), ("test", 2)):
        for cls in ("zebra", "ant", "moose"):
            (root / part / cls).mkdir(parents=True)
            for k in range(n):
                pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / part / cls / f"{k:04d}.png")
                written.setdefault(part, {}).setdefault(cls, []).append(pixels)
    return written


def check_class_folder(got, written, parts: list[str]) -> None:
    assert got.classes == ["ant", "moose", "zebra"]  # sorted -> ids 0, 1, 2
    want_images = [p for part in parts for cls in got.classes for p in written[part][cls]]
    want_labels = [i for part in parts for i, cls in enumerate(got.classes)
                   for _ in written[part][cls]]  # fmt: skip
    assert np.array_equal(got.images.permute(0, 2, 3, 1).numpy(), np.stack(want_images))
    assert got.labels.tolist() == want_labels


def test_image_folder_labels_are_sorted_class_names(tmp_path):
    written = write_class_folder(tmp_path / "mycifar")
    for split, parts in {"train": ["train"], "test": ["test"], "all": ["train", "test"]}.items():
        check_class_folder(load_cifar10(tmp_path, split, progress=False), written, parts)


def test_tar_gz_of_image_folder_reads_like_the_folder(tmp_path):
    written = write_class_folder(tmp_path / "src" / "mycifar")
    archive = tmp_path / "store" / "mine.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "mycifar", arcname="mycifar")
    check_class_folder(load_cifar10(archive, "all", progress=False), written, ["train", "test"])
    check_class_folder(load_cifar10(archive.parent, "test", progress=False), written, ["test"])


def test_corrupt_archive_and_bad_image_name_the_file(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))
    with pytest.raises(DataError, match="broken.tar.gz"):
        load_cifar10(archive, "train")
    write_class_folder(tmp_path / "folder")
    bad = tmp_path / "folder" / "test" / "ant" / "0001.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match="0001.png: cannot read image"):
        load_cifar10(tmp_path / "folder", "test", progress=False)


def test_missing_or_empty_location_names_the_expected_layouts(tmp_path):
    for where in (tmp_path / "absent", tmp_path):
        with pytest.raises(DataError) as err:
            load_cifar10(where, "train")
        message = str(err.value)
        assert "\n" not in message and str(where) in message
        for name in ("data_batch_1", "test_batch", "batches.meta", "train/<class>/*.jpg"):
            assert name in message


def test_missing_batch_file_is_named(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_binary_batches(folder)
    (folder / "data_batch_4.bin").unlink()
    with pytest.raises(DataError, match="missing data_batch_4.bin"):
        load_cifar10(tmp_path, "train")
    assert len(load_cifar10(tmp_path, "test")) == PER_BATCH


def test_unknown_split_and_load_images_resize(tmp_path):
    with pytest.raises(ConfigError, match="train, test, all"):
        load_cifar10(tmp_path, "valid")
    write_binary_batches(tmp_path / "cifar-10-batches-bin")
    native = load_cifar10(tmp_path, "test")
    big = load_images("cifar10", tmp_path, split="test", image_size=64)
    assert big.images.shape == (PER_BATCH, 3, 64, 64)
    assert torch.equal(big.images, resize_images(native.images, 64))
    assert torch.equal(big.labels, native.labels) and big.classes == CLASSES


# ---------------------------------------------------------------------------- real CIFAR-10

needs_cifar = pytest.mark.skipif(
    not CIFAR_ARCHIVE.is_file(),
    reason=f"real CIFAR-10 not found at {CIFAR_ARCHIVE} (../shared/data/cifar10)",
)


# Decoding the 60,000 JPEGs is most of this file's runtime (about 12 s on 2 idle cores), so
# the archive is read once per session, and the image-folder path is checked on an extracted
# subset: writing all 60,000 small files took 25-40 s on a busy shared machine.
PER_CLASS_EXTRACTED = 100


@pytest.fixture(scope="session")
def real_cifar_all():
    """All 60,000 real images, read straight from the shared .tar.gz (train then test)."""
    return load_cifar10(CIFAR_ARCHIVE, "all", progress=False)


@pytest.fixture(scope="session")
def real_cifar_test_subset(tmp_path_factory) -> Path:
    """test/<class>/0000.jpg .. 0099.jpg of the archive, extracted to a temporary folder."""
    root = tmp_path_factory.mktemp("cifar10-jpeg")
    wanted = {f"test/{c}/{k:04d}.jpg" for c in CLASSES for k in range(PER_CLASS_EXTRACTED)}
    with tarfile.open(CIFAR_ARCHIVE, "r:gz") as tar:
        for member in tar:
            if member.name.removeprefix("./") in wanted:
                tar.extract(member, root, filter="data")
                wanted.discard(member.name.removeprefix("./"))
                if not wanted:
                    break
    assert not wanted, f"archive lacks {sorted(wanted)[:3]}"
    return root


@needs_cifar
@pytest.mark.slow
def test_real_cifar10_train_counts_shape_and_channel_means(real_cifar_all):
    assert real_cifar_all.images.shape == (60_000, 3, 32, 32)
    assert real_cifar_all.classes == CLASSES
    train_images, train_labels = real_cifar_all.images[:50_000], real_cifar_all.labels[:50_000]
    assert torch.bincount(train_labels, minlength=10).tolist() == [5_000] * 10
    assert torch.bincount(real_cifar_all.labels[50_000:], minlength=10).tolist() == [1_000] * 10
    means = train_images.sum(dim=(0, 2, 3), dtype=torch.int64).double() / (50_000 * 32 * 32 * 255)
    assert torch.allclose(means, torch.tensor([0.4913, 0.4821, 0.4465]).double(), atol=0.01)


@needs_cifar
@pytest.mark.slow
def test_real_cifar10_image_folder_matches_archive(real_cifar_test_subset, real_cifar_all):
    test = load_cifar10(real_cifar_test_subset, "test", progress=False)
    n = PER_CLASS_EXTRACTED
    assert test.images.shape == (10 * n, 3, 32, 32) and test.classes == CLASSES
    assert test.labels.tolist() == [c for c in range(10) for _ in range(n)]
    # Archive order within test: class by class, files sorted by name (0000, 0001, ...).
    rows = torch.tensor([50_000 + c * 1_000 + k for c in range(10) for k in range(n)])
    assert torch.equal(test.images, real_cifar_all.images[rows])
    assert torch.equal(test.labels, real_cifar_all.labels[rows])
    # Spot check against Pillow directly: the first truck.
    with Image.open(real_cifar_test_subset / "test" / "truck" / "0000.jpg") as im:
        assert np.array_equal(test.images[9 * n].permute(1, 2, 0).numpy(), np.asarray(im))
