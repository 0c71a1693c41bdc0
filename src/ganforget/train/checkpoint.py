"""Atomic, verified, safely loaded checkpoints.

A checkpoint is written to a temporary file in the same folder, fsynced, then renamed into
place, and the folder is fsynced; a crash at any moment leaves either the old set of
checkpoints or the new one, never a half-written file under a checkpoint's name.

Each checkpoint carries a ``digest`` of its content (every tensor's bytes, dtype and shape,
and every plain value). PyTorch does not check the CRCs of its zip archive, so a flipped
byte in a tensor would otherwise load silently; the digest turns it into a clear error.

Loading uses ``torch.load(weights_only=True)``, which cannot run code from the file: a file
whose pickle names any global outside PyTorch's allow-list is refused.

Test hook: when the environment variable ``GANFORGET_TEST_SLOW_SAVE`` holds a number of
seconds, :func:`save_atomic` sleeps that long after writing the temporary file and before
renaming it, so a test can kill the process in the middle of a checkpoint write.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import struct
import time
import zipfile
from pathlib import Path

import torch

from ganforget.errors import CheckpointError

PATTERN = re.compile(r"^ckpt-(\d{8})\.pt$")
DIGEST_KEY = "digest"
SLOW_SAVE_ENV = "GANFORGET_TEST_SLOW_SAVE"


def checkpoint_name(iteration: int) -> str:
    """Return the file name of the checkpoint at ``iteration``, e.g. ``ckpt-00005000.pt``."""
    return f"ckpt-{iteration:08d}.pt"


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def digest(obj) -> str:
    """Return a hex BLAKE2b digest of ``obj``: nested dicts/lists/tuples of tensors and scalars.

    Two objects have the same digest exactly when they hold the same structure, keys, plain
    values and tensors (same dtype, shape and bytes).
    """
    h = hashlib.blake2b(digest_size=16)
    _feed(h, obj)
    return h.hexdigest()


def _feed(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(b"D" + struct.pack("<q", len(obj)))
        for k, v in obj.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(obj, list | tuple):
        h.update((b"L" if isinstance(obj, list) else b"U") + struct.pack("<q", len(obj)))
        for v in obj:
            _feed(h, v)
    else:
        h.update(f"V{type(obj).__name__}:{obj!r};".encode())


def save_atomic(state: dict, path: Path) -> Path:
    """Write ``state`` (plus its ``digest``) to ``path`` atomically; return ``path``.

    Steps: temporary file in the same folder, fsync, rename, fsync the folder. An error
    (full disk, permissions) removes the temporary file and raises CheckpointError.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = {**state, DIGEST_KEY: digest(state)}
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            _test_pause()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"could not write checkpoint '{path}' ({exc.strerror or exc}); "
            "free disk space or fix permissions, then resume"
        ) from None
    fsync_dir(path.parent)
    return path


def _test_pause() -> None:
    delay = os.environ.get(SLOW_SAVE_ENV)
    if delay:
        time.sleep(float(delay))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Return the state stored at ``path`` (without its digest).

    A missing, truncated, corrupted or unsafe file raises CheckpointError naming ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupted (not a complete zip archive)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).strip()
        if "Weights only load failed" in text or "Unsupported" in text:
            raise CheckpointError(
                f"checkpoint '{path}' holds objects that could run code and was refused; "
                "only load checkpoints that ganforget wrote"
            ) from None
        raise CheckpointError(f"checkpoint '{path}' is corrupted ({_first_line(exc)})") from None
    except Exception as exc:  # torch reports damage as many exception types
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupted ({_first_line(exc)})"
        ) from None
    if not isinstance(state, dict) or "iteration" not in state:
        raise CheckpointError(f"checkpoint '{path}' is not a ganforget checkpoint")
    stored = state.pop(DIGEST_KEY, None)
    if stored is not None and stored != digest(state):
        raise CheckpointError(
            f"checkpoint '{path}' is corrupted (its content does not match its digest)"
        )
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:120]


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Return ``(iteration, path)`` for each checkpoint in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = PATTERN.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def prune(folder: Path, keep_last: int, keep: set[int] | None = None) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints and the marked ``keep``; return them.

    Also removes temporary files left by a write that was killed.
    """
    keep = keep or set()
    found = list_checkpoints(folder)
    removed = []
    for it, p in found[:-keep_last] if keep_last > 0 else found:
        if it not in keep:
            p.unlink(missing_ok=True)
            removed.append(p)
    for stale in Path(folder).glob(".ckpt-*.tmp-*"):
        stale.unlink(missing_ok=True)
    return removed
