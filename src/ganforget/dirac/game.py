"""The Dirac GAN of Section IV-B: one real point at 0, one fake point θ, and a discriminator.

Everything here is vectorised over a leading *seed* axis ``S``: the fake is ``theta [S]``, the
discriminator parameters are tensors whose first dimension is ``S``, and a discriminator maps
points ``x [S, B]`` to outputs ``[S, B]``. Seeds never interact, so summing a loss over seeds and
differentiating gives every seed its own gradient.

Discriminators (both projected onto the box [-1, 1] after every step):

- ``linear``: D(x) = ψ x with ψ ∈ [-1, 1]  (Mescheder et al., 2018).
- ``mlp``: the paper's high-capacity D̂(x) = Ψ1ᵀ σ(Ψ0 x) with n hidden units and
  Ψ0, Ψ1 ∈ [-1, 1]ⁿ. There is no bias, so D̂ is a sum of n one-unit ridges through the origin.

Losses over a set of fakes ``{θ_j}`` shown to D (the current fake, plus old fakes if any):

- ``dirac`` (the paper's): L_D = -D(0) + mean_j D(θ_j),  L_G = -D(θ).
- ``ns`` (Mescheder's form with f(t) = -log(1 + e^(-t))): D maximises
  V = f(D(0)) + mean_j f(-D(θ_j)) - γ/2 · D'(0)²  (R1 on the real point), and G minimises
  f(-D(θ)) (the minimax G of Mescheder's Dirac-GAN analysis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforget.errors import ConfigError

REAL_POINT = 0.0
KINDS = ("linear", "mlp")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
LOSSES = ("dirac", "ns")

Params = dict[str, torch.Tensor]


def activation_fn(name: str, negative_slope: float = 0.2) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the elementwise activation σ called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name == "relu":
        return torch.relu
    if name == "leaky_relu":
        return lambda t: F.leaky_relu(t, negative_slope)
    if name == "tanh":
        return torch.tanh
    if name == "sigmoid":
        return torch.sigmoid
    raise ConfigError(f"unknown activation '{name}'; use one of {', '.join(ACTIVATIONS)}.")


def ns_f(t: torch.Tensor) -> torch.Tensor:
    """Mescheder's f(t) = -log(1 + e^(-t)) (= log sigmoid(t)); f'(0) = 1/2."""
    return F.logsigmoid(t)


@dataclass(frozen=True)
class Discriminator:
    """A Dirac-GAN discriminator family: ``kind`` linear or mlp, ``n`` hidden units, σ.

    Parameters live outside the object (a dict of tensors with a leading seed axis), so the
    object is a pure description: ``disc(params, x)`` evaluates, ``disc.project(params)`` clips.
    """

    kind: str = "mlp"
    n: int = 2
    activation: str = "leaky_relu"
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown discriminator kind '{self.kind}'; use linear or mlp.")
        if self.kind == "mlp":
            activation_fn(self.activation, self.negative_slope)  # validates the name
            if self.n < 1:
                raise ConfigError(f"n must be a positive number of hidden units, got {self.n}.")

    @property
    def sigma(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The activation σ as a callable."""
        return activation_fn(self.activation, self.negative_slope)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-seed shape of each parameter tensor."""
        return {"psi": ()} if self.kind == "linear" else {"psi0": (self.n,), "psi1": (self.n,)}

    def init(self, generators: list[torch.Generator], dtype=torch.float64) -> Params:
        """Draw parameters uniformly in [-1, 1], one independent draw per seed generator.

        Returns a dict of tensors shaped ``[S, *shape]`` with ``S = len(generators)``.
        """
        out = {}
        for name, shape in self.shapes().items():
            draws = [2 * torch.rand(shape, generator=g, dtype=dtype) - 1 for g in generators]
            out[name] = torch.stack(draws)
        return out

    def project(self, params: Params) -> Params:
        """Clip every parameter onto [-1, 1] (the paper's projection)."""
        return {k: v.clamp(-1.0, 1.0) for k, v in params.items()}

    def __call__(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """D at points ``x [S, B]`` for every seed; returns ``[S, B]``."""
        if self.kind == "linear":
            return params["psi"].unsqueeze(-1) * x
        pre = params["psi0"].unsqueeze(-2) * x.unsqueeze(-1)  # [S, B, n]
        return (self.sigma(pre) * params["psi1"].unsqueeze(-2)).sum(-1)

    def function(
        self, params: Params, seed_index: int = 0
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """A plain callable D: ``x [N] -> [N]`` for one seed (for plots and probes)."""
        one = {k: v[seed_index : seed_index + 1].detach() for k, v in params.items()}

        def fn(x: torch.Tensor) -> torch.Tensor:
            x = torch.as_tensor(x, dtype=one[next(iter(one))].dtype)
            return self(one, x.reshape(1, -1))[0]

        return fn


def real_slope(disc: Discriminator, params: Params, create_graph: bool = True) -> torch.Tensor:
    """D'(0) for every seed, ``[S]`` (the input gradient at the real point, used by R1)."""
    s = next(iter(params.values())).shape[0]
    dtype = next(iter(params.values())).dtype
    x0 = torch.full((s, 1), REAL_POINT, dtype=dtype, requires_grad=True)
    (g,) = torch.autograd.grad(disc(params, x0).sum(), x0, create_graph=create_graph)
    return g[:, 0]


def d_loss(
    disc: Discriminator,
    params: Params,
    fakes: torch.Tensor,
    loss: str = "dirac",
    gamma: float = 0.0,
) -> torch.Tensor:
    """D's loss per seed, ``[S]``, for the fakes ``[S, K]`` shown to it (current + old ones).

    ``gamma`` is the R1 weight (γ/2 · D'(0)²); it applies to both loss forms.
    """
    s = fakes.shape[0]
    real = torch.full((s, 1), REAL_POINT, dtype=fakes.dtype)
    d_real = disc(params, real)[:, 0]
    d_fake = disc(params, fakes)
    if loss == "dirac":
        out = -d_real + d_fake.mean(-1)
    elif loss == "ns":
        out = -(ns_f(d_real) + ns_f(-d_fake).mean(-1))
    else:
        raise ConfigError(f"unknown Dirac loss '{loss}'; use one of {', '.join(LOSSES)}.")
    if gamma:
        out = out + 0.5 * gamma * real_slope(disc, params) ** 2
    return out


def g_loss(
    disc: Discriminator, params: Params, theta: torch.Tensor, loss: str = "dirac"
) -> torch.Tensor:
    """G's loss per seed, ``[S]``, at its fake ``theta [S]``."""
    d_fake = disc(params, theta.unsqueeze(-1))[:, 0]
    if loss == "dirac":
        return -d_fake
    if loss == "ns":
        return ns_f(-d_fake)
    raise ConfigError(f"unknown Dirac loss '{loss}'; use one of {', '.join(LOSSES)}.")
