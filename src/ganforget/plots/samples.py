"""Figures of generator samples: scatter plots for 2-D data, image grids for images."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def image_grid(images: torch.Tensor, ncols: int | None = None) -> np.ndarray:
    """Return ``[H', W', C]`` floats in [0, 1] tiling ``images [N, C, H, W]`` in [-1, 1]."""
    n, c, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = torch.ones(c, nrows * (h + 2), ncols * (w + 2))
    x = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[:, r * (h + 2) + 1 : r * (h + 2) + 1 + h, q * (w + 2) + 1 : q * (w + 2) + 1 + w] = x[k]
    return grid.permute(1, 2, 0).numpy()


def save_samples(
    fakes: torch.Tensor,
    path: Path,
    *,
    seeds: list[int],
    iteration: int,
    real: torch.Tensor | None = None,
) -> Path:
    """Save a figure of ``fakes [S, n, *shape]``, one panel per member; return ``path``.

    2-D samples are drawn as red dots over the real points in blue; images as a grid.
    """
    s = fakes.shape[0]
    fig, axes = plt.subplots(1, s, figsize=(3.2 * s, 3.4), squeeze=False)
    for i, ax in enumerate(axes[0]):
        f = fakes[i]
        if f.dim() == 2 and f.shape[1] == 2:
            if real is not None:
                ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=0.5, label="real")
            ax.scatter(f[:, 0], f[:, 1], s=4, c="tab:red", alpha=0.6, label="fake")
            ax.set_aspect("equal")
        else:
            grid = image_grid(f[:64])
            ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray")
            ax.axis("off")
        ax.set_title(f"seed {seeds[i]}, it {iteration}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
