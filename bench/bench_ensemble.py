"""Seed-ensemble benchmark: S seeds in one trainer vs S sequential runs, framework overhead,
gradient-penalty cost. A thin script around :mod:`ganforget.benchmarks.ensemble`.

    python bench/bench_ensemble.py [--quick] [--device cpu|cuda] [--threads N]
                                   [--repeats R] [--out results/bench/ensemble-cpu.json]

Same as ``ganforget bench ...``.
"""

from __future__ import annotations

import sys

from ganforget.benchmarks.ensemble import main
from ganforget.errors import GanforgetError

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except GanforgetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
