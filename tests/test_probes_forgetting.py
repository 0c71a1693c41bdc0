import io

import numpy as np
import pytest
import torch
from torch import nn

from ganforget.errors import CheckpointError, GanforgetError
from ganforget.objectives import Objective
from ganforget.probes.forgetting import ForgettingProbe


class ScriptedD:
    """D(x) = sign · x: real is x > 0 until the script flips the sign (at iteration 20)."""

    def __init__(self):
        self.sign = 1.0
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return self.sign * x[:, 0]


REAL = torch.tensor([[0.5], [1.5], [2.5]])
BANK0 = torch.tensor([[-3.0], [-2.0], [-1.0], [1.0]])
BANK1 = torch.tensor([[-1.0], [1.0], [2.0], [3.0]])


def run(probe, D, until=20):
    """Script: bank 0 at it 0, checks at 5 and 10, bank 1 at 10, the flip, a check at 20."""
    out = {}
    probe.add_bank(0, BANK0)
    out[5] = probe.record(5, D)
    probe.add_bank(10, BANK1)
    out[10] = probe.record(10, D)
    if until >= 20:
        D.sign = -1.0
        out[20] = probe.record(20, D)
    return out


def fracs(rec):
    return [b["frac_real"] for b in rec["banks"]]


def test_ns_fractions_and_forgetting_index():
    probe = ForgettingProbe(Objective("ns"), REAL)
    out = run(probe, ScriptedD())
    assert out[5]["threshold"] == 0.5
    assert fracs(out[5]) == [0.25]
    assert out[5]["forgetting_index"] == 0.25 and out[5]["n_old_banks"] == 1
    # bank 1 is taken at 10: not old at 10
    assert fracs(out[10]) == [0.25, 0.75]
    assert [b["old"] for b in out[10]["banks"]] == [True, False]
    assert out[10]["forgetting_index"] == 0.25
    # after the flip D calls most of bank 0 real: forgotten
    assert fracs(out[20]) == [0.75, 0.25]
    assert out[20]["forgetting_index"] == pytest.approx(0.5)
    assert out[20]["real_frac_real"] == 0.0 and out[5]["real_frac_real"] == 1.0
    s = torch.sigmoid(torch.tensor([3.0, 2.0, 1.0, -1.0])).mean()
    assert out[20]["banks"][0]["score_mean"] == pytest.approx(float(s))


def test_wgan_uses_real_median():
    probe = ForgettingProbe(Objective("wgan"), REAL)
    out = run(probe, ScriptedD())
    assert out[5]["threshold"] == 1.5 and fracs(out[5]) == [0.0]
    assert fracs(out[10]) == [0.0, 0.5] and out[10]["forgetting_index"] == 0.0
    assert out[20]["threshold"] == -1.5
    assert fracs(out[20]) == [1.0, 0.5]
    assert out[20]["forgetting_index"] == 0.75
    assert out[20]["banks"][0]["score_mean"] == pytest.approx(1.25)


def test_fixed_threshold_overrides_rule():
    probe = ForgettingProbe(Objective("wgan"), REAL, threshold=0.0)
    out = run(probe, ScriptedD())
    assert out[20]["threshold"] == 0.0 and fracs(out[20]) == [0.75, 0.25]


def test_no_old_bank_gives_none():
    probe = ForgettingProbe(Objective("ns"), REAL)
    rec = probe.record(0, ScriptedD())
    assert rec["forgetting_index"] is None and rec["banks"] == []
    probe.add_bank(3, BANK0)
    rec = probe.record(3, ScriptedD())
    assert rec["forgetting_index"] is None and rec["n_old_banks"] == 0
    assert np.isnan(probe.history()["forgetting_index"]).all()


def test_history_and_volatility():
    probe = ForgettingProbe(Objective("wgan"), REAL)
    run(probe, ScriptedD())
    h = probe.history()
    np.testing.assert_array_equal(h["iterations"], [5, 10, 20])
    np.testing.assert_array_equal(h["bank_iterations"], [0, 10])
    assert h["fake_scores"].shape == (3, 2, 4) and h["real_scores"].shape == (3, 3)
    np.testing.assert_array_equal(h["fake_scores"][:, 0], [[-3, -2, -1, 1]] * 2 + [[3, 2, 1, -1]])
    assert np.isnan(h["fake_scores"][0, 1]).all()  # bank 1 did not exist at check 5
    np.testing.assert_array_equal(h["fake_scores"][1:, 1], [[-1, 1, 2, 3], [1, -1, -2, -3]])
    np.testing.assert_array_equal(h["thresholds"], [1.5, 1.5, -1.5])
    np.testing.assert_allclose(h["forgetting_index"], [0.0, 0.0, 0.75])
    assert np.isnan(h["frac_real"][0, 1]) and h["frac_real"][2, 0] == 1.0
    vol = probe.volatility()
    assert vol.shape == (2, 4)
    # population std over the checks that saw each bank, computed by hand
    # fake 0 over time: [-3, -3, 3], mean -1, squared deviations 4, 4, 16 -> var 8
    # fake 1: [-2, -2, 2] -> var 32/9; fakes 2 and 3: [-1, -1, 1] and [1, 1, -1] -> var 8/9
    np.testing.assert_allclose(vol[0], np.sqrt([8, 32 / 9, 8 / 9, 8 / 9]))
    np.testing.assert_allclose(vol[1], [1.0, 1.0, 2.0, 3.0])
    # arrays save as npz
    buf = io.BytesIO()
    np.savez(buf, **h)
    buf.seek(0)
    np.testing.assert_array_equal(np.load(buf)["fake_scores"], h["fake_scores"])


def test_volatility_nan_with_one_check():
    probe = ForgettingProbe(Objective("ns"), REAL)
    probe.add_bank(0, BANK0)
    probe.record(1, ScriptedD())
    assert np.isnan(probe.volatility()).all()


def test_state_dict_round_trip_gives_identical_records():
    a = ForgettingProbe(Objective("wgan"), REAL)
    run(a, ScriptedD(), until=10)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = ForgettingProbe(Objective("wgan"), torch.zeros(3, 1))  # real comes from the state
    b.load_state_dict(torch.load(buf, weights_only=True))
    D = ScriptedD()
    D.sign = -1.0
    b.add_bank(15, BANK1 * 2)
    a.add_bank(15, BANK1 * 2)
    ra, rb = a.record(20, D), b.record(20, D)
    assert ra == rb
    assert a.records() == b.records()
    ha, hb = a.history(), b.history()
    for k in ha:
        np.testing.assert_array_equal(ha[k], hb[k])
    np.testing.assert_array_equal(a.volatility(), b.volatility())


def test_load_state_dict_rejects_bad_state():
    probe = ForgettingProbe(Objective("ns"), REAL)
    with pytest.raises(CheckpointError):
        probe.load_state_dict({"version": 1})
    state = ForgettingProbe(Objective("wgan"), REAL).state_dict()
    with pytest.raises(CheckpointError, match="loss"):
        probe.load_state_dict(state)
    state = probe.state_dict()
    state["thresholds"] = [0.5]
    with pytest.raises(CheckpointError):
        probe.load_state_dict(state)


def test_module_d_is_restored():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    D(torch.randn(8, 1))
    before = {k: v.clone() for k, v in D.state_dict().items()}
    probe = ForgettingProbe(Objective("ns"), REAL, batch_size=2)
    probe.add_bank(0, BANK0)
    rec = probe.record(1, D)
    assert D.training and all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())
    D.eval()
    with torch.no_grad():
        expected = (torch.sigmoid(D(BANK0).reshape(-1)) > 0.5).double().mean()
    assert rec["banks"][0]["frac_real"] == pytest.approx(float(expected))


def test_bad_banks_raise():
    probe = ForgettingProbe(Objective("ns"), REAL)
    with pytest.raises(GanforgetError):
        probe.add_bank(0, torch.zeros(4, 2))  # wrong data shape
    probe.add_bank(0, BANK0)
    with pytest.raises(GanforgetError):
        probe.add_bank(5, torch.zeros(3, 1))  # different size
    with pytest.raises(GanforgetError):
        probe.add_bank(0, BANK1)  # not after the last bank
    with pytest.raises(GanforgetError):
        ForgettingProbe(Objective("ns"), torch.zeros(0, 1))
