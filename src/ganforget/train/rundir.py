"""The run directory: the contract between training and everything after it.

Layout: ``config.yaml`` (full resolved config), ``metrics.jsonl`` (one JSON object a line),
``checkpoints/``, ``samples/``, ``probes/`` and ``figures/``.
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
    def create(self, cfg: Config) -> RunDir:
        """Prepare a new run: check the folder is writable and free, then write config.yaml."""
        self._check_writable()
        if self.config_path.exists():
            same = _identity(self.read_config_dict()) == _identity(_normalise(to_dict(cfg)))
            hint = "use --resume RUN_DIR to continue it" if same else "choose another out=DIR"
            what = "this run already" if same else "a different run"
            raise GanforgetError(f"run directory '{self.path}' holds {what}; {hint}")
        for s in SUBDIRS:
            self.sub(s)
        tmp = self.path / ".config.yaml.tmp"
        save_yaml(cfg, tmp)
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
        """Append one JSON line to metrics.jsonl (a single write of the whole line)."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.metrics_path, "a") as f:
            f.write(line)

    def metrics(self) -> list[dict]:
        """Return the parsed lines of metrics.jsonl (a half-written last line is skipped)."""
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_metrics(self, upto: int) -> int:
        """Keep only whole lines with ``it <= upto``; return how many lines were dropped."""
        if not self.metrics_path.exists():
            return 0
        raw = self.metrics_path.read_bytes()
        kept, dropped = [], 0
        for line in raw.split(b"\n"):
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                dropped += 1
                continue
            if rec.get("it", 0) <= upto:
                kept.append(line)
            else:
                dropped += 1
        tmp = self.path / ".metrics.jsonl.tmp"
        tmp.write_bytes(b"".join(k + b"\n" for k in kept))
        os.replace(tmp, self.metrics_path)
        return dropped


def _identity(d: dict) -> dict:
    # Settings that change how a run is shown, not what it computes.
    d = {**d, "train": {k: v for k, v in d.get("train", {}).items() if k != "progress"}}
    return d


def _normalise(d):
    # Round-trip through YAML so tuples/lists and floats compare equal to what was stored.
    return yaml.safe_load(yaml.safe_dump(d, sort_keys=True))
