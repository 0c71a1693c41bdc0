"""The registered fig8 experiment at smoke scale: claims.json and the panels are written."""

from __future__ import annotations

import json

from ganforget.experiments.claims import write_claims
from ganforget.experiments.registry import get


def test_fig8_smoke_writes_claims_and_figures(tmp_path):
    exp = get("fig8")
    assert exp.default_seeds == 10
    doc = exp.run("smoke", [0, 1], tmp_path)
    path = write_claims(tmp_path, doc)
    loaded = json.loads(
        path.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))
    )
    assert loaded["experiment"] == "fig8" and loaded["seeds"] == [0, 1]
    assert loaded["command"] == "ganforget reproduce fig8 --scale smoke --seeds 2"
    assert [c["id"] for c in loaded["claims"]] == ["C1", "C2", "C3"]
    for c in loaded["claims"]:
        assert isinstance(c["pass"], bool)
        assert all(len(v) == 2 for v in c["values"].values())
    for name in ("fig8.png", "fig8_theta.png", "prop1_optimal_d.png", "fig8_final_d.png"):
        png = tmp_path / name
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fig8_rejects_bad_scale(tmp_path):
    import pytest

    from ganforget.errors import ConfigError

    exp = get("fig8")
    with pytest.raises(ConfigError, match="scale"):
        exp.run("huge", [0], tmp_path)
