"""``ganforget plot RUN_DIR``: every figure of a run, drawn from its stored records only."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganforget.train.rundir import RunDir  # noqa: E402

# Figure makers registered by probes: ``fn(run: RunDir, figures: Path) -> list[Path]``.
PLOTTERS: list = []


def series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(its [T], values [T, S])`` of the per-member ``key`` over the records."""
    rows = [(r["it"], r[key]) for r in records if key in r]
    if not rows:
        return np.zeros(0), np.zeros((0, 0))
    its = np.array([r[0] for r in rows])
    vals = np.array([np.asarray(r[1], dtype=float).reshape(-1) for r in rows])
    return its, vals


def plot_members(ax, its, vals, seeds, label, color="tab:blue") -> None:
    """Draw each member's curve thin and their mean thick on ``ax``."""
    for j in range(vals.shape[1]):
        ax.plot(its, vals[:, j], color=color, alpha=0.25, lw=0.8)
    ax.plot(
        its,
        np.nanmean(vals, axis=1),
        color=color,
        lw=2,
        label=f"{label} (mean of {len(seeds)} seeds)",
    )


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write the run's figures under ``figures/``; return their paths."""
    run = RunDir(run_dir)
    cfg = run.config()
    seeds = cfg.train.seeds
    records = run.metrics()
    figures = run.sub("figures")
    paths = []
    its_d, d = series(records, "d_loss")
    its_g, g = series(records, "g_loss")
    if len(its_d):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        plot_members(ax, its_d, d, seeds, "D loss", "tab:blue")
        plot_members(ax, its_g, g, seeds, "G loss", "tab:red")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_title(f"{cfg.name}: losses")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(_save(fig, figures / "losses.png"))
    its_m, modes = series(records, "modes")
    if len(its_m):
        _, hq = series(records, "high_quality")
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        plot_members(axes[0], its_m, modes, seeds, "modes covered", "tab:green")
        axes[0].set_ylim(-0.3, None)
        axes[0].set_ylabel("modes")
        plot_members(axes[1], its_m, hq, seeds, "high-quality fraction", "tab:purple")
        axes[1].set_ylim(-0.05, 1.05)
        for ax in axes:
            ax.set_xlabel("iteration")
            ax.legend(fontsize=8)
        fig.suptitle(f"{cfg.name}: mode coverage")
        fig.tight_layout()
        paths.append(_save(fig, figures / "coverage.png"))
    samples = sorted((run.path / "samples").glob("it*.png"))
    if samples:
        last = figures / "samples_last.png"
        last.write_bytes(samples[-1].read_bytes())
        paths.append(last)
    for plotter in PLOTTERS:
        paths += plotter(run, figures)
    return paths


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
