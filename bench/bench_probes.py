"""Probe overhead: the share of training time spent in the live probes (default schedule).

Two measurements in one process:

* inside one run, the time spent in the probe monitors' callbacks against the rest of the
  training loop (robust to a noisy machine: both parts see the same load);
* side by side, interleaved runs with the default probes on and all probes off.

Usage:
    python bench/bench_probes.py [--preset ring8-ns-sgd] [--iterations 3000] [--seeds 5]
                                 [--repeats 2] [--out results/bench/probes-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ganforget.config import ProbesConfig, resolve
from ganforget.presets import preset
from ganforget.probes.monitors import FieldMonitor, ForgettingMonitor, LandscapeMonitor
from ganforget.train.build import build_trainer
from ganforget.train.rundir import RunDir

MONITORS = (ForgettingMonitor, FieldMonitor, LandscapeMonitor)


class Timed:
    """Wrap a callback and add the seconds spent in its hooks to ``self.seconds``."""

    def __init__(self, cb):
        self.cb, self.seconds = cb, 0.0
        self.name = getattr(cb, "name", None)

    def __getattr__(self, attr):
        fn = getattr(self.cb, attr)
        if not attr.startswith("on_"):
            return fn

        def timed(*args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def run_once(name: str, iterations: int, seeds: int, probes: bool, folder: Path) -> dict:
    """Train once; return total loop seconds and the seconds spent in probe monitors."""
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
    tr = build_trainer(cfg, RunDir(folder).create(cfg))
    wrapped = []
    for i, cb in enumerate(tr.callbacks):
        if isinstance(cb, MONITORS):
            tr.callbacks[i] = Timed(cb)
            wrapped.append(tr.callbacks[i])
    t0 = time.perf_counter()
    tr.run(iterations, progress=False)
    total = time.perf_counter() - t0
    return {"total": total, "probes": sum(w.seconds for w in wrapped)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="ring8-ns-sgd")
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(argv)
    d = ProbesConfig()
    inside, side = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            on = run_once(a.preset, a.iterations, a.seeds, True, Path(tmp) / f"on{r}")
            off = run_once(a.preset, a.iterations, a.seeds, False, Path(tmp) / f"off{r}")
            inside.append(on["probes"] / (on["total"] - on["probes"]))
            side.append(on["total"] / off["total"])
            print(
                f"repeat {r}: probes {on['probes']:.2f} s of {on['total']:.2f} s "
                f"(+{100 * inside[-1]:.1f}%); on/off wall ratio {side[-1]:.3f}"
            )
    res = {
        "command": "python bench/bench_probes.py " + " ".join(argv),
        "preset": a.preset,
        "iterations": a.iterations,
        "seeds": a.seeds,
        "schedule": {
            "forgetting_every": d.forgetting_every,
            "bank_every": d.bank_every,
            "field_every": d.field_every,
            "landscape_every": d.landscape_every,
        },
        "overhead_inside_run": statistics.median(inside),
        "on_off_wall_ratio": statistics.median(side),
        "per_repeat_inside": inside,
        "per_repeat_on_off": side,
    }
    print(
        f"median probe overhead inside a run: +{100 * res['overhead_inside_run']:.1f}%; "
        f"median on/off wall ratio: {res['on_off_wall_ratio']:.3f}"
    )
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
