"""Summaries over seeds: mean ± std with the per-seed values, from a run directory.

A run of S seeds logs per-member metrics to ``metrics.jsonl`` as lists of S numbers, in the
order of ``train.seeds``. :func:`summarize_run` takes the last record of each such metric
and gives its mean, its sample standard deviation (n - 1 in the denominator; None for a
single seed) and the value of every seed, keyed by seed. Non-finite values (a reverse KL of
infinity for a seed that covers no mode, a NaN index before it is defined) are kept as they
are, so they show in the mean instead of being silently dropped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ganforget.errors import GanforgetError

SUMMARY_FILE = "summary.json"
SKIPPED_KEYS = ("it", "event", "alarms", "alarm", "reason")


def summarize(
    values_per_seed: Sequence[float] | Mapping[int | str, float],
    seeds: Sequence[int] | None = None,
) -> dict:
    """Return ``{"mean", "std", "n", "per_seed"}`` of one number per seed.

    ``values_per_seed`` is a mapping ``seed -> value`` or a sequence in the order of
    ``seeds`` (default 0, 1, ...). ``std`` is the sample standard deviation (None when
    n < 2); ``per_seed`` maps ``str(seed)`` to the value (JSON object keys are strings).
    None counts as NaN.
    """
    if isinstance(values_per_seed, Mapping):
        keys = [str(k) for k in values_per_seed]
        vals = [_number(v) for v in values_per_seed.values()]
    else:
        vals = [_number(v) for v in values_per_seed]
        order = list(range(len(vals))) if seeds is None else list(seeds)
        if len(order) != len(vals):
            raise ValueError(f"{len(vals)} values for {len(order)} seeds")
        keys = [str(s) for s in order]
    n = len(vals)
    if n == 0:
        return {"mean": None, "std": None, "n": 0, "per_seed": {}}
    mean = math.fsum(vals) / n if all(math.isfinite(v) for v in vals) else _plain_mean(vals)
    std = None
    if n >= 2:
        var = sum((v - mean) ** 2 for v in vals) / (n - 1)
        std = math.sqrt(var) if var == var and var >= 0 else float("nan")
    return {"mean": mean, "std": std, "n": n, "per_seed": dict(zip(keys, vals, strict=True))}


def _number(v) -> float:
    return float("nan") if v is None else float(v)


def _plain_mean(vals: list[float]) -> float:
    # inf and nan propagate the IEEE way: any nan, or +inf with -inf, gives nan
    return sum(vals) / len(vals)


def summarize_run(run_dir: str | Path) -> dict:
    """Return the summary over seeds of the last record of each per-member metric.

    Result: ``{"seeds": [...], "metrics": {name: {"it", "mean", "std", "n", "per_seed"}}}``
    where ``it`` is the iteration of the record summarised. A metric is per-member when its
    value is a list with one number per seed; other entries (alarms, events) are skipped.
    """
    from ganforget.train.rundir import RunDir

    run = RunDir(run_dir)
    seeds = list(run.config().train.seeds)
    last: dict[str, tuple[int, list]] = {}
    for rec in run.metrics():
        it = rec.get("it")
        for key, value in rec.items():
            if key in SKIPPED_KEYS or not _per_member(value, len(seeds)):
                continue
            last[key] = (it, value)
    metrics = {}
    for key, (it, value) in last.items():
        metrics[key] = {"it": it, **summarize(value, seeds)}
    return {"seeds": seeds, "metrics": metrics}


def _per_member(value, members: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == members
        and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in value
        )
    )


def write_summary(run_dir: str | Path) -> Path:
    """Write :func:`summarize_run` of ``run_dir`` to ``run_dir/summary.json``; return its path."""
    path = Path(run_dir) / SUMMARY_FILE
    try:
        doc = summarize_run(run_dir)
    except OSError as exc:
        raise GanforgetError(f"cannot read run '{run_dir}' to summarise it ({exc})") from None
    tmp = path.with_name(f".{SUMMARY_FILE}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)
    return path
