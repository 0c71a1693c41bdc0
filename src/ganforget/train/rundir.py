"""The run directory: the contract between training and everything after it.

Layout: ``config.yaml`` (full resolved config), ``metrics.jsonl`` (one JSON object a line),
``checkpoints/``, ``samples/``, ``probes/`` and ``figures/``; ``.lock`` while a process trains.

metrics.jsonl is append-only, one ``write`` per line, and is fsynced before every checkpoint,
so every line up to a checkpoint's iteration is on disk when the checkpoint is. A resume cuts
the file back to the checkpoint's iteration, which also drops a line half-written by a kill.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from ganforget.config import Config, from_dict, save_yaml, to_dict
from ganforget.errors import ConfigError, GanforgetError

SUBDIRS = ("checkpoints", "samples", "probes", "figures")


class RunDir:
    """A run directory at ``path``: config, metrics log and the folders for artefacts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # --- layout ------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def sub(self, name: str) -> Path:
        """Return (and create) the sub-folder ``name`` of the run directory."""
        p = self.path / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    # --- create / open -----------------------------------------------------------------------
    def check_new(self, cfg: Config) -> RunDir:
        """Check, without writing anything, that a new run of ``cfg`` can go here.

        Raises GanforgetError when the folder (or the nearest existing folder above it) is not
        a writable folder, or when it already holds a run (the same one: resume it; a
        different one: choose another folder).
        """
        try:
            self._check_new(cfg)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise GanforgetError(
                f"run directory '{self.path}' cannot be used ({why}); choose another out=DIR"
            ) from None
        return self

    def _check_new(self, cfg: Config) -> None:
        above = self.path.absolute()
        while not above.exists() and above.parent != above:
            above = above.parent
        if not above.is_dir():
            raise GanforgetError(
                f"run directory '{self.path}' cannot be created: '{above}' is a file, "
                "not a folder; choose another out=DIR"
            )
        if not os.access(above, os.W_OK | os.X_OK):
            raise GanforgetError(
                f"run directory '{self.path}' is not writable ('{above}' denies writing); "
                "choose another out=DIR"
            )
        if self.config_path.exists():
            same = _identity(self.read_config_dict()) == _identity(to_dict(cfg))
            hint = "use --resume RUN_DIR to continue it" if same else "choose another out=DIR"
            what = "this run already" if same else "a different run"
            raise GanforgetError(f"run directory '{self.path}' holds {what}; {hint}")
        if self.metrics_path.exists() or any((self.path / "checkpoints").glob("ckpt-*.pt")):
            raise GanforgetError(
                f"run directory '{self.path}' holds files of a run but no config.yaml; "
                "choose another out=DIR"
            )

    def create(self, cfg: Config) -> RunDir:
        """Prepare a new run: check the folder is writable and free, then write config.yaml."""
        self.check_new(cfg)
        self._check_writable()
        for s in SUBDIRS:
            self.sub(s)
        tmp = self.path / ".config.yaml.tmp"
        save_yaml(cfg, tmp)
        _fsync_file(tmp)
        os.replace(tmp, self.config_path)
        return self

    def _check_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-test-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise GanforgetError(
                f"run directory '{self.path}' is not writable ({exc.strerror}); "
                "choose another out=DIR"
            ) from None

    def lock(self) -> RunDir:
        """Take an exclusive lock on the run for this process (released at exit or unlock).

        A second process training into the same folder gets a GanforgetError instead of
        interleaving checkpoints and metrics. No-op where ``fcntl`` is missing.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise GanforgetError(
                f"run directory '{self.path}' is in use by another ganforget process; "
                "wait for it to finish or stop it first"
            ) from None
        self._lock_fd = fd
        return self

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (if any)."""
        fd = self.__dict__.pop("_lock_fd", None)
        if fd is not None:
            os.close(fd)

    def read_config_dict(self) -> dict:
        """Return config.yaml as a plain dict (safe YAML)."""
        if not self.config_path.is_file():
            raise GanforgetError(
                f"'{self.path}' is not a run directory (no config.yaml); give a folder "
                "written by `ganforget train`"
            )
        try:
            return _normalise(yaml.safe_load(self.config_path.read_text()))
        except yaml.YAMLError:
            raise GanforgetError(f"'{self.config_path}' is not valid YAML") from None

    def config(self) -> Config:
        """Return the run's validated config, read from config.yaml."""
        try:
            return from_dict(self.read_config_dict())
        except ConfigError as exc:
            raise GanforgetError(f"'{self.config_path}': {exc}") from None

    # --- metrics -----------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        """Append one JSON line to metrics.jsonl with a single ``write`` (O_APPEND)."""
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.metrics_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def sync_metrics(self) -> None:
        """Flush metrics.jsonl to disk (called before each checkpoint is written)."""
        if not self.metrics_path.exists():
            return
        _fsync_file(self.metrics_path)

    def metrics(self) -> list[dict]:
        """Return the parsed lines of metrics.jsonl (a half-written line is skipped)."""
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_bytes().split(b"\n"):
            rec = _parse(line)
            if rec is not None:
                out.append(rec)
        return out

    def truncate_metrics(self, upto: int) -> int:
        """Keep only whole lines with ``it <= upto``; return how many lines were dropped.

        A half-written line (killed mid-write) does not parse and is dropped. The file is
        replaced atomically.
        """
        if not self.metrics_path.exists():
            return 0
        raw = self.metrics_path.read_bytes()
        kept, dropped = [], 0
        for line in raw.split(b"\n"):
            if not line:
                continue
            rec = _parse(line)
            it = None if rec is None else rec.get("it", 0)
            if isinstance(it, int | float) and not isinstance(it, bool) and it <= upto:
                kept.append(line)
            else:
                dropped += 1
        if not dropped and raw.endswith(b"\n"):
            return 0
        tmp = self.path / ".metrics.jsonl.tmp"
        tmp.write_bytes(b"".join(k + b"\n" for k in kept))
        _fsync_file(tmp)
        os.replace(tmp, self.metrics_path)
        return dropped


def _parse(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identity(d: dict) -> dict:
    # What makes a run this run: the config without display preferences.
    d = _normalise(d)
    if isinstance(d.get("train"), dict):
        d["train"].pop("progress", None)
    return d


def _normalise(d):
    # Round-trip through YAML so tuples/lists and floats compare equal to what was stored.
    return yaml.safe_load(yaml.safe_dump(d, sort_keys=True))
