"""`ganforget reproduce` at smoke scale writes claims.json and its figures."""

import json

import pytest

from ganforget.experiments import registry


def _check_claims(path, experiment, n_seeds):
    doc = json.loads(path.read_text())
    assert doc["experiment"] == experiment and doc["scale"] == "smoke"
    assert doc["seeds"] == list(range(n_seeds))
    assert doc["command"].startswith(f"ganforget reproduce {experiment}")
    assert doc["claims"]
    for c in doc["claims"]:
        assert isinstance(c["pass"], bool) and c["statement"] and c["why"]
        assert all(len(v) == n_seeds for v in c["values"].values())
    return doc


@pytest.mark.slow
def test_reproduce_fig1_smoke(tmp_path, cli):
    out = tmp_path / "fig1"
    assert cli("reproduce", "fig1", "--scale", "smoke", "--seeds", "2", "--out", str(out)) == 0
    doc = _check_claims(out / "claims.json", "fig1", 2)
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2", "C3"}
    for fig in doc["figures"]:
        assert (out / fig).stat().st_size > 10_000
    assert len(doc["figures"]) == 4
    report = (out / "report.html").read_text()
    assert "C1" in report and all(f in report for f in doc["figures"])


@pytest.mark.slow
def test_reproduce_remedies_smoke(tmp_path, cli):
    out = tmp_path / "rem"
    assert (
        cli(
            "reproduce",
            "remedies",
            "--scale",
            "smoke",
            "--seeds",
            "2",
            "--out",
            str(out),
        )
        == 0
    )
    doc = _check_claims(out / "claims.json", "remedies", 2)
    assert set(doc["table"]) == {
        "base",
        "momentum",
        "adam",
        "ewc",
        "replay",
        "gamma10",
        "r1",
        "0gp",
    }
    assert doc["table"]["base"]["time_per_iteration_vs_base"] == pytest.approx(1.0)
    assert doc["ewc_sweep"]["chosen"]["weight"] > 0
    assert (out / "remedies.png").stat().st_size > 10_000


def test_unknown_experiment_is_one_line(cli, capsys):
    assert cli("reproduce", "fig99") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown experiment 'fig99'") and "\n" not in err


def test_registry_lists_paper_experiments():
    assert {"fig1", "fig8", "remedies"} <= set(registry.load_all())
