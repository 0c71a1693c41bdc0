"""Probes on a finished run: `ganforget probe` on checkpoints and `ganforget plot`."""

import json


def test_train_probe_and_plot(tmp_path, cli, capsys):
    run = tmp_path / "run"
    code = cli(
        "train",
        "--preset",
        "ring8-ns-sgd",
        "--seeds",
        "2",
        "--out",
        str(run),
        "--no-progress",
        "train.iterations=300",
        "train.checkpoint_every=100",
        "train.log_every=50",
        "train.coverage_every=100",
        "probes.forgetting_every=100",
        "probes.bank_every=100",
        "probes.field_every=100",
        "probes.landscape_every=150",
        "probes.k_min=-2",
        "probes.k_max=2",
        "probes.k_step=0.1",
    )
    assert code == 0
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    fi = [r for r in metrics if "forgetting_index" in r]
    assert [r["it"] for r in fi] == [100, 200, 300] and len(fi[-1]["forgetting_index"]) == 2
    assert any("field_stability" in r for r in metrics)
    assert any("landscape_real_local_max" in r for r in metrics)
    for f in ("field.npz", "landscape.npz", "forgetting_seed0.npz", "forgetting_seed1.npz"):
        assert (run / "probes" / f).exists(), f
    for f in (
        "losses.png",
        "coverage.png",
        "probes.png",
        "field_last.png",
        "forgetting_bank0.png",
        "landscape_last.png",
        "samples_last.png",
    ):
        assert (run / "figures" / f).stat().st_size > 5000, f

    assert cli("probe", str(run), "--what", "forgetting,field,modes,landscape") == 0
    off = json.loads((run / "probes" / "offline.json").read_text())
    assert [r["it"] for r in off["records"]] == [100, 200, 300]  # keep_last=3 checkpoints
    assert off["records"][0]["forgetting_index"] == [None, None]
    assert all(0 <= v <= 1 for v in off["records"][-1]["forgetting_index"])
    assert len(off["records"][-1]["modes"]) == 2

    for f in (run / "figures").iterdir():
        f.unlink()
    assert cli("plot", str(run)) == 0
    assert (run / "figures" / "probes.png").exists()
    assert "figures/probes.png" in (run / "report.html").read_text()


def test_probe_bad_what_is_one_line(tmp_path, cli, capsys):
    assert cli("probe", str(tmp_path), "--what", "vibes") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
