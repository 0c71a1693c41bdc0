"""Probe overhead: training time with the default live-probe schedule against probes off.

Runs the same preset twice per repeat, interleaved (probes on, probes off), in one process,
and reports the median ratio of wall times. Usage:

    python bench/bench_probes.py [--preset ring8-ns-sgd] [--iterations 3000] [--seeds 5]
                                 [--repeats 3] [--out results/bench/probes-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from ganforget.config import ProbesConfig, resolve
from ganforget.presets import preset
from ganforget.train import session


def timed_run(name: str, iterations: int, seeds: int, probes: bool, folder: Path) -> float:
    """Return the wall seconds of one training run (probes at their defaults, or all off)."""
    off = (
        []
        if probes
        else ["probes.forgetting_every=0", "probes.field_every=0", "probes.landscape_every=0"]
    )
    cfg = resolve(
        preset(name),
        [
            f"train.iterations={iterations}",
            f"train.seeds={list(range(seeds))}",
            f"out={folder}",
            "train.progress=false",
            *off,
        ],
    )
    t0 = time.perf_counter()
    out = session.train(cfg, progress=False, log=lambda *_: None)
    assert out.status == "done"
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="ring8-ns-sgd")
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    d = ProbesConfig()
    ratios, on_t, off_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            on = timed_run(a.preset, a.iterations, a.seeds, True, Path(tmp) / f"on{r}")
            off = timed_run(a.preset, a.iterations, a.seeds, False, Path(tmp) / f"off{r}")
            on_t.append(on)
            off_t.append(off)
            ratios.append(on / off)
            print(f"repeat {r}: probes on {on:.2f} s, off {off:.2f} s, ratio {on / off:.3f}")
    res = {
        "command": "python bench/bench_probes.py " + " ".join(argv or []),
        "preset": a.preset,
        "iterations": a.iterations,
        "seeds": a.seeds,
        "schedule": {
            "forgetting_every": d.forgetting_every,
            "bank_every": d.bank_every,
            "field_every": d.field_every,
        },
        "seconds_on": on_t,
        "seconds_off": off_t,
        "median_overhead_ratio": statistics.median(ratios),
    }
    print(f"median time ratio, probes on / off: {res['median_overhead_ratio']:.3f}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
