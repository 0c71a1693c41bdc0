"""The vector field that D induces on fake points, for 2-D data (the paper's Fig. 1).

A fake point y moves along -∂L_G/∂y, where L_G is the generator's per-sample loss
``objective.generator_term(D(y))``: sigmoid(-D(y))·∇D(y) for ``ns`` and ∇D(y) for ``wgan``.
Following that field with D held fixed gives the integral curves; where they end tells
whether D's maxima sit on the real modes (attraction) or elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ganforget.errors import GanforgetError
from ganforget.probes.landscape import evaluating

Discriminator = Callable[[torch.Tensor], torch.Tensor]
Box = Sequence[float]
NO_DIRECTION = 1e-6  # mean of unit vectors at most this long: the field has no mean direction


def vector_field(D: Discriminator, objective, points: torch.Tensor) -> torch.Tensor:
    """Return -∂L_G/∂x at each point, shaped like ``points`` ``[P, *shape]``.

    L_G(x) = ``objective.generator_term(D(x))`` per sample; the gradient of their sum w.r.t.
    the points gives each point its own gradient. D is evaluated in eval mode (its training
    flags are restored) and no parameter gradient is accumulated.
    """
    if points.dim() < 2 or points.shape[0] == 0:
        raise GanforgetError(
            f"vector_field got points of shape {tuple(points.shape)}; pass [P, *data_shape]"
        )
    x = points.detach().clone().requires_grad_(True)
    with evaluating(D), torch.enable_grad():
        logits = D(x)
        if logits.numel() != x.shape[0]:
            raise GanforgetError(
                f"D returned shape {tuple(logits.shape)} for {x.shape[0]} points; "
                "the field needs a plain D that returns one logit per point"
            )
        loss = objective.generator_term(logits.reshape(-1)).sum()
        (grad,) = torch.autograd.grad(loss, x)
    return -grad


def grid(
    box: Box = (-2.0, 2.0, -2.0, 2.0), n: int = 21, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Return an n×n grid over ``box`` = (xmin, xmax, ymin, ymax) as ``[n*n, 2]`` points.

    Row ``i*n + j`` is (xs[j], ys[i]) with xs, ys evenly spaced and including the box edges
    (computed in float64, so a box symmetric about 0 holds exact zeros and mirror points);
    ``grid(...).reshape(n, n, 2)`` is laid out like an image with y along the rows.
    """
    xmin, xmax, ymin, ymax = _box(box)
    if n < 2:
        raise GanforgetError(f"grid needs n >= 2 points per side, got {n}")
    xs, ys = _even(xmin, xmax, n, dtype), _even(ymin, ymax, n, dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).reshape(n * n, 2)


def integral_curves(
    D: Discriminator, objective, starts: torch.Tensor, steps: int, step_size: float
) -> torch.Tensor:
    """Return Euler paths x_{t+1} = x_t + step_size·field(x_t) as ``[steps+1, P, *shape]``.

    D is held fixed; row 0 is ``starts``.
    """
    if steps < 0 or not step_size > 0:
        raise GanforgetError(
            f"integral_curves needs steps >= 0 and step_size > 0, got {steps}, {step_size}"
        )
    path = [starts.detach().clone()]
    for _ in range(steps):
        x = path[-1]
        path.append(x + step_size * vector_field(D, objective, x))
    return torch.stack(path)


def field_stability(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the mean cosine similarity of two fields at the same points, in [-1, 1].

    A zero vector has cosine 0 with anything.
    """
    if a.shape != b.shape or a.dim() < 2:
        raise GanforgetError(
            f"field_stability needs two fields of the same shape [P, d], got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return float(F.cosine_similarity(a, b, dim=1, eps=1e-12).mean())


def directional_monotonicity(field: torch.Tensor, points: torch.Tensor, box: Box) -> float:
    """Return the fraction of field vectors in ``box`` within 90° of their mean direction.

    The paper's green-box test: if D is monotonic in a region, its field there points one
    way. ``box`` = (xmin, xmax, ymin, ymax), edges included. The mean direction is the mean
    of the unit vectors (each point votes once, whatever its magnitude); a vector is within
    90° when its dot product with it is > 0, so zero vectors never count. When the unit
    vectors cancel (mean norm <= 1e-6, e.g. a field symmetric about the box centre) there is
    no mean direction and the result is 0.5 (any direction splits a symmetric field in half),
    or 0.0 if every vector in the box is zero.
    """
    xmin, xmax, ymin, ymax = _box(box)
    if points.dim() != 2 or points.shape[1] != 2 or field.shape != points.shape:
        raise GanforgetError(
            f"directional_monotonicity needs 2-D points and field of shape [P, 2], got "
            f"{tuple(points.shape)} and {tuple(field.shape)}"
        )
    x, y = points[:, 0], points[:, 1]
    inside = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
    if not bool(inside.any()):
        raise GanforgetError(f"no point lies inside box {tuple(box)}; widen the box or the grid")
    v = field[inside].detach().double()
    unit = v / v.norm(dim=1, keepdim=True).clamp_min(1e-30)
    unit = torch.where(v.norm(dim=1, keepdim=True) > 0, unit, torch.zeros_like(unit))
    mean = unit.mean(0)
    if not bool(mean.norm() > NO_DIRECTION):
        return 0.5 if bool((v.norm(dim=1) > 0).any()) else 0.0
    return float((unit @ mean > 0).double().mean())


def attraction(
    D: Discriminator,
    objective,
    fakes: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    *,
    steps: int,
    step_size: float,
    sigmas: float = 3.0,
) -> float:
    """Return the fraction of integral curves from ``fakes`` that end near a real mode.

    Each curve follows the field of the fixed D for ``steps`` Euler steps of ``step_size``;
    it counts when its end point is within ``sigmas * std`` (Euclidean) of a centre in
    ``centers`` ``[K, d]``.
    """
    if not (std > 0 and sigmas > 0):
        raise GanforgetError(f"attraction needs std > 0 and sigmas > 0, got {std}, {sigmas}")
    end = integral_curves(D, objective, fakes, steps, step_size)[-1]
    end = end.reshape(end.shape[0], -1)
    c = centers.detach().reshape(centers.shape[0], -1).to(end)
    if c.shape[1] != end.shape[1]:
        raise GanforgetError(
            f"attraction: fakes have {end.shape[1]} dims but centers have {c.shape[1]}"
        )
    nearest = torch.cdist(end, c).min(dim=1).values
    return float((nearest <= sigmas * std).double().mean())


def _even(lo: float, hi: float, n: int, dtype: torch.dtype | None) -> torch.Tensor:
    # lo + (hi - lo)·i/(n-1) in float64: a box symmetric about 0 gets an exact 0 (linspace
    # in float32 does not), and the last point is exactly hi.
    t = torch.arange(n, dtype=torch.float64) / (n - 1)
    v = lo + (hi - lo) * t
    v[-1] = hi
    return v.to(dtype or torch.get_default_dtype())


def _box(box: Box) -> tuple[float, float, float, float]:
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
        raise GanforgetError(f"box must be (xmin, xmax, ymin, ymax) with min < max, got {box}")
    return float(box[0]), float(box[1]), float(box[2]), float(box[3])
