"""The Dirac GAN of Section IV-B as a small exact lab (runs in seconds).

- :mod:`~ganforget.dirac.game`: the real point 0, the fake θ, linear / MLP discriminators,
  the paper's Dirac loss and Mescheder's NS form with R1.
- :mod:`~ganforget.dirac.training`: alternating projected gradient descent over many seeds,
  D shown the current fake only or also old fakes (a lag k or a buffer of m).
- :mod:`~ganforget.dirac.optimal`: Proposition 1, the optimal D̂ for one fake (closed form and
  projected optimisation).
- :mod:`~ganforget.dirac.metrics`: |θ_t|, oscillation, convergence iteration, monotonicity,
  maximum at the real point.
- :mod:`~ganforget.dirac.stability`: Jacobian eigenvalues at the equilibrium vs. the analytic ones.
"""

from ganforget.dirac.game import (
    ACTIVATIONS,
    REAL_POINT,
    Discriminator,
    activation_fn,
    d_loss,
    g_loss,
    ns_f,
)
from ganforget.dirac.metrics import (
    converged,
    convergence_iteration,
    has_max_at,
    is_monotonic,
    max_at_real_by_checkpoint,
    monotonic_by_checkpoint,
    oscillation_amplitude,
    tail_start,
)
from ganforget.dirac.optimal import (
    OptimalD,
    closed_form_optimum,
    margin,
    margin_bound,
    optimal_discriminator,
    optimise_discriminator,
)
from ganforget.dirac.stability import analytic_eigenvalues, jacobian_eigenvalues, vector_field
from ganforget.dirac.training import DiracConfig, DiracRun, initial_state, train

__all__ = [
    "ACTIVATIONS",
    "REAL_POINT",
    "DiracConfig",
    "DiracRun",
    "Discriminator",
    "OptimalD",
    "activation_fn",
    "analytic_eigenvalues",
    "closed_form_optimum",
    "convergence_iteration",
    "converged",
    "d_loss",
    "g_loss",
    "has_max_at",
    "initial_state",
    "is_monotonic",
    "jacobian_eigenvalues",
    "margin",
    "margin_bound",
    "max_at_real_by_checkpoint",
    "monotonic_by_checkpoint",
    "ns_f",
    "optimal_discriminator",
    "optimise_discriminator",
    "oscillation_amplitude",
    "tail_start",
    "train",
    "vector_field",
]
