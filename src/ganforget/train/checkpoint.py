"""Atomic, safely loaded checkpoints.

A checkpoint is written to a temporary file in the same folder, fsynced, then renamed into
place, and the folder is fsynced; a crash at any moment leaves either the old set of
checkpoints or the new one, never a half-written file under a checkpoint's name. Loading uses
``torch.load(weights_only=True)``, which cannot run code from the file.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

from ganforget.errors import CheckpointError

PATTERN = re.compile(r"^ckpt-(\d{8})\.pt$")


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


def save_atomic(state: dict, path: Path) -> Path:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename, fsync dir)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Return the state stored at ``path``; a bad or unsafe file raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        if "Weights only load failed" in first or "Unsupported" in str(exc):
            raise CheckpointError(
                f"checkpoint '{path}' holds objects that could run code and was refused; "
                "only load checkpoints that ganforget wrote"
            ) from None
        raise CheckpointError(f"checkpoint '{path}' is corrupted ({first[:120]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint '{path}' is truncated or corrupted ({msg})") from None
    if not isinstance(state, dict) or "iteration" not in state:
        raise CheckpointError(f"checkpoint '{path}' is not a ganforget checkpoint")
    return state


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
    """Delete all but the newest ``keep_last`` checkpoints and the marked ``keep``; return them."""
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
