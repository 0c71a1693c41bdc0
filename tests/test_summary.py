"""Summaries over seeds: mean ± sample std and per-seed values, from a run directory."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from ganforget.config import resolve
from ganforget.presets import preset
from ganforget.summary import summarize, summarize_run, write_summary
from ganforget.train import session
from ganforget.train.rundir import RunDir


def test_summarize_matches_the_statistics_module():
    vals = [0.25, 1.5, -3.0, 2.0]
    s = summarize(vals, seeds=[4, 1, 9, 0])
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(statistics.mean(vals), rel=1e-15)
    assert s["std"] == pytest.approx(statistics.stdev(vals), rel=1e-15)  # n - 1
    assert s["per_seed"] == {"4": 0.25, "1": 1.5, "9": -3.0, "0": 2.0}


def test_summarize_mapping_single_seed_and_bad_lengths():
    s = summarize({7: 3.0})
    assert s == {"mean": 3.0, "std": None, "n": 1, "per_seed": {"7": 3.0}}
    assert summarize([])["n"] == 0
    with pytest.raises(ValueError, match="2 values for 3 seeds"):
        summarize([1.0, 2.0], seeds=[0, 1, 2])


def test_non_finite_values_show_in_the_mean():
    s = summarize([1.0, math.inf])
    assert s["mean"] == math.inf and math.isnan(s["std"])
    s = summarize([1.0, None, 2.0])
    assert math.isnan(s["mean"]) and math.isnan(s["per_seed"]["1"])


def _run_with_metrics(tmp_path, seeds, lines):
    cfg = resolve(preset("ring8-ns-sgd"), [f"out={tmp_path / 'r'}", f"train.seeds={seeds}"])
    run = RunDir(cfg.out).create(cfg)
    for rec in lines:
        run.log(rec)
    return run


def test_summarize_run_takes_the_last_record_of_each_metric(tmp_path):
    run = _run_with_metrics(
        tmp_path,
        [2, 5, 8],
        [
            {"it": 10, "d_loss": [1.0, 2.0, 3.0], "g_loss": [0.0, 0.0, 0.0]},
            {"it": 10, "modes": [8, 7, 6], "alarms": {"x": "y"}},
            {"it": 20, "d_loss": [2.0, 4.0, 9.0], "alarm": "text"},
            {"it": 20, "event": "rollback", "lr_factor": 0.5},
            {"it": 20, "fake_motion": [0.1, 0.2]},  # not one value per seed: skipped
        ],
    )
    doc = summarize_run(run.path)
    assert doc["seeds"] == [2, 5, 8]
    m = doc["metrics"]
    assert set(m) == {"d_loss", "g_loss", "modes"}
    assert m["d_loss"]["it"] == 20 and m["g_loss"]["it"] == 10
    assert m["d_loss"]["per_seed"] == {"2": 2.0, "5": 4.0, "8": 9.0}
    assert m["d_loss"]["mean"] == pytest.approx(5.0)
    assert m["d_loss"]["std"] == pytest.approx(statistics.stdev([2.0, 4.0, 9.0]))
    assert m["modes"]["per_seed"]["8"] == 6


def test_training_writes_summary_json_matching_the_last_metrics(tmp_path):
    cfg = resolve(
        preset("ring8-ns-sgd"),
        [
            f"out={tmp_path / 'run'}",
            "train.iterations=40",
            "train.log_every=20",
            "train.coverage_every=40",
            "train.seeds=[3,5]",
            "train.progress=false",
            "data.batch_size=64",
            "probes.forgetting_every=0",
            "probes.field_every=0",
        ],
    )
    out = session.train(cfg, progress=False, log=lambda *_: None)
    assert out.status == "done"
    doc = json.loads((out.run.path / "summary.json").read_text())
    last = [r for r in out.run.metrics() if "d_loss" in r][-1]
    assert last["it"] == 40
    d = doc["metrics"]["d_loss"]
    assert d["per_seed"] == {"3": last["d_loss"][0], "5": last["d_loss"][1]}
    assert d["mean"] == pytest.approx(sum(last["d_loss"]) / 2)
    assert doc["metrics"]["modes"]["n"] == 2
    assert write_summary(out.run.path).name == "summary.json"
