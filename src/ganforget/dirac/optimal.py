"""Proposition 1: the empirically optimal D̂ for a single fake is monotonic.

For the real point 0 and one fake θ, the optimal D̂(x) = Ψ1ᵀ σ(Ψ0 x) with Ψ0, Ψ1 ∈ [-1, 1]ⁿ
maximises the margin D̂(0) - D̂(θ) = Σ_i Ψ1_i (σ(0) - σ(Ψ0_i θ)). For an increasing σ each term
is at most σ(|θ|) - σ(0), reached by Ψ0_i = sign(θ), Ψ1_i = -1 (the proof's closed form), so

    max margin = n (σ(|θ|) - σ(0)),     D̂*(x) = -Σ_i σ(sign(θ) x)   (monotonic).

Here it is computed two ways: in closed form, and by multi-start projected gradient ascent of
the margin, which knows nothing about the proof.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganforget.dirac.game import REAL_POINT, Discriminator, Params


def margin(disc: Discriminator, params: Params, theta: float) -> torch.Tensor:
    """D(0) - D(θ) for every row of ``params`` (``[R]``), the quantity D maximises."""
    r = next(iter(params.values())).shape[0]
    dtype = next(iter(params.values())).dtype
    x = torch.tensor([[REAL_POINT, float(theta)]], dtype=dtype).expand(r, 2)
    d = disc(params, x)
    return d[:, 0] - d[:, 1]


def margin_bound(theta: float, disc: Discriminator) -> float:
    """The proof's maximal margin n (σ(|θ|) - σ(0)) for an increasing σ."""
    t = torch.tensor([abs(float(theta)), 0.0], dtype=torch.float64)
    s = disc.sigma(t)
    return float(disc.n * (s[0] - s[1]))


def closed_form_optimum(theta: float, disc: Discriminator) -> Params:
    """Ψ0 = sign(θ)·1, Ψ1 = -1 (proof of Proposition 1), as ``[1, n]`` tensors."""
    sign = float(torch.sign(torch.tensor(float(theta))))
    one = torch.ones(1, disc.n, dtype=torch.float64)
    return {"psi0": sign * one, "psi1": -one}


def optimise_discriminator(
    theta: float,
    disc: Discriminator,
    restarts: int = 64,
    steps: int = 1000,
    lr: float = 1.0,
    generator: torch.Generator | None = None,
) -> Params:
    """Maximise D(0) - D(θ) by projected gradient ascent from ``restarts`` uniform starts.

    Every step is followed by clipping onto [-1, 1]. Returns the best restart as ``[1, n]``
    tensors. (Several starts because a ReLU unit started dead at θ never moves.)
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    params = {
        k: (2 * torch.rand(restarts, disc.n, generator=g, dtype=torch.float64) - 1)
        for k in ("psi0", "psi1")
    }
    for _ in range(steps):
        leaves = {k: v.requires_grad_(True) for k, v in params.items()}
        grads = torch.autograd.grad(margin(disc, leaves, theta).sum(), list(leaves.values()))
        with torch.no_grad():
            params = disc.project(
                {k: v + lr * gr for (k, v), gr in zip(leaves.items(), grads, strict=True)}
            )
    with torch.no_grad():
        best = int(torch.argmax(margin(disc, params, theta)))
    return {k: v[best : best + 1].detach() for k, v in params.items()}


@dataclass(frozen=True)
class OptimalD:
    """The optimal D̂ for one fake at ``theta``, both ways, with their margins D(0) - D(θ)."""

    theta: float
    disc: Discriminator
    closed_form: Params
    optimised: Params
    margin_closed_form: float
    margin_optimised: float
    margin_bound: float

    def closed_form_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The closed-form optimum as a plain callable ``x [N] -> [N]``."""
        return self.disc.function(self.closed_form)

    def optimised_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The optimised D̂ as a plain callable ``x [N] -> [N]``."""
        return self.disc.function(self.optimised)


def optimal_discriminator(
    theta: float,
    n: int = 2,
    activation: str = "relu",
    negative_slope: float = 0.2,
    restarts: int = 64,
    steps: int = 1000,
    generator: torch.Generator | None = None,
) -> OptimalD:
    """The empirically optimal D̂ for a single fake at ``theta``, in closed form and optimised."""
    disc = Discriminator("mlp", n, activation, negative_slope)
    closed = closed_form_optimum(theta, disc)
    opt = optimise_discriminator(theta, disc, restarts, steps, generator=generator)
    with torch.no_grad():
        return OptimalD(
            float(theta),
            disc,
            closed,
            opt,
            float(margin(disc, closed, theta)[0]),
            float(margin(disc, opt, theta)[0]),
            margin_bound(theta, disc),
        )
