"""Shared pieces of the training experiments: run variants as seed ensembles, read results."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

from ganforget.config import Config, resolve
from ganforget.plots.run import series as plot_series
from ganforget.presets import preset
from ganforget.train import session
from ganforget.train.build import build_trainer
from ganforget.train.checkpoint import checkpoint_name, load_checkpoint
from ganforget.train.rundir import RunDir


def train_variant(
    name: str, base: str, overrides: list[str], seeds: list[int], out: Path, log=print
) -> RunDir:
    """Train preset ``base`` with ``overrides`` for all ``seeds`` at once into ``out/name``.

    An existing complete run of the same config is reused; a different or partial one is
    replaced. Returns the run directory.
    """
    path = Path(out) / name
    cfg = resolve(
        preset(base), [*overrides, f"train.seeds={list(seeds)}", f"out={path}", f"name={name}"]
    )
    if path.exists():
        run = RunDir(path)
        try:
            done = run.config() == cfg and (path / "summary.done").exists()
        except Exception:
            done = False
        if done:
            log(f"[{name}] reusing finished run in {path}")
            return run
        shutil.rmtree(path)
    log(f"[{name}] training {len(seeds)} seeds for {cfg.train.iterations} iterations")
    outcome = session.train(cfg, log=log)
    if outcome.status != "done":
        raise RuntimeError(outcome.message)
    (path / "summary.done").write_text("ok\n")
    return outcome.run


def schedule(iters: int, every: int, bank: int | None = None) -> list[str]:
    """Return the overrides of an experiment run: ``iters`` iterations, metrics and live
    probes (forgetting, field, coverage) every ``every``, banks every ``bank`` (default
    ``every``), one checkpoint and one sample figure at the end."""
    return [
        f"train.iterations={iters}",
        f"train.log_every={every}",
        f"train.coverage_every={every}",
        f"train.checkpoint_every={iters}",
        f"train.sample_every={iters}",
        f"probes.forgetting_every={every}",
        f"probes.bank_every={bank or every}",
        f"probes.field_every={every}",
    ]


def series(run: RunDir, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(its [T], values [T, S])`` of the per-seed metric ``key`` of a run."""
    return plot_series(run.metrics(), key)


def second_half_mean(run: RunDir, key: str, total: int) -> np.ndarray:
    """Return per seed the mean of metric ``key`` over records with ``it > total / 2``."""
    its, vals = series(run, key)
    sel = its > total / 2
    if not sel.any():
        return np.full(vals.shape[1] if vals.ndim == 2 else 0, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(vals[sel].astype(float), axis=0)


def last(run: RunDir, key: str) -> np.ndarray:
    """Return per seed the last logged value of metric ``key``."""
    _, vals = series(run, key)
    return vals[-1] if len(vals) else np.zeros(0)


def load_at(run: RunDir, iteration: int, cfg: Config | None = None):
    """Return a trainer (no callbacks) holding the run's checkpoint at ``iteration``."""
    cfg = cfg or run.config()
    tr = build_trainer(cfg, None)
    state = load_checkpoint(run.path / "checkpoints" / checkpoint_name(iteration), tr.device)
    tr.load_state_dict(state)
    tr.G.eval()
    tr.D.eval()
    return tr


def scaled(its: list[int], factor: float) -> list[int]:
    """Return snapshot iterations scaled by ``factor`` (at least 1, distinct, sorted)."""
    return sorted({max(1, int(round(i * factor))) for i in its})
