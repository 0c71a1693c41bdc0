"""Numbers from landscape curves: is the anchor a local maximum, how wide and sharp is it,
and is the curve monotonic (the paper's "D is monotonic around real points" symptom)?

A curve is f[..., j] = f(ks[j]) with ``ks`` strictly increasing and containing 0 (the anchor;
a k within 1e-6 of the k range of 0, as ``torch.linspace`` may give, counts as 0).
Let i0 be the index of k = 0, f0 = f(0), and i0 ± 1 its neighbours on the grid.

* ``is_local_max``: f0 >= f(k[i0-1]) and f0 >= f(k[i0+1]).
* ``width`` (half-height width, in units of k): let h = f0 - ½(f0 - min f) = ½(f0 + min f),
  the level half-way between f0 and the lowest value of the curve over the whole range.
  k_R is the smallest grid k > 0 with f(k) < h (strictly below), or max(ks) if there is none;
  k_L is the largest grid k < 0 with f(k) < h, or min(ks) if there is none. width = k_R - k_L.
  The edges are grid points, not interpolated crossings, so a continuous half-height width w
  is reported as the distance between the first grid points beyond it (at most one spacing
  more per side). A constant curve, or one whose minimum is at k = 0, never falls below h and
  gets the whole range max(ks) - min(ks): width is only meaningful together with
  ``is_local_max``.
* ``sharpness``: minus the three-point second derivative at 0 with the local spacings
  a = k[i0] - k[i0-1], b = k[i0+1] - k[i0]:
  -2·(a·f(k[i0+1]) - (a+b)·f0 + b·f(k[i0-1])) / (a·b·(a+b)); exact for quadratics, so
  f(k) = -c·k² gives 2c.
* ``monotonic``: Spearman rank correlation of f with k over the whole range (ties get their
  average rank); +1 increasing, -1 decreasing; 0 for a constant curve; NaN if the curve has a
  non-finite value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganforget.errors import GanforgetError

MONOTONIC_THRESHOLD = 0.9
ZERO_TOL = 1e-6  # |k| below this fraction of the k range counts as k = 0 (linspace round-off)


@dataclass(frozen=True)
class Extrema:
    """Per-curve numbers, each a tensor shaped like the curves without their last dim."""

    is_local_max: torch.Tensor
    width: torch.Tensor
    sharpness: torch.Tensor
    monotonic: torch.Tensor

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Return the fields as numpy arrays (for ``np.savez``)."""
        return {
            "is_local_max": self.is_local_max.cpu().numpy(),
            "width": self.width.cpu().numpy(),
            "sharpness": self.sharpness.cpu().numpy(),
            "monotonic": self.monotonic.cpu().numpy(),
        }


def _check_ks(ks: torch.Tensor) -> int:
    if ks.dim() != 1 or ks.numel() < 3:
        raise GanforgetError(
            f"extrema needs a 1-D ks with at least 3 values, got shape {tuple(ks.shape)}"
        )
    if not bool((ks[1:] > ks[:-1]).all()):
        raise GanforgetError("extrema needs strictly increasing ks; sort them (with the curves)")
    i0 = int(ks.abs().argmin())
    if float(ks[i0].abs()) > ZERO_TOL * float(ks[-1] - ks[0]):
        raise GanforgetError("extrema needs k = 0 in ks (the anchor itself); include 0 in ks")
    if i0 == 0 or i0 == ks.numel() - 1:
        raise GanforgetError("extrema needs ks on both sides of 0; use a range like -100..100")
    return i0


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """Return 1-based ranks along the last dim, ties replaced by their average rank."""
    s, _ = x.sort(dim=-1)
    lo = torch.searchsorted(s, x.contiguous(), right=False)
    hi = torch.searchsorted(s, x.contiguous(), right=True)
    return (lo + hi + 1).to(torch.float64) / 2


def spearman(f: torch.Tensor, ks: torch.Tensor) -> torch.Tensor:
    """Return the Spearman correlation of each curve f[..., :] with ks (0 if f is constant)."""
    rf = average_ranks(f)
    rk = average_ranks(ks.to(f.device)).expand_as(rf)
    rf = rf - rf.mean(-1, keepdim=True)
    rk = rk - rk.mean(-1, keepdim=True)
    den = (rf.pow(2).sum(-1) * rk.pow(2).sum(-1)).sqrt()
    num = (rf * rk).sum(-1)
    rho = torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))
    return torch.where(torch.isfinite(f).all(-1), rho, torch.full_like(rho, float("nan")))


def extrema(f: torch.Tensor, ks: torch.Tensor) -> Extrema:
    """Return the :class:`Extrema` of curves ``f`` ``[..., K]`` sampled at ``ks`` ``[K]``.

    See the module docstring for the exact conventions.
    """
    if f.dim() < 1 or f.shape[-1] != ks.numel():
        raise GanforgetError(
            f"extrema got curves of shape {tuple(f.shape)} for {ks.numel()} ks; "
            "the last dim of f must match ks"
        )
    f = f.detach()
    ks = ks.detach().to(device=f.device, dtype=f.dtype if f.is_floating_point() else None)
    i0 = _check_ks(ks)
    f0, fl, fr = f[..., i0], f[..., i0 - 1], f[..., i0 + 1]
    is_local_max = (f0 >= fl) & (f0 >= fr)

    level = 0.5 * (f0 + f.min(dim=-1).values)
    below = f < level.unsqueeze(-1)
    kk = ks.expand_as(f)
    inf = torch.tensor(float("inf"), dtype=kk.dtype, device=kk.device)
    right = torch.where(below[..., i0 + 1 :], kk[..., i0 + 1 :], inf).min(-1).values
    left = torch.where(below[..., :i0], kk[..., :i0], -inf).max(-1).values
    right = torch.where(torch.isinf(right), ks[-1], right)
    left = torch.where(torch.isinf(left), ks[0], left)
    width = right - left

    a, b = ks[i0] - ks[i0 - 1], ks[i0 + 1] - ks[i0]
    sharpness = -2 * (a * fr - (a + b) * f0 + b * fl) / (a * b * (a + b))
    return Extrema(
        is_local_max=is_local_max,
        width=width,
        sharpness=sharpness,
        monotonic=spearman(f, ks).to(width.dtype),
    )


def summarize(ex: Extrema) -> dict[str, float]:
    """Return summary numbers over all curves of ``ex`` as plain floats.

    Keys: ``n_curves``, ``frac_local_max``, ``median_width``, ``mean_width``,
    ``mean_sharpness``, ``median_sharpness``, ``frac_monotonic`` (fraction with
    |monotonic| > 0.9), ``mean_monotonic`` and ``mean_abs_monotonic``. NaN monotonic values
    (non-finite curves) are left out of the monotonic numbers.
    """
    width = ex.width.reshape(-1).double()
    sharp = ex.sharpness.reshape(-1).double()
    mono = ex.monotonic.reshape(-1).double()
    mono = mono[~torch.isnan(mono)]
    n = width.numel()
    if n == 0:
        raise GanforgetError("summarize got no curves; probe at least one anchor and direction")
    nan = float("nan")
    return {
        "n_curves": n,
        "frac_local_max": float(ex.is_local_max.reshape(-1).double().mean()),
        "median_width": float(width.quantile(0.5)),
        "mean_width": float(width.mean()),
        "mean_sharpness": float(sharp.mean()),
        "median_sharpness": float(sharp.nanquantile(0.5)),
        "frac_monotonic": float((mono.abs() > MONOTONIC_THRESHOLD).double().mean())
        if mono.numel()
        else nan,
        "mean_monotonic": float(mono.mean()) if mono.numel() else nan,
        "mean_abs_monotonic": float(mono.abs().mean()) if mono.numel() else nan,
    }
