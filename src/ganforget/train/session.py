"""A training session: create or resume a run directory, train, survive signals and NaNs.

``train(cfg)`` starts a new run; ``resume(run_dir)`` continues one from its newest good
checkpoint. SIGINT and SIGTERM end the current iteration, write a checkpoint and exit with
128+signal and the command that resumes. A NaN/Inf stops the run with exit code 3 (the last
good checkpoint stays), or, with ``train.on_divergence=rollback``, reloads the last checkpoint
with lower learning rates. ``plan_train`` / ``plan_resume`` check everything a session would
check up front, without writing anything (``ganforget train --dry-run``).
"""

from __future__ import annotations

import copy
import json
import shlex
import signal
import sys
import threading
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
DIVERGED_EXIT = 3


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


def resume_command(run: RunDir) -> str:
    """Return the shell command that resumes ``run``."""
    return f"ganforget train --resume {shlex.quote(str(run.path))}"


def train(cfg: Config, *, progress: bool | None = None, log=print) -> Outcome:
    """Start a new run of ``cfg`` in its run directory; return how it ended.

    The run directory is checked before anything is built, and config.yaml is written only
    once the data and nets are ready, so a failed start leaves no run behind.
    """
    run = RunDir(default_out(cfg)).check_new(cfg)
    with StopOnSignal() as stop:
        tr = build_trainer(cfg, run)
        run.create(cfg).lock()
        try:
            stop.watch(tr)
            return _drive(tr, cfg, run, progress, log, stop)
        finally:
            run.unlock()


def resume(path: str | Path, *, progress: bool | None = None, log=print) -> Outcome:
    """Continue the run in ``path`` from its newest readable checkpoint; return how it ended."""
    run = RunDir(path)
    cfg = run.config()
    with StopOnSignal() as stop:
        run.lock()
        try:
            tr = build_trainer(cfg, run)
            it = restore_latest(tr, run, log)
            dropped = run.truncate_metrics(it)
            if dropped:
                log(f"dropped {dropped} metrics line(s) written after iteration {it}")
            if it >= cfg.train.iterations:
                log(f"run '{run.path}' is already complete ({it} iterations)")
                return Outcome(run, "done", it, 0)
            log(f"resuming '{run.path}' at iteration {it}")
            stop.watch(tr)
            return _drive(tr, cfg, run, progress, log, stop)
        finally:
            run.unlock()


def plan_train(cfg: Config) -> str:
    """Check that a new run of ``cfg`` could start (nothing is written); return a summary."""
    run = RunDir(default_out(cfg)).check_new(cfg)
    t = cfg.train
    return (
        f"would train '{cfg.name}' into '{run.path}': {t.iterations} iterations, "
        f"seeds {t.seeds}, checkpoints every {t.checkpoint_every}"
    )


def plan_resume(path: str | Path) -> str:
    """Check that the run in ``path`` could resume (nothing is written); return a summary."""
    run = RunDir(path)
    cfg = run.config()
    state = newest_loadable(run, lambda *_: None)
    it = 0 if state is None else int(state["iteration"])
    if it >= cfg.train.iterations:
        return f"run '{run.path}' is already complete ({it} iterations)"
    return f"would resume '{run.path}' at iteration {it} of {cfg.train.iterations}"


def newest_loadable(run: RunDir, log=print, accept=None) -> dict | None:
    """Return the state of the newest checkpoint of ``run`` that loads (None: there are none).

    ``accept(state)`` may raise CheckpointError to reject a state that loads but does not
    fit. Each rejected file is reported with ``log``; when checkpoints exist but none is
    usable, CheckpointError is raised rather than silently starting again from iteration 0.
    """
    found = list_checkpoints(run.path / "checkpoints")
    first_error = None
    for i, (_, path) in enumerate(reversed(found)):
        try:
            state = load_checkpoint(path)
            if accept is not None:
                accept(state)
        except CheckpointError as exc:
            first_error = first_error or str(exc)
            log(f"warning: {exc}; falling back to an older checkpoint")
            continue
        if i:
            log(f"using checkpoint '{path}', the newest good one")
        return state
    if found:
        raise CheckpointError(
            f"no usable checkpoint among {len(found)} in '{run.path / 'checkpoints'}' "
            f"(newest: {first_error}); move that folder away to start again from iteration 0"
        )
    return None


def restore_latest(tr: Trainer, run: RunDir, log=print) -> int:
    """Load the newest good checkpoint of ``run`` into ``tr``; return its iteration (0: none)."""

    def accept(state: dict) -> None:
        if list(state.get("seeds", [])) != list(tr.streams.seeds):
            raise CheckpointError(
                f"checkpoint of iteration {state['iteration']} was written for seeds "
                f"{state.get('seeds')}, not {tr.streams.seeds}"
            )
        try:
            tr.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            msg = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else "mismatch"
            raise CheckpointError(
                f"checkpoint of iteration {state['iteration']} does not fit the run's "
                f"config ({msg})"
            ) from None

    state = newest_loadable(run, log, accept)
    return 0 if state is None else int(state["iteration"])


class StopOnSignal:
    """Context manager: SIGINT/SIGTERM ask the watched trainer to stop after its iteration.

    A signal that arrives before a trainer is watched is remembered and applied when
    :meth:`watch` is called. Handlers are installed only in the main thread.
    """

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.trainer: Trainer | None = None
        self._old: dict = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()

    def _handle(self, signum, _frame) -> None:
        self.caught.append(signum)
        if self.trainer is not None:
            self.trainer.stop_requested = True

    def watch(self, tr: Trainer) -> None:
        """Direct later (and already caught) signals to ``tr``."""
        self.trainer = tr
        if self.caught:
            tr.stop_requested = True


@dataclass
class _Rollback:
    """What a rollback needs: the initial state when the run has no checkpoint yet."""

    initial: dict | None = None
    count: int = 0


def _drive(tr: Trainer, cfg: Config, run: RunDir, progress, log, stop: StopOnSignal) -> Outcome:
    show = cfg.train.progress if progress is None else progress
    ckpt = next(cb for cb in tr.callbacks if isinstance(cb, Checkpointer))
    rb = _Rollback()
    if cfg.train.on_divergence == "rollback" and not list_checkpoints(run.path / "checkpoints"):
        rb.initial = copy.deepcopy(tr.state_dict())
    start_it, t0 = tr.iteration, time.perf_counter()
    while True:
        try:
            tr.run(cfg.train.iterations, progress=show)
            break
        except DivergenceError as exc:
            if cfg.train.on_divergence != "rollback" or rb.count >= MAX_ROLLBACKS:
                return _diverged(tr, run, exc)
            rb.count += 1
            _roll_back(tr, cfg, run, ckpt, rb, exc, log)
    _write_timing(run, tr.iteration - start_it, time.perf_counter() - t0, len(tr.streams.seeds))
    write_summary(run.path)  # mean ± std and per-seed values of the last metrics
    if stop.caught and tr.iteration < cfg.train.iterations:
        msg = (
            f"interrupted at iteration {tr.iteration}; checkpoint saved. "
            f"Resume with: {resume_command(run)}"
        )
        return Outcome(run, "interrupted", tr.iteration, 128 + stop.caught[-1], msg)
    return Outcome(run, "done", tr.iteration, 0)


def _diverged(tr: Trainer, run: RunDir, exc: DivergenceError) -> Outcome:
    found = list_checkpoints(run.path / "checkpoints")
    last = f"iteration {found[-1][0]} in '{found[-1][1]}'" if found else "none yet"
    msg = f"error: {exc} (last good checkpoint: {last})"
    return Outcome(run, "diverged", tr.iteration, DIVERGED_EXIT, msg)


def _roll_back(tr, cfg, run, ckpt, rb: _Rollback, exc, log) -> None:
    it = restore_latest(tr, run, log)
    if it == 0 and rb.initial is not None:
        tr.load_state_dict(copy.deepcopy(rb.initial))
    run.truncate_metrics(it)
    factor = cfg.train.rollback_lr_factor
    for opt in (tr.opt_d, tr.opt_g):
        for group in opt.param_groups:
            group["lr"] *= factor
    run.log({"it": it, "event": "rollback", "reason": str(exc), "lr_factor": factor})
    # Save at once so that a resume after a crash also trains with the lowered rates.
    ckpt.save(tr)
    log(f"rolled back to iteration {it} with learning rates x{factor} ({rb.count}/{MAX_ROLLBACKS})")


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


__all__ = [
    "GanforgetError",
    "Outcome",
    "StopOnSignal",
    "plan_resume",
    "plan_train",
    "restore_latest",
    "resume",
    "resume_command",
    "train",
]
