"""Exact resume: SIGKILLs at random moments (some inside a checkpoint write), SIGINT/SIGTERM,
half-written metrics lines, and divergence (stop, or roll back with lower learning rates).

The reference for every comparison is an uninterrupted run with the same config and seed on
the same machine; a resumed run must end with the same parameters, optimizer states, RNG
states and byte-identical metrics.jsonl.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforget.cli import main
from ganforget.config import resolve
from ganforget.errors import GanforgetError
from ganforget.objectives import Objective
from ganforget.presets import preset
from ganforget.train import session
from ganforget.train.checkpoint import SLOW_SAVE_ENV, list_checkpoints, load_checkpoint
from ganforget.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
PRESET = "ring8-ns-adam"  # Adam: optimizer state that must survive a resume
ITERATIONS = 500
OVERRIDES = [
    f"train.iterations={ITERATIONS}",
    "train.checkpoint_every=25",
    "train.log_every=5",
    "train.coverage_every=100",
    "train.coverage_samples=500",
    "train.sample_every=100000",
    "train.device=cpu",
    "train.keep_last=3",
    # probes whose state (banks of fixed fakes, alarms) must survive a kill
    "probes.forgetting_every=40",
    "probes.bank_every=60",
    "probes.bank_size=16",
    "probes.field_every=100",
]
# Remedies' state must survive too: EWC's importance and anchor, the replay buffer.
VARIANTS = {
    "base": [],
    "remedies": [
        "remedies.ewc.weight=10",
        "remedies.ewc.tau=40",
        "remedies.replay.capacity=200",
        "remedies.replay.fraction=0.5",
    ],
}
QUIET = ["--no-progress", "--no-plot"]


# --- helpers -------------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"  # the reference runs in this process with 1 thread too
    env.pop(SLOW_SAVE_ENV, None)
    return env


def _args(run: Path, extra: list[str]) -> list[str]:
    if (run / "config.yaml").exists():
        return ["train", "--resume", str(run), *QUIET]
    # killed before the run existed (or first start): start it
    return ["train", "--preset", PRESET, *QUIET, *OVERRIDES, *extra, f"out={run}"]


class Proc:
    """A ``python -m ganforget.cli train`` subprocess writing its output to files."""

    def __init__(self, run: Path, extra: list[str], logs: Path) -> None:
        args = _args(run, extra)
        self.fresh = "--resume" not in args
        self.out, self.err = _log_files(logs)
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "ganforget.cli", *args],
                env=_env(),
                stdout=o,
                stderr=e,
                cwd=run.parent,
            )
        self.pid = self.p.pid

    def running(self) -> bool:
        return self.p.poll() is None

    def signal(self, sig: int) -> None:
        self.p.send_signal(sig)

    def wait(self, timeout: float = 120) -> int:
        code = self.p.wait(timeout)
        return 128 - code if code < 0 else code  # as a shell reports it

    def stderr(self) -> str:
        return self.err.read_text()


class Child(Proc):
    """``ganforget train`` in a forked child of this process (no second torch import).

    The child runs the CLI's ``main`` exactly as the console script does and ends with its
    exit code; a SIGKILL ends it like any other process.
    """

    def __init__(self, run: Path, extra: list[str], logs: Path, slow_save=None) -> None:
        args = _args(run, extra)
        self.fresh = "--resume" not in args
        self.out, self.err = _log_files(logs)
        self.code = None
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                for fd, path in ((1, self.out), (2, self.err)):
                    f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(f, fd)
                    os.close(f)
                sys.stdout = open(1, "w", closefd=False, buffering=1)
                sys.stderr = open(2, "w", closefd=False, buffering=1)
                os.environ.pop(SLOW_SAVE_ENV, None)
                if slow_save:
                    os.environ[SLOW_SAVE_ENV] = str(slow_save)
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid = pid

    def _reap(self, flags: int) -> bool:
        if self.code is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is not None

    def running(self) -> bool:
        return not self._reap(os.WNOHANG)

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 120) -> int:
        end = time.monotonic() + timeout
        while not self._reap(os.WNOHANG):
            assert time.monotonic() < end, "child did not finish"
            time.sleep(0.005)
        return 128 - self.code if self.code < 0 else self.code


def _log_files(logs: Path) -> tuple[Path, Path]:
    logs.mkdir(exist_ok=True)
    n = len(list(logs.iterdir())) // 2
    return logs / f"{n:02d}.out", logs / f"{n:02d}.err"


def _newest_ckpt(run: Path) -> int:
    found = list_checkpoints(run / "checkpoints")
    return found[-1][0] if found else 0


def _wait_progress(proc: Proc, run: Path, beyond: int, timeout: float = 90) -> bool:
    """Wait until this process wrote a checkpoint past ``beyond``; False if it ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not proc.running():
            return False
        if _newest_ckpt(run) > beyond:
            return True
        time.sleep(0.005)
    raise AssertionError(f"no checkpoint past iteration {beyond} in {timeout} s")


def _sleep_unless(proc: Proc, run: Path, seconds: float, cap: int) -> None:
    """Sleep ``seconds``, cut short when the process ends or checkpoints iteration ``cap``."""
    end = time.monotonic() + seconds
    while proc.running() and time.monotonic() < end and _newest_ckpt(run) < cap:
        time.sleep(0.005)


def _tmp_files(run: Path, pid: int | None = None) -> list[Path]:
    pat = f".ckpt-*.tmp-{pid}" if pid else ".ckpt-*.tmp-*"
    return list((run / "checkpoints").glob(pat)) if (run / "checkpoints").is_dir() else []


def _same(a, b, where="state") -> None:
    """Assert two checkpoint states are exactly equal (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"


def assert_same_run(ref: Path, run: Path) -> None:
    """The run in ``run`` ended exactly as the uninterrupted ``ref``."""
    assert run.joinpath("metrics.jsonl").read_bytes() == ref.joinpath("metrics.jsonl").read_bytes()
    names = [p.name for _, p in list_checkpoints(run / "checkpoints")]
    assert names == [p.name for _, p in list_checkpoints(ref / "checkpoints")]
    assert not _tmp_files(run), "a temporary checkpoint file was left behind"
    for name in names:
        _same(
            load_checkpoint(ref / "checkpoints" / name),
            load_checkpoint(run / "checkpoints" / name),
            name,
        )
    # Probe records (arrays beside metrics.jsonl) end the same too.
    probes = sorted(p.name for p in (ref / "probes").glob("*.npz"))
    assert probes == sorted(p.name for p in (run / "probes").glob("*.npz"))
    for name in probes:
        with np.load(ref / "probes" / name) as a, np.load(run / "probes" / name) as b:
            assert sorted(a.files) == sorted(b.files), name
            for k in a.files:
                assert np.array_equal(a[k], b[k], equal_nan=True), f"probes/{name}:{k} differs"


_REFERENCES: dict[str, Path] = {}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(variant)``: the run dir of an uninterrupted in-process run (cached)."""

    def get(variant: str) -> Path:
        if variant not in _REFERENCES:
            out = tmp_path_factory.mktemp("ref") / variant
            cfg = resolve(preset(PRESET), [*OVERRIDES, *VARIANTS[variant], f"out={out}"])
            res = session.train(cfg, progress=False, log=lambda *_: None)
            assert res.status == "done", res.message
            _REFERENCES[variant] = out
        return _REFERENCES[variant]

    return get


# --- kills ---------------------------------------------------------------------------------
KILL_PLAN = ["start", "random", "save", "random", "save", "random", "random"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted_run(
    tmp_path, reference, variant
):
    rng = random.Random(20200719)
    run, logs = tmp_path / "run", tmp_path / "logs"
    kills, in_save, history = 0, 0, []
    reference(variant)  # first, so that the kill times below measure the children only
    t0 = time.monotonic()
    for how in KILL_PLAN:
        start_at = _newest_ckpt(run)
        cap = start_at + 50  # at most ~2 checkpoints of progress per process: 7 kills fit
        proc = Child(run, VARIANTS[variant], logs, slow_save=0.4 if how == "save" else None)
        if how == "start":  # anywhere from import to the first iterations
            _sleep_unless(proc, run, rng.uniform(0.2, 2.5), cap)
        elif not _wait_progress(proc, run, start_at):
            break
        elif how == "random":
            _sleep_unless(proc, run, rng.uniform(0.0, 0.3), cap)
        else:  # inside a checkpoint write: the temporary file exists, not yet renamed
            end = time.monotonic() + 60
            while proc.running() and not _tmp_files(run, proc.pid):
                assert time.monotonic() < end, "no checkpoint write seen"
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.15))
        if not proc.running():
            break
        proc.signal(signal.SIGKILL)
        assert proc.wait() == 128 + signal.SIGKILL
        kills += 1
        caught_in_save = bool(_tmp_files(run, proc.pid))
        in_save += caught_in_save
        history.append((how, _newest_ckpt(run), caught_in_save, round(time.monotonic() - t0, 2)))
    final = Child(run, VARIANTS[variant], logs)
    assert final.wait() == 0, final.stderr()
    assert final.fresh is False
    print(
        f"\n{variant}: {kills} SIGKILLs survived ({in_save} inside a checkpoint write): {history}"
    )
    assert kills >= 5, history
    assert in_save >= 2, history
    assert_same_run(reference(variant), run)


# --- SIGINT / SIGTERM ----------------------------------------------------------------------
def _interrupt(proc: Proc, run: Path, sig: int) -> int:
    assert _wait_progress(proc, run, _newest_ckpt(run)), proc.stderr()
    time.sleep(0.1)
    proc.signal(sig)
    code = proc.wait()
    assert code == 128 + sig, (code, proc.stderr())
    last = proc.stderr().strip().splitlines()[-1]
    m = re.fullmatch(
        r"interrupted at iteration (\d+); checkpoint saved\. "
        r"Resume with: ganforget train --resume (.+)",
        last,
    )
    assert m, last
    it = int(m.group(1))
    assert Path(m.group(2)) == run
    assert 0 < it < ITERATIONS
    assert load_checkpoint(run / "checkpoints" / f"ckpt-{it:08d}.pt")["iteration"] == it
    assert _newest_ckpt(run) == it
    return it


def test_sigterm_and_sigint_save_a_checkpoint_and_print_the_resume_line(tmp_path, reference):
    run, logs = tmp_path / "run", tmp_path / "logs"
    # SIGTERM (what schedulers send) to the real console entry point, `python -m ganforget.cli`
    it1 = _interrupt(Proc(run, [], logs), run, signal.SIGTERM)
    # SIGINT (Ctrl-C) to a forked CLI, which saves another interpreter start-up
    it2 = _interrupt(Child(run, [], logs), run, signal.SIGINT)
    assert it2 > it1
    final = Child(run, [], logs)
    assert final.wait() == 0, final.stderr()
    assert_same_run(reference("base"), run)


# --- in-process resume edge cases ----------------------------------------------------------
def _small_cfg(out: Path, *extra: str):
    over = [
        "train.iterations=100",
        "train.checkpoint_every=25",
        "train.log_every=5",
        "train.coverage_every=50",
        "train.coverage_samples=200",
        "train.sample_every=100000",
        "train.device=cpu",
        *extra,
        f"out={out}",
    ]
    return resolve(preset(PRESET), over)


def _quiet_train(cfg):
    return session.train(cfg, progress=False, log=lambda *_: None)


@pytest.fixture
def small_ref(tmp_path) -> Path:
    out = tmp_path / "ref"
    assert _quiet_train(_small_cfg(out)).status == "done"
    return out


def test_half_written_metrics_line_and_lines_past_the_checkpoint_are_dropped(tmp_path, small_ref):
    # A kill after iteration 100's metrics but before its checkpoint, mid-way through a line.
    run = tmp_path / "killed"
    shutil.copytree(small_ref, run)
    (run / "checkpoints" / "ckpt-00000100.pt").unlink()
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"it":105,"d_lo')
    logged = []
    out = session.resume(run, progress=False, log=logged.append)
    assert out.status == "done"
    assert any(re.search(r"dropped \d+ metrics line", x) for x in logged), logged
    assert "resuming" in logged[-1] and "iteration 75" in logged[-1]
    assert_same_run(small_ref, run)


def test_resume_of_a_complete_run_does_nothing(small_ref):
    before = small_ref.joinpath("metrics.jsonl").read_bytes()
    out = session.resume(small_ref, progress=False, log=lambda *_: None)
    assert (out.status, out.iteration) == ("done", 100)
    assert small_ref.joinpath("metrics.jsonl").read_bytes() == before


def test_a_second_process_on_the_same_run_is_refused(small_ref):
    holder = RunDir(small_ref).lock()
    try:
        with pytest.raises(GanforgetError, match="in use by another ganforget process"):
            session.resume(small_ref, progress=False, log=lambda *_: None)
    finally:
        holder.unlock()


def test_numpy_and_python_rngs_are_restored(tmp_path):
    cfg = _small_cfg(tmp_path / "r", "train.iterations=3")
    from ganforget.train.build import build_trainer

    tr = build_trainer(cfg, None)
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    state = tr.state_dict()
    draws = (random.random(), np.random.rand(3).tolist(), torch.rand(2).tolist())
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    tr.load_state_dict(state)
    assert (random.random(), np.random.rand(3).tolist(), torch.rand(2).tolist()) == draws


# --- divergence ----------------------------------------------------------------------------
def _inject_nan(monkeypatch, which: str, at_calls: set[int] | None):
    """Multiply the D or G loss by NaN on the given calls (None: every call from now on)."""
    name = "d_losses" if which == "D" else "g_losses"
    original = getattr(Objective, name)
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if at_calls is None or calls["n"] in at_calls:
            if which == "D":
                out = {**out, "loss": out["loss"] * math.nan}
            else:
                out = out * math.nan
        return out

    monkeypatch.setattr(Objective, name, poisoned)


@pytest.mark.parametrize("which", ["D", "G"])
def test_nan_in_a_loss_stops_with_iteration_and_loss_named(tmp_path, monkeypatch, capsys, which):
    _inject_nan(monkeypatch, which, {37})
    run = tmp_path / "run"
    args = [
        "train",
        "--preset",
        PRESET,
        *QUIET,
        "train.iterations=100",
        "train.checkpoint_every=10",
        "train.log_every=5",
        "train.device=cpu",
        f"out={run}",
    ]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {which} loss became NaN/Inf at iteration 37 "), err
    assert "last good checkpoint: iteration 30" in err[0]
    # The last good checkpoint is kept and holds finite parameters.
    assert [i for i, _ in list_checkpoints(run / "checkpoints")] == [10, 20, 30]
    state = load_checkpoint(run / "checkpoints" / "ckpt-00000030.pt")
    assert all(torch.isfinite(v).all() for v in [*state["G"].values(), *state["D"].values()])
    assert max(r["it"] for r in RunDir(run).metrics()) <= 35


def test_nan_in_a_parameter_is_never_checkpointed(tmp_path, monkeypatch):
    # Poison D's weights right before the iteration-20 checkpoint, after the loss check.
    from ganforget.probes import monitors

    class Poison:
        def on_iteration_end(self, tr):
            if tr.iteration == 20:
                with torch.no_grad():
                    next(tr.D.parameters()).fill_(math.inf)

    attach_probes = monitors.attach_probes

    def attach(tr, cfg, run):
        attach_probes(tr, cfg, run)
        tr.callbacks.append(Poison())

    monkeypatch.setattr(monitors, "attach_probes", attach)
    cfg = _small_cfg(tmp_path / "run", "train.checkpoint_every=10")
    out = _quiet_train(cfg)
    assert (out.status, out.exit_code) == ("diverged", 3)
    assert re.search(r"parameter D\.\S+ became NaN/Inf at iteration 20", out.message), out.message
    assert "last good checkpoint: iteration 10" in out.message
    assert [i for i, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [10]


def test_rollback_reloads_the_last_checkpoint_with_a_lower_learning_rate(tmp_path, monkeypatch):
    _inject_nan(monkeypatch, "D", {37})
    cfg = _small_cfg(
        tmp_path / "run",
        "train.checkpoint_every=10",
        "train.keep=[30]",  # a marked checkpoint survives pruning
        "train.on_divergence=rollback",
    )
    logged = []
    out = session.train(cfg, progress=False, log=logged.append)
    assert out.status == "done", out.message
    assert any("rolled back to iteration 30" in x for x in logged), logged
    recs = RunDir(tmp_path / "run").metrics()
    events = [r for r in recs if r.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["it"] == 30 and events[0]["lr_factor"] == 0.5
    assert "iteration 37" in events[0]["reason"]
    its = [r["it"] for r in recs if "d_loss" in r]
    assert its == sorted(its) and its[-1] == 100  # the lines after 30 were cut, then re-logged
    final = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000100.pt")
    for key, lr in (("opt_d", cfg.optim.lr_d), ("opt_g", cfg.optim.lr_g)):
        assert final[key]["param_groups"][0]["lr"] == pytest.approx(lr * 0.5)
    its = [i for i, _ in list_checkpoints(tmp_path / "run" / "checkpoints")]
    assert its == [30, 80, 90, 100]  # the last 3 plus the marked one
    # The lowered rate was saved at once: resuming from iteration 30 keeps it.
    early = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000030.pt")
    assert early["opt_d"]["param_groups"][0]["lr"] == pytest.approx(cfg.optim.lr_d * 0.5)


def test_rollback_before_the_first_checkpoint_restarts_from_the_initial_state(
    tmp_path, monkeypatch
):
    _inject_nan(monkeypatch, "G", {5})
    cfg = _small_cfg(tmp_path / "run", "train.on_divergence=rollback")
    logged = []
    out = session.train(cfg, progress=False, log=logged.append)
    assert out.status == "done", out.message
    assert any("rolled back to iteration 0" in x for x in logged), logged


def test_rollback_gives_up_after_three_tries(tmp_path, monkeypatch):
    _inject_nan(monkeypatch, "D", None)
    cfg = _small_cfg(tmp_path / "run", "train.on_divergence=rollback")
    out = session.train(cfg, progress=False, log=lambda *_: None)
    assert (out.status, out.exit_code) == ("diverged", 3)
    events = [r for r in RunDir(tmp_path / "run").metrics() if r.get("event") == "rollback"]
    assert len(events) == session.MAX_ROLLBACKS
