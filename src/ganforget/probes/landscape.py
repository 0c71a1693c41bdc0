"""The landscape of D around anchor points: f(k) = D(x + k·u) along unit directions u.

The paper draws these curves around real and fake points to show whether real points are
local maxima of D (Fig. 2 and 12). Here they are evaluated in batches, without gradients, with
D in evaluation mode, so that probing never changes D (BatchNorm statistics included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ganforget.errors import GanforgetError

Discriminator = Callable[[torch.Tensor], torch.Tensor]


@contextmanager
def evaluating(D: Discriminator) -> Iterator[None]:
    """Run the block with D (if an ``nn.Module``) in eval mode and without gradients.

    The training flag of every submodule is restored afterwards, one by one, so a D whose
    submodules were in mixed modes comes back exactly as it was.
    """
    flags = [(m, m.training) for m in D.modules()] if isinstance(D, nn.Module) else []
    try:
        if isinstance(D, nn.Module):
            D.eval()
        with torch.no_grad():
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def logits_in_batches(D: Discriminator, x: torch.Tensor, *, batch_size: int = 4096):
    """Return D(x) as a ``[N]`` tensor, calling D on chunks of at most ``batch_size`` rows.

    D must return one logit per row (``[B]`` or ``[B, 1]``). Runs under :func:`evaluating`.
    """
    if batch_size < 1:
        raise GanforgetError(f"batch_size={batch_size} must be >= 1")
    with evaluating(D):
        outs = [_logits(D, x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs) if outs else x.new_zeros(0)


def _logits(D: Discriminator, x: torch.Tensor) -> torch.Tensor:
    out = D(x)
    if out.numel() != x.shape[0]:
        raise GanforgetError(
            f"D returned shape {tuple(out.shape)} for a batch of {x.shape[0]}; "
            "probes need a plain D that returns one logit per sample ([B] or [B, 1])"
        )
    return out.reshape(x.shape[0])


def default_ks() -> torch.Tensor:
    """Return the paper's step sizes k = -100, -99, ..., 100 (for data in [-1, 1], ‖u‖ = 1)."""
    return torch.arange(-100, 101, 1.0)


def random_directions(
    m: int,
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return ``m`` isotropic unit directions shaped ``[m, *shape]``.

    Each is a standard Gaussian draw divided by its norm over all of ``shape``, i.e. a
    uniform point on the unit sphere of the data space.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if m < 1 or not shape or any(s < 1 for s in shape):
        raise GanforgetError(f"random_directions needs m >= 1 and a data shape, got {m}, {shape}")
    u = torch.randn((m, *shape), generator=generator, dtype=dtype, device=device)
    norms = u.reshape(m, -1).norm(dim=1).reshape(m, *([1] * len(shape)))
    return u / norms


def landscape(
    D: Discriminator,
    anchors: torch.Tensor,
    directions: torch.Tensor,
    ks: torch.Tensor,
    *,
    batch_size: int = 4096,
    score: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Return f[n, m, j] = score(D(anchors[n] + ks[j]·u[n, m])) as a ``[N, M, K]`` tensor.

    ``anchors`` is ``[N, *shape]``; ``directions`` is ``[M, *shape]`` (the same M directions
    for every anchor) or ``[N, M, *shape]`` (own directions per anchor); ``ks`` is ``[K]``
    and is converted to the anchors' dtype and device. ``score`` maps logits to scores
    (e.g. ``objective.score``); without it the logits are returned. All N·M·K points are
    evaluated in chunks of ``batch_size`` (each chunk is built only when it is evaluated),
    without gradients and with D in eval mode; D's training flags are restored afterwards.
    """
    data_shape = tuple(anchors.shape[1:])
    if anchors.dim() < 2 or anchors.shape[0] == 0:
        raise GanforgetError(
            f"landscape got anchors of shape {tuple(anchors.shape)}; pass [N, *data_shape]"
        )
    n = anchors.shape[0]
    if tuple(directions.shape[1:]) == data_shape:
        dirs = directions.unsqueeze(0).expand(n, *directions.shape)
    elif directions.dim() == anchors.dim() + 1 and tuple(directions.shape[2:]) == data_shape:
        if directions.shape[0] != n:
            raise GanforgetError(
                f"landscape got {directions.shape[0]} per-anchor direction sets for {n} anchors; "
                "pass [N, M, *data_shape] or one shared [M, *data_shape]"
            )
        dirs = directions
    else:
        raise GanforgetError(
            f"landscape directions {tuple(directions.shape)} do not match anchors "
            f"{tuple(anchors.shape)}; pass [M, *data_shape] or [N, M, *data_shape]"
        )
    if ks.dim() != 1 or ks.numel() == 0:
        raise GanforgetError(f"landscape ks must be a non-empty 1-D tensor, got {tuple(ks.shape)}")
    if batch_size < 1:
        raise GanforgetError(f"batch_size={batch_size} must be >= 1")
    m, k = dirs.shape[1], ks.numel()
    ks = ks.to(dtype=anchors.dtype, device=anchors.device)
    anchors, dirs = anchors.detach(), dirs.detach()
    total = n * m * k
    ones = [1] * len(data_shape)
    out = []
    with evaluating(D):
        for start in range(0, total, batch_size):
            idx = torch.arange(start, min(start + batch_size, total), device=anchors.device)
            i_n, i_m, i_k = idx // (m * k), (idx // k) % m, idx % k
            x = anchors[i_n] + ks[i_k].reshape(-1, *ones) * dirs[i_n, i_m]
            out.append(_logits(D, x))
    f = torch.cat(out).reshape(n, m, k)
    return score(f) if score is not None else f


def landscape_record(
    D: Discriminator,
    anchors: torch.Tensor,
    directions: torch.Tensor,
    ks: torch.Tensor,
    objective,
    *,
    batch_size: int = 4096,
) -> dict[str, np.ndarray]:
    """Return the landscape as numpy arrays: ``ks`` [K], ``logits`` and ``scores`` [N, M, K].

    ``scores`` are ``objective.score(logits)``: sigmoid for ``ns``, the logits for ``wgan``.
    """
    logits = landscape(D, anchors, directions, ks, batch_size=batch_size)
    return {
        "ks": ks.detach().cpu().numpy(),
        "logits": logits.cpu().numpy(),
        "scores": objective.score(logits).cpu().numpy(),
    }
