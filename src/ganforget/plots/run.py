"""``ganforget plot RUN_DIR``: every figure of a run, drawn from its stored records only."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganforget.train.rundir import RunDir  # noqa: E402

PROBE_SERIES = (
    ("forgetting_index", "forgetting index", "tab:red"),
    ("field_stability", "field stability", "tab:blue"),
    ("fake_motion", "fake motion", "tab:orange"),
    ("landscape_real_local_max", "real anchors that are local maxima", "tab:green"),
    ("landscape_monotonic", "directionally monotonic curves", "tab:purple"),
)


def series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(its [T], values [T, S])`` of the per-member ``key`` over the records."""
    rows = [(r["it"], r[key]) for r in records if key in r]
    if not rows:
        return np.zeros(0), np.zeros((0, 0))
    its = np.array([r[0] for r in rows])
    vals = np.array([np.asarray(r[1], dtype=float).reshape(-1) for r in rows])
    return its, vals


def row_mean(vals: np.ndarray) -> np.ndarray:
    """Return the NaN-ignoring mean over seeds of ``vals [T, S]`` (NaN where all are NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(vals, axis=1)


def plot_members(ax, its, vals, seeds, label, color="tab:blue") -> None:
    """Draw each member's curve thin and their mean thick on ``ax``."""
    for j in range(vals.shape[1]):
        ax.plot(its, vals[:, j], color=color, alpha=0.25, lw=0.8)
    ax.plot(
        its,
        row_mean(vals),
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
        paths.append(save_figure(fig, figures / "losses.png"))
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
        paths.append(save_figure(fig, figures / "coverage.png"))
    samples = sorted((run.path / "samples").glob("it*.png"))
    if samples:
        last = figures / "samples_last.png"
        last.write_bytes(samples[-1].read_bytes())
        paths.append(last)
    paths += plot_probe_series(run, records, seeds, figures)
    paths += plot_probe_arrays(run, figures)
    return paths


def plot_probe_series(run: RunDir, records: list[dict], seeds, figures: Path) -> list[Path]:
    """Draw each live-probe number against iteration, one panel per probe; return paths."""
    present = [(k, lab, c) for k, lab, c in PROBE_SERIES if any(k in r for r in records)]
    if not present:
        return []
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.4), squeeze=False)
    for ax, (key, label, color) in zip(axes[0], present, strict=True):
        its, vals = series(records, key)
        plot_members(ax, its, vals, seeds, label, color)
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, figures / "probes.png")]


def plot_probe_arrays(run: RunDir, figures: Path) -> list[Path]:
    """Draw the stored probe arrays: field (Fig. 1), old-fake scores (Fig. 11), landscapes."""
    from ganforget.plots.probes import plot_field, plot_forgetting, plot_landscapes

    probes = run.path / "probes"
    out = []
    field = probes / "field.npz"
    if field.exists():
        z = np.load(field)
        i = -1
        out.append(
            plot_field(
                z["points"],
                z["fields"][i, 0],
                figures / "field_last.png",
                fakes=z["fakes"][i, 0],
                title=f"seed {int(z['seeds'][0])}, it {int(z['iterations'][i])}",
            )
        )
    for f in sorted(probes.glob("forgetting_seed*.npz"))[:1]:
        z = np.load(f)
        if z["fake_scores"].shape[1] > 0:
            b = 0
            scores = z["fake_scores"][:, b, :16]
            ok = ~np.isnan(scores[:, 0])
            out.append(
                plot_forgetting(
                    z["iterations"][ok],
                    scores[ok],
                    figures / "forgetting_bank0.png",
                    bank_iteration=int(z["bank_iterations"][b]),
                    threshold=z["thresholds"][ok],
                    title=f"{f.stem}: fakes of iteration {int(z['bank_iterations'][b])}",
                )
            )
    land = probes / "landscape.npz"
    if land.exists():
        z = np.load(land)
        n = int(z["n_real"])
        curves = z["curves"][-1, 0]
        is_real = [True] * n + [False] * (curves.shape[0] - n)
        out.append(
            plot_landscapes(
                curves,
                z["ks"],
                figures / "landscape_last.png",
                is_real=is_real,
                title=f"seed {int(z['seeds'][0])}, it {int(z['iterations'][-1])}",
            )
        )
    return out


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Save ``fig`` as a PNG at ``path``, close it, and return ``path``."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
