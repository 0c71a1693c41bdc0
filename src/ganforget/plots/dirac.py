"""Figures of the Dirac GAN lab (paper Fig. 8) from plain arrays.

Every function takes numbers already computed (grids, D values, fake positions), so a figure
can be redrawn from stored records without retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REAL_COLOR = "tab:blue"
FAKE_COLOR = "tab:red"


@dataclass
class DiracPanel:
    """One panel: D's values ``d`` on the grid ``xs``, the real point, the fakes shown to D.

    ``fakes[0]`` is the current fake (filled red dot); the others are old fakes (open red dots).
    ``extra`` holds further labelled curves, e.g. ``{"optimised": values}`` drawn dashed.
    """

    title: str
    xs: np.ndarray
    d: np.ndarray
    fakes: Sequence[float] = ()
    real: float = 0.0
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def plot_panels(
    panels: Sequence[DiracPanel],
    path: Path,
    ncols: int = 5,
    suptitle: str = "",
    panel_size: tuple[float, float] = (3.0, 2.6),
    dpi: int = 110,
) -> Path:
    """Draw ``panels`` in a grid (D a blue line, real a blue dot, fakes red dots); save a PNG.

    ``panel_size`` is (width, height) of one panel in inches. Returns the PNG's path.
    """
    nrows = -(-len(panels) // ncols)
    w, h = panel_size
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    for ax, p in zip(axes.flat, panels, strict=False):
        ax.plot(p.xs, p.d, color=REAL_COLOR, lw=1.6, label="D(x)")
        for name, vals in p.extra.items():
            ax.plot(p.xs, vals, color="k", lw=1.0, ls="--", label=name)
        d_at = np.interp
        ax.plot([p.real], [d_at(p.real, p.xs, p.d)], "o", color=REAL_COLOR, ms=7, label="real")
        for j, f in enumerate(p.fakes):
            style = dict(color=FAKE_COLOR, ms=7)
            if j == 0:
                ax.plot([f], [d_at(f, p.xs, p.d)], "o", **style, label="fake")
            else:
                ax.plot(
                    [f],
                    [d_at(f, p.xs, p.d)],
                    "o",
                    mfc="none",
                    mew=1.5,
                    **style,
                    label="old fake" if j == 1 else None,
                )
        ax.axvline(p.real, color="0.85", lw=0.8, zorder=0)
        ax.set_title(p.title, fontsize=9)
        ax.set_xlabel("x", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95 if suptitle else 1))
    return _save(fig, path, dpi)


def plot_theta_traces(
    traces: dict[str, np.ndarray],
    path: Path,
    tol: float | None = None,
    title: str = "",
    dpi: int = 110,
) -> Path:
    """|θ_t| over t for every seed, one subplot per entry of ``traces`` (name -> ``[T+1, S]``).

    A dashed line marks ``tol`` when given. Returns the PNG's path.
    """
    fig, axes = plt.subplots(1, len(traces), figsize=(4.2 * len(traces), 3.0), squeeze=False)
    for ax, (name, th) in zip(axes[0], traces.items(), strict=True):
        ax.plot(np.abs(th), lw=0.8, alpha=0.8)
        if tol is not None:
            ax.axhline(tol, color="k", ls="--", lw=0.8, label=f"tol = {tol:g}")
            ax.legend(fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("iteration t", fontsize=8)
        ax.set_ylabel("|θ_t|", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, dpi)


def _save(fig, path: Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
