"""Alternating gradient descent on the Dirac GAN, many seeds at once.

State at iteration t is (θ_t, Ψ_t); t = 0 is the random initial state. One iteration is

    Ψ_{t+1} = proj(Ψ_t - lr ∇_Ψ L_D(Ψ_t; fakes_t))        fakes_t = θ_t plus old fakes
    θ_{t+1} = θ_t - lr ∇_θ L_G(θ_t; Ψ_{t+1})

with a constant learning rate (the paper: lr = 0.1, n = 2). What D is shown (``memory``):

- ``current``: the current fake θ_t only;
- ``lag``: θ_t and the fake from ``memory_size`` = k iterations ago, θ_{t-k} (once t >= k);
- ``buffer``: θ_t and the last ``memory_size`` = m fakes θ_{t-1}, ..., θ_{t-m} (those that exist).

All fakes shown to D weigh the same in its loss (a mean over the fakes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ganforget.dirac.game import Discriminator, Params, d_loss, g_loss
from ganforget.errors import ConfigError

MEMORIES = ("current", "lag", "buffer")


@dataclass(frozen=True)
class DiracConfig:
    """One Dirac-GAN training setup (shared by every seed of a run).

    ``theta_init`` is the range of |θ_0|; its sign is random. Ψ_0 is uniform in [-1, 1].
    """

    disc: Discriminator = field(default_factory=Discriminator)
    loss: str = "dirac"
    gamma: float = 0.0
    lr: float = 0.1
    iterations: int = 300
    memory: str = "current"
    memory_size: int = 0
    theta_init: tuple[float, float] = (0.5, 1.5)

    def __post_init__(self) -> None:
        if self.memory not in MEMORIES:
            raise ConfigError(f"unknown memory '{self.memory}'; use one of {', '.join(MEMORIES)}.")
        if self.memory != "current" and self.memory_size < 1:
            raise ConfigError(
                f"memory '{self.memory}' needs memory_size >= 1 (k or m), got {self.memory_size}."
            )
        if self.iterations < 1 or self.lr <= 0:
            raise ConfigError("iterations must be >= 1 and lr > 0.")
        lo, hi = self.theta_init
        if not 0 <= lo <= hi:
            raise ConfigError(f"theta_init must be a range 0 <= lo <= hi, got {self.theta_init}.")

    def old_fake_iterations(self, t: int) -> list[int]:
        """Iterations whose fakes D sees at iteration ``t`` besides the current one."""
        if self.memory == "lag":
            return [t - self.memory_size] if t >= self.memory_size else []
        if self.memory == "buffer":
            return list(range(t - 1, max(t - self.memory_size, 0) - 1, -1))
        return []


@dataclass
class DiracRun:
    """The whole trajectory of a run.

    ``theta``: ``[T+1, S]`` fake positions; ``params``: name -> ``[T+1, S, *shape]`` D
    parameters, both indexed by iteration t = 0..T (the state *before* update t).
    """

    config: DiracConfig
    seeds: list[int]
    theta: torch.Tensor
    params: dict[str, torch.Tensor]

    @property
    def iterations(self) -> int:
        """T, the number of updates."""
        return self.theta.shape[0] - 1

    def params_at(self, t: int) -> Params:
        """D's parameters at iteration ``t``, ``[S, *shape]`` each."""
        return {k: v[t] for k, v in self.params.items()}

    def fakes_at(self, t: int) -> torch.Tensor:
        """The fakes D is trained on at iteration ``t``: ``[S, K]``, current fake first."""
        cols = [t] + self.config.old_fake_iterations(t)
        return self.theta[cols].T

    def d_function(self, t: int, seed_index: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
        """The plain callable D_t (``x [N] -> [N]``) of one seed."""
        return self.config.disc.function(self.params_at(t), seed_index)


def initial_state(
    config: DiracConfig, seeds: Sequence[int], dtype=torch.float64
) -> tuple[torch.Tensor, Params]:
    """θ_0 ``[S]`` and Ψ_0 for each seed, drawn from ``torch.Generator().manual_seed(seed)``.

    Each seed's draw depends on that seed only, so two configs with the same seeds (e.g. with
    and without old fakes) start from the same state.
    """
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    lo, hi = config.theta_init
    theta = []
    for g in gens:
        mag = lo + (hi - lo) * torch.rand((), generator=g, dtype=dtype)
        sign = 1.0 if torch.rand((), generator=g).item() < 0.5 else -1.0
        theta.append(sign * mag)
    return torch.stack(theta), config.disc.init(gens, dtype)


def train(
    config: DiracConfig,
    seeds: Sequence[int],
    theta0: torch.Tensor | None = None,
    params0: Params | None = None,
) -> DiracRun:
    """Run alternating projected gradient descent for every seed at once.

    ``theta0 [S]`` / ``params0`` override the seeded initial state when given.
    Returns the full trajectory as a :class:`DiracRun`.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("train needs at least one seed.")
    th_init, ps_init = initial_state(config, seeds)
    theta = (th_init if theta0 is None else torch.as_tensor(theta0, dtype=torch.float64)).clone()
    params = config.disc.project(ps_init if params0 is None else params0)
    params = {k: v.detach().clone().to(torch.float64) for k, v in params.items()}
    if theta.shape != (len(seeds),):
        raise ConfigError(f"theta0 must have shape [{len(seeds)}], got {list(theta.shape)}.")

    disc, lr, T = config.disc, config.lr, config.iterations
    thetas = torch.empty(T + 1, len(seeds), dtype=torch.float64)
    hist = {k: torch.empty((T + 1, *v.shape), dtype=torch.float64) for k, v in params.items()}
    thetas[0] = theta
    for k, v in params.items():
        hist[k][0] = v

    for t in range(T):
        cols = [t] + config.old_fake_iterations(t)
        fakes = thetas[cols].T  # [S, K], no gradient to G through D's step
        leaves = {k: v.requires_grad_(True) for k, v in params.items()}
        ld = d_loss(disc, leaves, fakes, config.loss, config.gamma).sum()
        grads = torch.autograd.grad(ld, list(leaves.values()))
        with torch.no_grad():
            params = disc.project(
                {k: v - lr * g for (k, v), g in zip(leaves.items(), grads, strict=True)}
            )

        th = theta.clone().requires_grad_(True)
        lg = g_loss(disc, params, th, config.loss).sum()
        (gth,) = torch.autograd.grad(lg, th)
        theta = (th - lr * gth).detach()

        thetas[t + 1] = theta
        for k, v in params.items():
            hist[k][t + 1] = v
    return DiracRun(config, seeds, thetas, hist)
