"""Checkpoints: atomic writes, pruning, and clear refusals of truncated, corrupted and
malicious files (which must never run code); resume falls back to the newest good one."""

from __future__ import annotations

import io
import os
import pickle
import random
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from ganforget.cli import main
from ganforget.config import load_yaml, resolve
from ganforget.errors import CheckpointError, ConfigError, GanforgetError
from ganforget.presets import preset
from ganforget.train import session
from ganforget.train.checkpoint import (
    checkpoint_name,
    digest,
    list_checkpoints,
    load_checkpoint,
    prune,
    save_atomic,
)


def _state(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "iteration": 7,
        "seeds": [0, 1],
        "G": {"w": torch.randn(2, 8, 4, generator=g), "b": torch.zeros(2, 4)},
        "opt": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 1e-3}]},
        "rng": torch.Generator().manual_seed(seed).get_state(),
        "betas": (0.5, 0.99),
        "alarms": {},
    }


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


# --- writing -------------------------------------------------------------------------------
def test_save_then_load_round_trips_exactly_and_leaves_no_temporary_file(tmp_path):
    path = save_atomic(_state(), tmp_path / checkpoint_name(7))
    assert path.name == "ckpt-00000007.pt"
    assert _equal(load_checkpoint(path), _state())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000007.pt"]


def test_digest_changes_with_any_value_and_only_then():
    a = _state()
    assert digest(a) == digest(_state())
    b = _state()
    b["G"]["w"][1, 3, 2] += 1e-7
    c = _state()
    c["opt"]["param_groups"][0]["lr"] = 1.1e-3
    d = _state()
    d["G"]["b"] = d["G"]["b"].double()
    assert len({digest(a), digest(b), digest(c), digest(d)}) == 4


def test_a_failed_write_keeps_the_old_checkpoint_and_removes_the_temporary(tmp_path, monkeypatch):
    path = save_atomic(_state(0), tmp_path / checkpoint_name(7))

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(CheckpointError, match="ckpt-00000007.pt.*No space left"):
        save_atomic(_state(1), path)
    monkeypatch.undo()
    assert _equal(load_checkpoint(path), _state(0))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt-00000007.pt"]


def test_prune_keeps_the_last_k_and_the_marked_ones_and_clears_stale_temporaries(tmp_path):
    for it in range(100, 1100, 100):
        (tmp_path / checkpoint_name(it)).write_bytes(b"x")
    stale = tmp_path / ".ckpt-00001100.pt.tmp-12345"
    stale.write_bytes(b"half")
    removed = prune(tmp_path, keep_last=3, keep={200, 500})
    assert [i for i, _ in list_checkpoints(tmp_path)] == [200, 500, 800, 900, 1000]
    assert len(removed) == 5
    assert not stale.exists()


# --- reading bad files ---------------------------------------------------------------------
def test_truncated_checkpoints_are_refused_with_the_file_named(tmp_path):
    raw = (save_atomic(_state(), tmp_path / "good.pt")).read_bytes()
    for cut in (0, 1, 100, len(raw) // 2, len(raw) - 22, len(raw) - 1):
        bad = tmp_path / f"ckpt-{cut:08d}.pt"
        bad.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(bad)
        msg = str(exc.value)
        assert str(bad) in msg and "truncated or corrupted" in msg and "\n" not in msg


def test_every_corrupted_byte_is_refused_or_harmless(tmp_path):
    # Flip bytes all over a checkpoint: each load must either fail with a CheckpointError
    # naming the file or return exactly the saved state. PyTorch alone does not check its
    # zip CRCs, so a flipped tensor byte would load silently without the digest.
    raw = save_atomic(_state(), tmp_path / "good.pt").read_bytes()
    rng = random.Random(0)
    positions = sorted(rng.sample(range(len(raw)), 400))
    bad = tmp_path / "ckpt-00000007.pt"
    outcome = {"refused": 0, "harmless": 0}
    for pos in positions:
        data = bytearray(raw)
        data[pos] ^= 1 << rng.randrange(8)
        bad.write_bytes(bytes(data))
        try:
            loaded = load_checkpoint(bad)
        except CheckpointError as exc:
            assert str(bad) in str(exc) and "\n" not in str(exc)
            outcome["refused"] += 1
            continue
        assert _equal(loaded, _state()), f"byte {pos} changed the loaded state silently"
        outcome["harmless"] += 1
    assert outcome["refused"] > 300, outcome


def test_a_flipped_tensor_byte_is_caught_by_the_digest(tmp_path):
    path = save_atomic(_state(), tmp_path / "ckpt-00000007.pt")
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 64)
    raw = bytearray(path.read_bytes())
    # Local header: 30 bytes + name + extra field, then the data.
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + 5] ^= 0x10
    path.write_bytes(bytes(raw))
    # Plain torch.load accepts the damaged file...
    damaged = torch.load(path, weights_only=True)
    assert not _equal(damaged["G"], _state()["G"])
    # ...load_checkpoint does not.
    with pytest.raises(CheckpointError, match="does not match its digest"):
        load_checkpoint(path)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_carrying_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "ckpt-00000100.pt"
    torch.save({"iteration": 100, "G": _RunsCode(marker)}, evil)
    # The payload is live: an unsafe load would run it.
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps({"iteration": 1, "x": _RunsCode(marker)}))
    with pytest.raises(CheckpointError, match="could run code and was refused") as exc:
        load_checkpoint(evil)
    assert str(evil) in str(exc.value)
    with pytest.raises(CheckpointError, match="not a complete zip archive"):
        load_checkpoint(legacy)  # an old-style pickle file is never unpickled at all
    assert not marker.exists()
    pickle.loads(legacy.read_bytes())  # control: the same bytes do run code when unpickled
    assert marker.exists()


def test_a_yaml_config_that_tries_to_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="not valid YAML at line 1"):
        load_yaml(cfg)
    assert not marker.exists()


def test_a_non_ganforget_file_is_refused(tmp_path):
    p = tmp_path / "ckpt-00000001.pt"
    torch.save([1, 2, 3], p)
    with pytest.raises(CheckpointError, match="not a ganforget checkpoint"):
        load_checkpoint(p)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


# --- resume falls back ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "ref"
    over = [
        "train.iterations=60",
        "train.checkpoint_every=20",
        "train.log_every=5",
        "train.coverage_every=60",
        "train.coverage_samples=100",
        "train.sample_every=100000",
        "train.device=cpu",
        f"out={out}",
    ]
    res = session.train(resolve(preset("ring8-ns-adam"), over), progress=False, log=print)
    assert res.status == "done"
    return out


def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    else:  # one flipped byte in the middle of the tensors
        data = bytearray(raw)
        data[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
def test_resume_falls_back_to_the_newest_good_checkpoint_and_says_so(tmp_path, finished_run, how):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    newest = run / "checkpoints" / "ckpt-00000060.pt"
    _damage(newest, how)
    before = (run / "metrics.jsonl").read_bytes()
    logged: list[str] = []
    out = session.resume(run, progress=False, log=logged.append)
    assert out.status == "done"
    assert logged[0].startswith(f"warning: checkpoint '{newest}' ")
    assert "falling back to an older checkpoint" in logged[0]
    assert any("ckpt-00000040.pt" in x and "newest good" in x for x in logged), logged
    assert any("resuming" in x and "iteration 40" in x for x in logged), logged
    # The run is redone from 40 and ends exactly as before.
    assert (run / "metrics.jsonl").read_bytes() == before
    fresh = load_checkpoint(run / "checkpoints" / "ckpt-00000060.pt")
    assert _equal(fresh, load_checkpoint(finished_run / "checkpoints" / "ckpt-00000060.pt"))


def test_when_no_checkpoint_is_usable_resume_stops_with_one_line(tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    for _, p in list_checkpoints(run / "checkpoints"):
        _damage(p, "truncated")
    with pytest.raises(CheckpointError, match="no usable checkpoint among 3"):
        session.resume(run, progress=False, log=lambda *_: None)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(run), "--no-progress", "--no-plot"])
    assert exc.value.code == 2
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no usable checkpoint among 3"), err
    warnings = cap.out.strip().splitlines()
    assert len(warnings) == 3 and all(w.startswith("warning: checkpoint '") for w in warnings)


def test_a_checkpoint_of_other_seeds_is_not_loaded(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    text = (run / "config.yaml").read_text().replace("seeds:\n  - 0", "seeds:\n  - 1")
    (run / "config.yaml").write_text(text)
    with pytest.raises(GanforgetError, match="written for seeds \\[0\\], not \\[1\\]"):
        session.resume(run, progress=False, log=lambda *_: None)


def test_checkpoint_state_loads_with_weights_only(finished_run):
    # The whole trainer state, RNGs included, is made of types weights_only accepts.
    path = finished_run / "checkpoints" / "ckpt-00000060.pt"
    state = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    assert {"G", "D", "opt_g", "opt_d", "streams", "global_rng", "callbacks"} <= set(state)
    assert set(state["global_rng"]) >= {"torch", "numpy", "python"}


def test_a_checkpoint_from_before_global_rng_states_still_loads(finished_run):
    # Checkpoints written before NumPy/Python RNG states were saved held only "torch_rng".
    from ganforget.train.build import build_trainer
    from ganforget.train.rundir import RunDir

    tr = build_trainer(RunDir(finished_run).config(), None)
    state = load_checkpoint(finished_run / "checkpoints" / "ckpt-00000060.pt")
    state["torch_rng"] = state.pop("global_rng")["torch"]
    tr.load_state_dict(state)
    assert tr.iteration == 60
    assert torch.equal(torch.get_rng_state(), state["torch_rng"])
