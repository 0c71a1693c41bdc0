"""Numbers from a Dirac-GAN trajectory: |θ_t|, oscillation, convergence, where D peaks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ganforget.dirac.game import REAL_POINT
from ganforget.dirac.training import DiracRun

Fn = Callable[[torch.Tensor], torch.Tensor]


def _values(fn: Fn, xs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return fn(torch.as_tensor(xs, dtype=torch.float64)).to(torch.float64)


def is_monotonic(fn: Fn, xs: torch.Tensor, atol: float = 1e-9) -> bool:
    """True when ``fn`` is non-decreasing or non-increasing on the sorted grid ``xs``.

    ``atol`` forgives round-off in a flat stretch.
    """
    xs = torch.sort(torch.as_tensor(xs, dtype=torch.float64).flatten()).values
    d = torch.diff(_values(fn, xs))
    return bool((d >= -atol).all() or (d <= atol).all())


def has_max_at(fn: Fn, xs: torch.Tensor, at: float = REAL_POINT, atol: float = 1e-9) -> bool:
    """True when ``fn`` has its global maximum over ``xs ∪ {at}`` at ``at`` and it is strict there.

    Strict: ``fn(at)`` exceeds ``fn`` at the nearest grid point on each side by more than
    ``atol`` (so a flat D does not count as peaking at the real point). Grid points within
    round-off (1e-9 of the grid's extent) of ``at`` are taken to be ``at`` itself: a
    ``linspace`` through 0 often holds -4e-17 instead of 0.
    """
    xs = torch.as_tensor(xs, dtype=torch.float64).flatten()
    same = 1e-9 * max(1.0, float((xs - at).abs().max()))
    xs = xs[(xs - at).abs() > same]
    f_at = float(_values(fn, torch.tensor([at], dtype=torch.float64))[0])
    f = _values(fn, xs)
    if (f > f_at + atol).any():
        return False
    for side in (xs < at, xs > at):
        if side.any():
            nearest = torch.argmin(torch.where(side, (xs - at).abs(), torch.inf))
            if not f_at > f[nearest] + atol:
                return False
    return True


def oscillation_amplitude(theta: torch.Tensor, last_fraction: float = 0.5) -> torch.Tensor:
    """(max θ - min θ) / 2 over the last ``last_fraction`` of ``theta [T+1, S]``; ``[S]``."""
    tail = theta[tail_start(theta.shape[0], last_fraction) :]
    return (tail.max(0).values - tail.min(0).values) / 2


def convergence_iteration(theta: torch.Tensor, tol: float) -> torch.Tensor:
    """First t after which |θ| stays below ``tol`` to the end, per seed ``[S]`` (-1 if never)."""
    inside = theta.abs() < tol  # [T+1, S]
    # suffix-all: stays[t] is True when inside for every s >= t
    stays = torch.flip(torch.cummin(torch.flip(inside.int(), [0]), 0).values, [0]).bool()
    first = torch.argmax(stays.int(), 0)
    return torch.where(stays[-1], first, torch.full_like(first, -1))


def converged(theta: torch.Tensor, tol: float, last_fraction: float = 0.1) -> torch.Tensor:
    """Per seed ``[S]``: |θ_t| < ``tol`` for every t in the last ``last_fraction`` of training."""
    tail = theta[tail_start(theta.shape[0], last_fraction) :]
    return (tail.abs() < tol).all(0)


def max_at_real_by_checkpoint(
    run: DiracRun, checkpoints: Sequence[int], xs: torch.Tensor
) -> torch.Tensor:
    """``[C, S]`` bool: whether D_t has its (strict, global) maximum at the real point."""
    rows = []
    for t in checkpoints:
        rows.append([has_max_at(run.d_function(t, i), xs) for i in range(len(run.seeds))])
    return torch.tensor(rows, dtype=torch.bool)


def monotonic_by_checkpoint(
    run: DiracRun, checkpoints: Sequence[int], xs: torch.Tensor
) -> torch.Tensor:
    """``[C, S]`` bool: whether D_t is monotonic on the grid ``xs``."""
    rows = []
    for t in checkpoints:
        rows.append([is_monotonic(run.d_function(t, i), xs) for i in range(len(run.seeds))])
    return torch.tensor(rows, dtype=torch.bool)


def tail_start(length: int, fraction: float) -> int:
    """Index where the last ``fraction`` of a trajectory of ``length`` points begins.

    ``floor(length · (1 - fraction))``, kept inside [0, length - 1].
    """
    return max(0, min(length - 1, math.floor(length * (1 - fraction))))
