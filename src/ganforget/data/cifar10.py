"""CIFAR-10 from local files in any of its common layouts, detected automatically.

Layouts, looked for in ``root`` and then in each of its immediate subfolders:

- python batches (``cifar-10-batches-py/``): data_batch_1..5, test_batch, batches.meta;
- binary batches (``cifar-10-batches-bin/``): data_batch_1..5.bin, test_batch.bin,
  each record 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major);
- an image folder: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, label ids from the
  class names sorted alphabetically;
- a ``.tar.gz`` / ``.tgz`` archive of that image folder (``root`` may be the archive itself).

The python batches are pickles. They are read with an unpickler that resolves no global
at all: the handful of names a pickled NumPy array needs map to inert local stand-ins that
only record their arguments, and every other name is refused, so a pickle cannot run code.
"""

from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ganforget.data.folder import IMAGE_EXTENSIONS, ImageItem, decode_images
from ganforget.data.imageset import ImageSet
from ganforget.errors import ConfigError, DataError

SPLITS = ("train", "test", "all")
CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
_SIDE = 32
_PIXELS = 3 * _SIDE * _SIDE  # bytes per image
_TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
_TEST_BATCHES = ["test_batch"]
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def load_cifar10(root: str | Path, split: str = "train", *, progress: bool = True) -> ImageSet:
    """Read CIFAR-10 from ``root`` in whichever supported layout it holds (see module doc).

    Returns an ImageSet with images uint8 [N, 3, 32, 32], labels int64 [N] in 0..9 and the
    class names; N is 50,000 for "train", 10,000 for "test" and 60,000 for "all" (train
    then test) for the full dataset. Images of an image folder that are not 32x32 are
    resized (short side) and centre-cropped to 32x32.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown CIFAR-10 split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    if root.is_file() and root.name.endswith(_ARCHIVE_SUFFIXES):
        return _load_archive(root, split, progress)
    if not root.is_dir():
        raise DataError(f"CIFAR-10 location {root} does not exist; {_EXPECTED}")
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
            return _load_python_batches(folder, split)
        if (folder / "data_batch_1.bin").is_file() or (folder / "test_batch.bin").is_file():
            return _load_binary_batches(folder, split)
        if (folder / "train").is_dir() or (folder / "test").is_dir():
            return _load_image_folder(folder, split, progress)
    archives = sorted(p for p in root.iterdir() if p.name.endswith(_ARCHIVE_SUFFIXES))
    if len(archives) == 1:
        return _load_archive(archives[0], split, progress)
    if len(archives) > 1:
        names = ", ".join(p.name for p in archives)
        raise DataError(f"{root}: several archives ({names}); point root at the one to read")
    raise DataError(f"{root}: no CIFAR-10 data found; {_EXPECTED}")


_EXPECTED = (
    "expected cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta), "
    "cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin), "
    "an image folder train/<class>/*.jpg + test/<class>/*.jpg, or a .tar.gz of that folder"
)


def _batch_names(split: str) -> list[str]:
    return {
        "train": _TRAIN_BATCHES,
        "test": _TEST_BATCHES,
        "all": _TRAIN_BATCHES + _TEST_BATCHES,
    }[split]


def _image_set(images: np.ndarray, labels: np.ndarray, classes: list[str], source: str):
    return ImageSet(
        images=torch.from_numpy(images.reshape(-1, 3, _SIDE, _SIDE).copy()),
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=classes,
        source=source,
    )


def _check_labels(path: Path | str, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(
            f"{path}: label {int(labels.max() if labels.max() >= num_classes else labels.min())} "
            f"out of range 0..{num_classes - 1}; the file is corrupted, replace it"
        )


def _require(folder: Path, names: list[str]) -> list[Path]:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder}: missing {', '.join(missing)}; a CIFAR-10 batches folder holds "
            f"{', '.join(names)} for this split"
        )
    return [folder / n for n in names]


# ----------------------------------------------------------------------------- python batches


def _load_python_batches(folder: Path, split: str) -> ImageSet:
    classes = CLASSES
    if (folder / "batches.meta").is_file():
        meta = _unpickle(folder / "batches.meta")
        names = _get(meta, "label_names", folder / "batches.meta")
        if not isinstance(names, list) or not all(isinstance(n, bytes | str) for n in names):
            raise DataError(
                f"{folder / 'batches.meta'}: label_names must be a list of names; "
                "the file is corrupted, replace it"
            )
        classes = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    images, labels = [], []
    for path in _require(folder, _batch_names(split)):
        batch = _unpickle(path)
        data = _get(batch, "data", path)
        labs = _get(batch, "labels", path)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
            raise DataError(
                f"{path}: 'data' must be a uint8 array [n, {_PIXELS}]; "
                "the file is corrupted, replace it"
            )
        if data.shape[1] != _PIXELS:
            raise DataError(
                f"{path}: 'data' rows hold {data.shape[1]} bytes, expected {_PIXELS} "
                "(3 x 32 x 32); this is not a CIFAR-10 batch"
            )
        try:
            labs = np.asarray(labs, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(
                f"{path}: 'labels' must be a list of integers; the file is corrupted, replace it"
            ) from None
        if len(labs) != len(data):
            raise DataError(
                f"{path}: {len(data)} images but {len(labs)} labels; "
                "the file is corrupted, replace it"
            )
        _check_labels(path, labs, len(classes))
        images.append(data)
        labels.append(labs)
    return _image_set(
        np.concatenate(images), np.concatenate(labels), classes,
        f"cifar10[python batches]:{folder} ({split})",
    )  # fmt: skip


def _get(obj: object, key: str, path: Path) -> object:
    """``obj[key]`` for a dict pickled with bytes keys (official files) or str keys."""
    if isinstance(obj, dict):
        for k in (key.encode(), key):
            if k in obj:
                return obj[k]
    raise DataError(
        f"{path}: expected a dict with key {key!r} (b'{key}'); this is not a CIFAR-10 "
        "python batch, replace it"
    )


class _ArrayStub:
    """Records how a pickled ndarray would be rebuilt, without calling NumPy's reducers."""

    def __init__(self, *args: object) -> None:
        self.state: tuple = ("reconstruct", args)

    def __setstate__(self, state: tuple) -> None:
        self.state = ("setstate", state)


def _frombuffer_stub(buf: object, dtype: object, shape: object, order: object) -> _ArrayStub:
    stub = _ArrayStub()
    stub.state = ("frombuffer", (buf, dtype, shape, order))
    return stub


class _DtypeStub:
    """Records a pickled numpy.dtype: its type code and, after BUILD, its byte order."""

    def __init__(self, code: object, align: object = False, copy: object = True) -> None:
        self.code = code
        self.byteorder: object = "|"

    def __setstate__(self, state: tuple) -> None:
        self.byteorder = state[1] if isinstance(state, tuple) and len(state) > 1 else "|"


def _latin1_encode(text: object, encoding: object = "latin1") -> bytes:
    # Python 3 writes bytes at pickle protocol <= 2 as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode with unexpected arguments")
    return text.encode("latin1")


_STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _ArrayStub,
    ("numpy._core.multiarray", "_reconstruct"): _ArrayStub,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer_stub,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer_stub,
    ("numpy", "ndarray"): _ArrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _latin1_encode,
}
_DTYPE_CODES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that imports nothing: known NumPy names map to stand-ins, others fail."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _STAND_INS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed") from None


def _unpickle(path: Path) -> object:
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, encoding="bytes").load()
        return _materialize(obj)
    except pickle.UnpicklingError as e:
        raise DataError(
            f"{path}: refused or malformed pickle ({e}); a CIFAR-10 python batch holds only "
            "a dict of arrays, lists and strings, replace the file"
        ) from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise DataError(
            f"{path}: truncated or malformed pickle ({type(e).__name__}: {e}); "
            "expected a CIFAR-10 python batch, replace the file"
        ) from None


def _materialize(obj: object) -> object:
    """Replace stand-ins by real arrays, recursively through dicts and lists."""
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v) for v in obj]
    if isinstance(obj, _ArrayStub):
        return _build_array(obj)
    if isinstance(obj, _DtypeStub):
        raise pickle.UnpicklingError("a bare dtype where data was expected")
    return obj


def _as_str(x: object) -> str:
    return x.decode("latin1") if isinstance(x, bytes) else str(x)


def _build_dtype(stub: object) -> np.dtype:
    if not isinstance(stub, _DtypeStub):
        raise pickle.UnpicklingError("array without a dtype")
    code, order = _as_str(stub.code), _as_str(stub.byteorder)
    if code not in _DTYPE_CODES or order not in ("|", "<", ">", "="):
        raise pickle.UnpicklingError(f"array dtype {order}{code} is not a plain numeric type")
    return np.dtype(("" if order == "|" else order) + code)


def _build_array(stub: _ArrayStub) -> np.ndarray:
    kind, args = stub.state
    if kind == "setstate" and len(args) == 5:
        _, shape, dtype, fortran, raw = args
        order = "F" if fortran else "C"
    elif kind == "frombuffer" and len(args) == 4:
        raw, dtype, shape, order = args
        order = _as_str(order)
    else:
        raise pickle.UnpicklingError("unsupported array encoding")
    if isinstance(raw, str):  # Python 2 str read with a text encoding
        raw = raw.encode("latin1")
    if not isinstance(raw, bytes | bytearray) or not isinstance(shape, tuple):
        raise pickle.UnpicklingError("array without raw bytes or shape")
    dt = _build_dtype(dtype)
    if len(raw) != dt.itemsize * int(np.prod(shape)):
        raise pickle.UnpicklingError(
            f"array of shape {shape} needs {dt.itemsize * int(np.prod(shape))} bytes, "
            f"found {len(raw)}"
        )
    return np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order=order)


# ----------------------------------------------------------------------------- binary batches


def _load_binary_batches(folder: Path, split: str) -> ImageSet:
    classes = CLASSES
    meta = folder / "batches.meta.txt"
    if meta.is_file():
        names = [line.strip() for line in meta.read_text(errors="replace").splitlines()]
        classes = [n for n in names if n] or CLASSES
    record = 1 + _PIXELS
    images, labels = [], []
    for path in _require(folder, [n + ".bin" for n in _batch_names(split)]):
        raw = path.read_bytes()
        if len(raw) == 0 or len(raw) % record:
            raise DataError(
                f"{path}: {len(raw)} bytes, expected a non-zero multiple of {record} "
                f"(each record is 1 label byte + {_PIXELS} pixel bytes); "
                "the file is truncated or corrupted, replace it"
            )
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, record)
        _check_labels(path, rows[:, 0], len(classes))
        images.append(rows[:, 1:])
        labels.append(rows[:, 0])
    return _image_set(
        np.concatenate(images), np.concatenate(labels), classes,
        f"cifar10[binary batches]:{folder} ({split})",
    )  # fmt: skip


# ------------------------------------------------------------------------------- image folder


def _parts(split: str) -> list[str]:
    return ["train", "test"] if split == "all" else [split]


def _labelled(
    by_part: dict[str, dict[str, list[ImageItem]]], where: str, split: str, progress: bool
) -> ImageSet:
    """Decode ``{part: {class: items}}`` into one ImageSet, class ids sorted by name."""
    class_sets = {part: sorted(by_class) for part, by_class in by_part.items()}
    classes = class_sets[_parts(split)[0]]
    for part, names in class_sets.items():
        if names != classes:
            raise DataError(
                f"{where}: {part}/ has classes {names} but {_parts(split)[0]}/ has {classes}; "
                "both splits need the same class folders"
            )
    items: list[ImageItem] = []
    labels: list[int] = []
    for part in _parts(split):
        for label, name in enumerate(classes):
            members = by_part[part][name]
            items.extend(members)
            labels.extend([label] * len(members))
    images = decode_images(items, _SIDE, channels=3, progress=progress, desc=f"CIFAR-10 {split}")
    return ImageSet(
        images=images,
        labels=torch.tensor(labels, dtype=torch.int64),
        classes=classes,
        source=where,
    )


def _load_image_folder(folder: Path, split: str, progress: bool) -> ImageSet:
    by_part: dict[str, dict[str, list[ImageItem]]] = {}
    for part in _parts(split):
        if not (folder / part).is_dir():
            raise DataError(
                f"{folder}: missing {part}/; a CIFAR-10 image folder holds "
                "train/<class>/*.jpg and test/<class>/*.jpg"
            )
        by_part[part] = {
            d.name: sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
            for d in (folder / part).iterdir()
            if d.is_dir()
        }
        empty = [c for c, files in sorted(by_part[part].items()) if not files]
        if not by_part[part] or empty:
            raise DataError(
                f"{folder / part}: no images in class folder(s) {', '.join(empty) or '(none)'}; "
                "expected <class>/*.jpg for every class"
            )
    return _labelled(by_part, f"cifar10[image folder]:{folder} ({split})", split, progress)


def _load_archive(path: Path, split: str, progress: bool) -> ImageSet:
    # Members are read into memory (about 1 KB each) instead of extracted: no temporary
    # files to clean up, and faster than writing 60,000 small files.
    wanted = set(_parts(split))
    by_part: dict[str, dict[str, list[ImageItem]]] = {p: {} for p in wanted}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if (
                    not member.isfile()
                    or len(parts) < 3
                    or parts[-3] not in wanted
                    or PurePosixPath(member.name).suffix.lower() not in IMAGE_EXTENSIONS
                ):
                    continue
                f = tar.extractfile(member)
                data = f.read() if f is not None else b""
                by_part[parts[-3]].setdefault(parts[-2], []).append((f"{path}:{member.name}", data))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: cannot read archive ({e}); the file is truncated or corrupted, replace it"
        ) from None
    for part, by_class in by_part.items():
        if not by_class:
            raise DataError(
                f"{path}: no {part}/<class>/*.jpg images in the archive; expected a .tar.gz of "
                "the image folder train/<class>/*.jpg + test/<class>/*.jpg"
            )
        for members in by_class.values():
            members.sort(key=lambda item: item[0])
    return _labelled(by_part, f"cifar10[archive]:{path} ({split})", split, progress)
