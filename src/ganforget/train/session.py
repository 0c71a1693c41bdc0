"""A training session: create or resume a run directory, train, survive signals and NaNs.

``train(cfg)`` starts a new run; ``resume(run_dir)`` continues one from its newest good
checkpoint. SIGINT and SIGTERM end the current iteration, write a checkpoint and exit with
128+signal. A NaN/Inf stops the run (the last good checkpoint stays), or, with
``train.on_divergence=rollback``, reloads the last checkpoint with lower learning rates.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ganforget.config import Config
from ganforget.errors import CheckpointError, DivergenceError, GanforgetError
from ganforget.summary import write_summary
from ganforget.train.build import build_trainer
from ganforget.train.callbacks import Checkpointer
from ganforget.train.checkpoint import list_checkpoints, load_checkpoint
from ganforget.train.rundir import RunDir
from ganforget.train.trainer import Trainer

MAX_ROLLBACKS = 3


@dataclass
class Outcome:
    """How a session ended: ``status`` is ``done``, ``interrupted`` or ``diverged``."""

    run: RunDir
    status: str
    iteration: int
    exit_code: int
    message: str = ""


def default_out(cfg: Config) -> Path:
    """Return the run directory of ``cfg``: ``cfg.out`` or ``runs/<name>``."""
    return Path(cfg.out) if cfg.out else Path("runs") / cfg.name


def train(cfg: Config, *, progress: bool | None = None, log=print) -> Outcome:
    """Start a new run of ``cfg`` in its run directory; return how it ended."""
    run = RunDir(default_out(cfg)).create(cfg)
    tr = build_trainer(cfg, run)
    return _drive(tr, cfg, run, progress, log)


def resume(path: str | Path, *, progress: bool | None = None, log=print) -> Outcome:
    """Continue the run in ``path`` from its newest readable checkpoint; return how it ended."""
    run = RunDir(path)
    cfg = run.config()
    tr = build_trainer(cfg, run)
    it = restore_latest(tr, run, log)
    dropped = run.truncate_metrics(it)
    if dropped:
        log(f"dropped {dropped} metrics line(s) written after iteration {it}")
    if it >= cfg.train.iterations:
        log(f"run '{run.path}' is already complete ({it} iterations)")
        return Outcome(run, "done", it, 0)
    log(f"resuming '{run.path}' at iteration {it}")
    return _drive(tr, cfg, run, progress, log)


def restore_latest(tr: Trainer, run: RunDir, log=print) -> int:
    """Load the newest good checkpoint of ``run`` into ``tr``; return its iteration (0: none)."""
    found = list_checkpoints(run.path / "checkpoints")
    for it, path in reversed(found):
        try:
            state = load_checkpoint(path, map_location=tr.device)
        except CheckpointError as exc:
            log(f"warning: {exc}; falling back to an older checkpoint")
            continue
        tr.load_state_dict(state)
        return it
    if found:
        log("warning: no readable checkpoint; starting from iteration 0")
    return 0


def _drive(tr: Trainer, cfg: Config, run: RunDir, progress, log) -> Outcome:
    show = cfg.train.progress if progress is None else progress
    ckpt = next(cb for cb in tr.callbacks if isinstance(cb, Checkpointer))
    caught: list[int] = []

    def on_signal(signum, _frame):
        caught.append(signum)
        tr.stop_requested = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    rollbacks = 0
    start_it, t0 = tr.iteration, time.perf_counter()
    try:
        while True:
            try:
                tr.run(cfg.train.iterations, progress=show)
                break
            except DivergenceError as exc:
                if cfg.train.on_divergence != "rollback" or rollbacks >= MAX_ROLLBACKS:
                    log(f"error: {exc}")
                    last = ckpt.last_saved if ckpt.last_saved >= 0 else "none"
                    return Outcome(
                        run,
                        "diverged",
                        tr.iteration,
                        3,
                        f"{exc} (last good checkpoint: iteration {last})",
                    )
                rollbacks += 1
                it = restore_latest(tr, run, log)
                run.truncate_metrics(it)
                for opt in (tr.opt_d, tr.opt_g):
                    for group in opt.param_groups:
                        group["lr"] *= cfg.train.rollback_lr_factor
                run.log(
                    {
                        "it": it,
                        "event": "rollback",
                        "reason": str(exc),
                        "lr_factor": cfg.train.rollback_lr_factor,
                    }
                )
                log(
                    f"rolled back to iteration {it} with learning rates x"
                    f"{cfg.train.rollback_lr_factor} ({rollbacks}/{MAX_ROLLBACKS})"
                )
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    elapsed = time.perf_counter() - t0
    _write_timing(run, tr.iteration - start_it, elapsed, len(tr.streams.seeds))
    write_summary(run.path)  # mean ± std and per-seed values of the last metrics
    if caught:
        code = 128 + caught[-1]
        msg = (
            f"interrupted at iteration {tr.iteration}; checkpoint saved. Resume with: "
            f"ganforget train --resume {run.path}"
        )
        return Outcome(run, "interrupted", tr.iteration, code, msg)
    return Outcome(run, "done", tr.iteration, 0)


def _write_timing(run: RunDir, iterations: int, seconds: float, members: int) -> None:
    rec = {
        "iterations": iterations,
        "seconds": round(seconds, 3),
        "members": members,
        "it_per_s": round(iterations / seconds, 2) if seconds > 0 else None,
    }
    with open(run.path / "timing.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")


def run_or_exit(outcome: Outcome) -> None:
    """Print the outcome's message and exit with its code when it is not ``done``."""
    if outcome.status != "done":
        print(outcome.message, file=sys.stderr)
        raise SystemExit(outcome.exit_code)


__all__ = ["GanforgetError", "Outcome", "resume", "train"]
