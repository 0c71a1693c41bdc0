"""Section V's remedies side by side on 8 Gaussians, with GAN-NS + SGD (lr 3e-3) as the base.

Every variant is one seed ensemble with the live forgetting and field probes on. The EWC
setting (τ, α, λ) is chosen first by a small sweep on *other* seeds (100, 101, ...), by a
rule fixed here: the lowest mean second-half forgetting index, ties broken by more modes.

Claims (one per remedy, rule fixed before any run): the remedy prevents forgetting when, in
a majority of seeds, its mean forgetting index over the second half of training is below
the base's for the same seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganforget.experiments.claims import claim, claims_document, majority  # noqa: E402
from ganforget.experiments.common import (  # noqa: E402
    last,
    schedule,
    second_half_mean,
    train_variant,
)
from ganforget.experiments.registry import register  # noqa: E402
from ganforget.plots.run import row_mean, save_figure  # noqa: E402
from ganforget.train.rundir import RunDir  # noqa: E402

VARIANTS: dict[str, list[str]] = {
    "base": [],
    "momentum": ["optim.momentum=0.9"],
    "adam": ["optim.name=adam"],
    "ewc": [],  # filled with the sweep's choice
    "replay": ["remedies.replay.capacity=2048", "remedies.replay.fraction=0.5"],
    "gamma10": ["objective.real_weight=10"],
    "r1": ["objective.penalty=r1", "objective.weight=10"],
    "0gp": ["objective.penalty=0gp", "objective.weight=10"],
}
SCALES = {
    # iterations, probe period, sweep iterations, sweep grid (tau, alpha, weight)
    "smoke": (300, 50, 200, [(100, 0.5, 100.0), (100, 0.5, 1000.0)]),
    "cpu": (
        10000,
        250,
        4000,
        [(t, a, w) for t in (200, 1000) for a in (0.5,) for w in (10.0, 100.0, 1000.0)]
        + [(200, 0.9, 1000.0)],
    ),
    "paper": (
        20000,
        250,
        10000,
        [(t, a, w) for t in (200, 1000) for a in (0.5, 0.9) for w in (10.0, 100.0, 1000.0)],
    ),
}
SWEEP_SEEDS = [100, 101, 102]


def _it_per_s(run: RunDir) -> float:
    lines = (run.path / "timing.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    return float(rec["it_per_s"])


def sweep_ewc(scale: str, out: Path, log=print) -> tuple[tuple, list[dict]]:
    """Run the EWC sweep; return the chosen (tau, alpha, weight) and one row per setting."""
    _, every, iters, grid = SCALES[scale]
    rows = []
    for tau, alpha, weight in grid:
        name = f"sweep-ewc-t{tau}-a{alpha:g}-w{weight:g}"
        run = train_variant(
            name,
            "ring8-ns-sgd",
            [
                *schedule(iters, every),
                f"remedies.ewc.tau={tau}",
                f"remedies.ewc.alpha={alpha}",
                f"remedies.ewc.weight={weight}",
            ],
            SWEEP_SEEDS if scale != "smoke" else SWEEP_SEEDS[:1],
            out / "sweep",
            log=log,
        )
        fi = second_half_mean(run, "forgetting_index", iters)
        modes = last(run, "modes")
        rows.append(
            {
                "tau": tau,
                "alpha": alpha,
                "weight": weight,
                "forgetting_index": float(np.nanmean(fi)),
                "modes": float(np.mean(modes)),
                "per_seed_forgetting": [float(v) for v in fi],
            }
        )
    best = min(rows, key=lambda r: (r["forgetting_index"], -r["modes"]))
    return (best["tau"], best["alpha"], best["weight"]), rows


def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {
        "mean": float(np.nanmean(v)),
        "std": float(np.nanstd(v)),
        "per_seed": [float(x) for x in v],
    }


def _figure(table: dict, runs: dict, iters: int, out: Path) -> Path:
    from ganforget.experiments.common import series

    names = list(table)
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    for ax, key, label in zip(
        axes[:2],
        ("forgetting_index", "field_stability"),
        ("forgetting index", "field stability"),
        strict=True,
    ):
        for n in names:
            its, vals = series(runs[n], key)
            if len(its):
                ax.plot(its, row_mean(vals), label=n, lw=1.5)
        ax.axvline(iters / 2, color="0.6", ls=":")
        ax.set_title(f"{label} (mean over seeds)", fontsize=10)
        ax.set_xlabel("iteration")
    axes[0].legend(fontsize=7, ncol=2)
    for ax, key, label in zip(
        axes[2:],
        ("modes", "high_quality"),
        ("modes covered at the end", "high-quality fraction at the end"),
        strict=True,
    ):
        means = [table[n][key]["mean"] for n in names]
        stds = [table[n][key]["std"] for n in names]
        ax.bar(names, means, yerr=stds, color="tab:gray", capsize=3)
        for i, n in enumerate(names):
            ax.scatter(
                [i] * len(table[n][key]["per_seed"]),
                table[n][key]["per_seed"],
                s=8,
                color="tab:red",
                zorder=3,
            )
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return save_figure(fig, out / "remedies.png", dpi=90)


@register(
    "remedies",
    "Section V: each remedy's effect on forgetting and mode collapse "
    "(8 Gaussians, GAN-NS + SGD base)",
    default_seeds=5,
)
def run(scale: str, seeds: list[int], out: Path, command: str | None = None, log=print) -> dict:
    """Sweep EWC, train every variant, and return the claims document (with the table)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    iters, every, _, _ = SCALES[scale]
    (tau, alpha, weight), sweep = sweep_ewc(scale, out, log)
    log(f"EWC sweep chose tau={tau}, alpha={alpha}, weight={weight}")
    variants = dict(VARIANTS)
    variants["ewc"] = [
        f"remedies.ewc.tau={tau}",
        f"remedies.ewc.alpha={alpha}",
        f"remedies.ewc.weight={weight}",
    ]
    runs = {
        n: train_variant(
            n, "ring8-ns-sgd", [*extra, *schedule(iters, every)], seeds, out / "runs", log=log
        )
        for n, extra in variants.items()
    }
    base_speed = _it_per_s(runs["base"])
    table = {}
    for n, r in runs.items():
        table[n] = {
            "forgetting_index": _summary(second_half_mean(r, "forgetting_index", iters)),
            "field_stability": _summary(second_half_mean(r, "field_stability", iters)),
            "modes": _summary(last(r, "modes")),
            "high_quality": _summary(last(r, "high_quality")),
            "time_per_iteration_vs_base": base_speed / _it_per_s(r),
        }
    figure = _figure(table, runs, iters, out)
    base_fi = table["base"]["forgetting_index"]["per_seed"]
    claims = []
    for i, n in enumerate([n for n in variants if n != "base"], start=1):
        fi = table[n]["forgetting_index"]["per_seed"]
        flags = [a < b for a, b in zip(fi, base_fi, strict=True)]
        claims.append(
            claim(
                f"R{i}",
                f"{n} prevents forgetting: lower forgetting index than GAN-NS + SGD",
                "second-half mean forgetting index, paired by seed",
                {n: fi, "base": base_fi},
                majority(flags),
                f"lower than base in {sum(flags)}/{len(flags)} seeds",
            )
        )
    command = command or f"ganforget reproduce remedies --scale {scale} --seeds {len(seeds)}"
    return claims_document(
        "remedies",
        scale,
        seeds,
        command,
        claims,
        table=table,
        ewc_sweep={
            "seeds": SWEEP_SEEDS,
            "rule": "lowest forgetting index, then most modes",
            "chosen": {"tau": tau, "alpha": alpha, "weight": weight},
            "rows": sweep,
        },
        figures=[figure.name],
    )
