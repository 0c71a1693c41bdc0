"""Local stability of the Dirac GAN with a linear D (Mescheder et al., 2018).

With D(x) = ψx, the gradient vector field of the game is v(θ, ψ) = (-∂_θ L_G, -∂_ψ L_D). Its
Jacobian at the equilibrium (θ, ψ) = (0, 0) is [[0, f'(0)], [-f'(0), -γ]] (up to the sign of the
rotation), whose eigenvalues are -γ/2 ± sqrt(γ²/4 - f'(0)²): purely imaginary without R1
(no convergence), with negative real part for γ > 0.
For the NS form f(t) = -log(1 + e^(-t)), f'(0) = 1/2; for the paper's Dirac loss f(t) = t,
f'(0) = 1.
"""

from __future__ import annotations

import torch

from ganforget.dirac.game import Discriminator, d_loss, g_loss

_LINEAR = Discriminator(kind="linear")
FPRIME0 = {"ns": 0.5, "dirac": 1.0}


def vector_field(state: torch.Tensor, loss: str = "ns", gamma: float = 0.0) -> torch.Tensor:
    """v(θ, ψ) = (-∂_θ L_G, -∂_ψ L_D) for the linear Dirac GAN; ``state = [θ, ψ]`` -> ``[2]``.

    Built from the same losses the trainer uses (:func:`~ganforget.dirac.game.d_loss`,
    :func:`~ganforget.dirac.game.g_loss`), so autograd differentiates the trained game.
    """
    if not state.requires_grad:
        state = state.detach().requires_grad_(True)
    theta, psi = state[0:1], state[1:2]
    ld = d_loss(_LINEAR, {"psi": psi}, theta.reshape(1, 1), loss, gamma).sum()
    lg = g_loss(_LINEAR, {"psi": psi}, theta, loss).sum()
    (gpsi,) = torch.autograd.grad(ld, psi, create_graph=True)
    (gth,) = torch.autograd.grad(lg, theta, create_graph=True)
    return -torch.cat([gth, gpsi])


def jacobian_eigenvalues(gamma: float, loss: str = "ns") -> torch.Tensor:
    """Eigenvalues of ∂v/∂(θ, ψ) at (0, 0) by autograd: complex ``[2]``, sorted by imag part."""
    z = torch.zeros(2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda s: vector_field(s, loss, gamma), z, create_graph=False
    )
    return _sorted(torch.linalg.eigvals(jac))


def analytic_eigenvalues(gamma: float, loss: str = "ns") -> torch.Tensor:
    """-γ/2 ± sqrt(γ²/4 - f'(0)²) as complex ``[2]``, sorted by imaginary part."""
    fp = FPRIME0[loss]
    root = torch.sqrt(torch.tensor(gamma**2 / 4 - fp**2, dtype=torch.complex128))
    return _sorted(torch.stack([-gamma / 2 + root, -gamma / 2 - root]))


def _sorted(ev: torch.Tensor) -> torch.Tensor:
    key = ev.imag * 1e6 + ev.real
    return ev[torch.argsort(key)]
