"""The ensemble benchmark's harness: the hand-written loop does our math; rows are sane.

Timings are not asserted (the benchmark runs on demand, ``ganforget bench``); these tests
only check that the yardstick computes the same losses and that the harness reports what
it measured.
"""

from __future__ import annotations

import pytest
import torch

from ganforget.benchmarks.ensemble import (
    Timer,
    default_cases,
    format_tables,
    main,
    measure_overhead,
    measure_speedup,
)
from ganforget.benchmarks.handwritten import HandLoop
from ganforget.errors import ConfigError
from ganforget.nets.ensemble import EnsembleLogit


def test_hand_loop_computes_the_trainers_losses_with_the_same_weights():
    case = default_cases("cpu")["ring8-mlp-b64"]
    cfg = case.config([0], "cpu", 1)
    from ganforget.train.build import build_trainer

    tr = build_trainer(cfg, None)
    hand = HandLoop(cfg, tr.source, torch.device("cpu"))
    ours = [m for m in tr.D.modules() if hasattr(m, "reset_member")]
    theirs = [m for m in hand.D if isinstance(m, torch.nn.Linear)]
    assert len(ours) == len(theirs)
    with torch.no_grad():
        for a, b in zip(ours, theirs, strict=True):
            b.weight.copy_(a.weight[0] if isinstance(a, EnsembleLogit) else a.weight[0].t())
            b.bias.copy_(a.bias[0].reshape(-1))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    y = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    expect = tr.objective.d_losses(tr.D, x[None], y[None])["loss"][0]
    got = (
        torch.nn.functional.softplus(-hand.D(x)).mean()
        + torch.nn.functional.softplus(hand.D(y)).mean()
    )
    assert torch.allclose(got, expect, rtol=1e-6)


def test_speedup_and_overhead_rows(capsys):
    case = default_cases("cpu")["ring8-mlp-b64"]
    case = type(case)(case.name, case.preset, case.overrides, case.images, chunk=2)
    timer = Timer("cpu", 1)
    rows = measure_speedup(case, (1, 2), 1, timer, log=lambda *_: None)
    assert [r["S"] for r in rows] == [1, 2]
    assert rows[0]["speedup"] == 1.0  # one seed is its own sequential run
    assert rows[1]["ensemble_seeds_per_s"] > 0 and rows[1]["sequential_seeds_per_s"] > 0
    over = measure_overhead(case, 1, timer, log=lambda *_: None)
    assert over["ratio"] > 0 and over["hand_ms_per_it"] > 0
    res = {
        "device": "cpu",
        "torch": torch.__version__,
        "repeats": 1,
        "speedup": rows,
        "overhead": [over],
        "penalties": [],
        "targets": {"t": {"value": 1.0, "target": 4.0, "met": False}},
    }
    table = format_tables(res)
    assert "| ring8-mlp-b64 | 2 |" in table and "| t | 1.00 | False |" in table


def test_bad_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown bench case"):
        main(["--cases", "nope"])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            main(["--device", "cuda"])
