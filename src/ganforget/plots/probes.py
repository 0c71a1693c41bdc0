"""Figures of the probes, drawn from stored arrays: landscapes (Fig. 2/12), the vector field
of D on 2-D data (Fig. 1) and the scores of fixed fakes over training (Fig. 11).

Each function takes numpy arrays or tensors, writes one PNG and returns its path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ganforget.errors import GanforgetError  # noqa: E402

REAL_COLOR = "tab:blue"
FAKE_COLOR = "tab:red"


def _np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_landscapes(
    curves,
    ks,
    path,
    *,
    title: str = "",
    ncols: int = 5,
    is_real: Sequence[bool] | None = None,
    ylabel: str = "D(x + k·u)",
) -> Path:
    """Draw one small line plot per anchor: ``curves`` ``[N, K]`` or ``[N, M, K]`` against ks.

    With ``[N, M, K]`` each panel shows the M directions of its anchor. ``is_real`` (length N)
    colours real anchors blue and fake anchors red and labels the panels; a dotted line marks
    k = 0 (the anchor).
    """
    c, k = _np(curves), _np(ks)
    if c.ndim == 2:
        c = c[:, None, :]
    if c.ndim != 3 or c.shape[-1] != k.shape[0] or c.shape[0] == 0:
        raise GanforgetError(
            f"plot_landscapes needs curves [N, K] or [N, M, K] matching {k.shape[0]} ks, "
            f"got {c.shape}"
        )
    n = c.shape[0]
    if is_real is not None and len(is_real) != n:
        raise GanforgetError(f"is_real has {len(is_real)} entries for {n} anchors")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.4 * ncols, 1.9 * nrows + 0.5), squeeze=False, sharex=True
    )
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        real = None if is_real is None else bool(is_real[i])
        color = "black" if real is None else (REAL_COLOR if real else FAKE_COLOR)
        for m in range(c.shape[1]):
            ax.plot(k, c[i, m], color=color, lw=0.9, alpha=0.8 if c.shape[1] > 1 else 1.0)
        ax.axvline(0.0, color="gray", lw=0.6, ls=":")
        label = f"anchor {i}" if real is None else f"{'real' if real else 'fake'} {i}"
        ax.set_title(label, fontsize=8, color=color)
        ax.tick_params(labelsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("k", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_field(
    points,
    field,
    path,
    *,
    real=None,
    fakes=None,
    curves=None,
    box: Sequence[float] | None = None,
    title: str = "",
    normalize: bool = True,
) -> Path:
    """Draw the vector field of D on 2-D data like the paper's Fig. 1.

    ``points``/``field`` ``[P, 2]`` become arrows (unit length when ``normalize``, so that
    direction is visible where the magnitude is tiny); ``real`` ``[R, 2]`` points are blue,
    ``fakes`` ``[F, 2]`` red; ``curves`` ``[T, C, 2]`` (from ``integral_curves``) are thin
    lines ending in a dot; ``box`` (xmin, xmax, ymin, ymax) is drawn as a green rectangle.
    """
    p, v = _np(points), _np(field)
    if p.ndim != 2 or p.shape[1] != 2 or v.shape != p.shape:
        raise GanforgetError(
            f"plot_field needs points and field of shape [P, 2], got {p.shape} and {v.shape}"
        )
    if normalize:
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        v = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.quiver(p[:, 0], p[:, 1], v[:, 0], v[:, 1], color="0.35", angles="xy", width=0.003)
    if curves is not None:
        cv = _np(curves)
        if cv.ndim != 3 or cv.shape[2] != 2:
            raise GanforgetError(f"plot_field curves must be [T, C, 2], got {cv.shape}")
        ax.plot(cv[:, :, 0], cv[:, :, 1], color="tab:orange", lw=0.6, alpha=0.8)
        ax.scatter(cv[-1, :, 0], cv[-1, :, 1], color="tab:orange", s=6, zorder=3)
    if real is not None:
        r = _np(real)
        ax.scatter(r[:, 0], r[:, 1], color=REAL_COLOR, s=10, label="real", zorder=4)
    if fakes is not None:
        f = _np(fakes)
        ax.scatter(f[:, 0], f[:, 1], color=FAKE_COLOR, s=10, label="fake", zorder=4)
    if box is not None:
        xmin, xmax, ymin, ymax = (float(b) for b in box)
        ax.add_patch(
            Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, ec="green", lw=1.5)
        )
    if real is not None or fakes is not None:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_aspect("equal")
    ax.set_title(title or "-∂L_G/∂x", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_forgetting(
    iterations,
    scores,
    path,
    *,
    bank_iteration: int,
    threshold=None,
    title: str = "",
    ylabel: str = "score D_t(G_s(z))",
) -> Path:
    """Draw one line per fixed fake: its score ``scores`` ``[T, n_fakes]`` against iteration.

    Like the paper's Fig. 11. A dashed vertical line marks ``bank_iteration`` (when the fakes
    were made); ``threshold`` (a number, or one value per iteration, e.g. the wgan real
    median) is drawn as a dashed black line.
    """
    it, sc = _np(iterations), _np(scores)
    if sc.ndim == 1:
        sc = sc[:, None]
    if sc.ndim != 2 or sc.shape[0] != it.shape[0]:
        raise GanforgetError(
            f"plot_forgetting needs scores [T, n_fakes] for {it.shape[0]} iterations, "
            f"got {sc.shape}"
        )
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    alpha = 0.8 if sc.shape[1] <= 10 else max(0.15, 8.0 / sc.shape[1])
    ax.plot(it, sc, lw=0.9, alpha=alpha)
    ax.axvline(bank_iteration, color="gray", ls="--", lw=0.8, label=f"bank s={bank_iteration}")
    if threshold is not None:
        th = _np(threshold)
        if th.ndim == 0:
            ax.axhline(float(th), color="black", ls="--", lw=0.8, label="threshold")
        else:
            ax.plot(it, th, color="black", ls="--", lw=0.8, label="threshold")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or f"scores of {sc.shape[1]} fixed fakes from iteration {bank_iteration}")
    fig.tight_layout()
    return _save(fig, path)
