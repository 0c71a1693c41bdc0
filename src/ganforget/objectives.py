"""The objectives of the paper's Table I as composable parts.

An :class:`Objective` is a base loss (``ns`` or ``wgan``), an optional gradient penalty
(``r1``, ``0gp`` or ``1gp``) with weight λ, and a real-loss weight γ (``real_weight``):

* ``ns``:   L_D = γ·E[softplus(-D(x))] + E[softplus(D(y))],  L_G = E[softplus(-D(y))]
* ``wgan``: L_D = -γ·E[D(x)] + E[D(y)],                    L_G = -E[D(y)]
* ``r1``:   + λ·E_x ‖∇D(x)‖²                      (on real points)
* ``0gp``:  + λ·E_u ‖∇D(u)‖²,      u = αx + (1-α)y, one α ~ U(0, 1) per sample
* ``1gp``:  + λ·E_u (‖∇D(u)‖ - 1)² (WGAN-GP)

D maps a batch to logits. It may be a plain net, ``[B, *shape] -> [B]``, or a seed ensemble,
``[S, B, *shape] -> [S, B]``. Expectations are means over the last (sample) dimension; the
losses of ensemble members are summed, so that each member's parameters receive exactly the
gradient of its own loss. The per-sample gradient norm is taken over all data dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforget.errors import ConfigError

LOSSES = ("ns", "wgan")
PENALTIES = (None, "r1", "0gp", "1gp")

Discriminator = Callable[[torch.Tensor], torch.Tensor]
GeneratorArg = torch.Generator | Sequence[torch.Generator] | None


def per_sample_grad_norm(D: Discriminator, x: torch.Tensor, *, create_graph: bool = True):
    """Return ``(logits, norms)``: D(x) and ‖∇ₓD(x)‖ per sample, both shaped like D(x).

    ``x`` is ``[*lead, *data_shape]`` where ``lead`` is the shape of D's output; the gradient
    of each logit w.r.t. its own input is flattened over the data dimensions before the norm.
    """
    x = x.detach().requires_grad_(True)
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=create_graph)
    norms = grad.reshape(*logits.shape, -1).norm(dim=-1)
    return logits, norms


def uniform_per_sample(
    lead_shape: torch.Size, generator: GeneratorArg, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Return U(0, 1) draws shaped ``lead_shape``, one per sample.

    With a sequence of generators (one per ensemble member), row ``i`` of the leading
    dimension is drawn from generator ``i``, so member ``i`` sees the same numbers as a
    separate run seeded like it.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.rand(lead_shape, generator=generator, device=device, dtype=dtype)
    gens = list(generator)
    if len(gens) != lead_shape[0]:
        raise ValueError(f"{len(gens)} generators for {lead_shape[0]} ensemble members")
    return torch.stack(
        [torch.rand(lead_shape[1:], generator=g, device=device, dtype=dtype) for g in gens]
    )


@dataclass(frozen=True)
class Objective:
    """One row of Table I: base ``loss``, gradient ``penalty`` with ``weight`` λ, and γ.

    ``real_weight`` (γ) multiplies only the real term of D's loss; G's loss never changes.
    """

    loss: str = "ns"
    penalty: str | None = None
    weight: float = 0.0
    real_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"objective.loss='{self.loss}' is unknown; use one of {LOSSES}")
        if self.penalty not in PENALTIES:
            raise ConfigError(
                f"objective.penalty='{self.penalty}' is unknown; use one of "
                f"{[p for p in PENALTIES if p]} or null"
            )
        if not self.weight >= 0:
            raise ConfigError(f"objective.weight={self.weight} must be >= 0")
        if not self.real_weight > 0:
            raise ConfigError(f"objective.real_weight={self.real_weight} must be > 0")

    # --- per-sample terms (logits in, losses out, same shape) -------------------------------
    def real_term(self, logits: torch.Tensor) -> torch.Tensor:
        """Return D's per-sample loss on real logits, without γ: softplus(-D) or -D."""
        return F.softplus(-logits) if self.loss == "ns" else -logits

    def fake_term(self, logits: torch.Tensor) -> torch.Tensor:
        """Return D's per-sample loss on fake logits: softplus(D) or D."""
        return F.softplus(logits) if self.loss == "ns" else logits

    def generator_term(self, logits: torch.Tensor) -> torch.Tensor:
        """Return G's per-sample loss on fake logits: softplus(-D) (non-saturating) or -D."""
        return F.softplus(-logits) if self.loss == "ns" else -logits

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """Return D's score: sigmoid(logit) for ``ns``, the logit itself for ``wgan``."""
        return torch.sigmoid(logits) if self.loss == "ns" else logits

    # --- losses per ensemble member ---------------------------------------------------------
    def d_losses(
        self,
        D: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        *,
        generator: GeneratorArg = None,
    ) -> dict[str, torch.Tensor]:
        """Return D's loss parts, each shaped like D's output without its sample dimension.

        Keys: ``loss`` (the total L_D), ``real``, ``fake`` and ``penalty`` (0 when none).
        For a plain D these are scalars; for an ensemble they are ``[S]`` vectors.
        """
        fake = fake.detach()
        if self.penalty == "r1":
            d_real, norms = per_sample_grad_norm(D, real)
            pen = self.weight * norms.pow(2).mean(-1)
        else:
            d_real = D(real)
        d_fake = D(fake)
        real_part = self.real_weight * self.real_term(d_real).mean(-1)
        fake_part = self.fake_term(d_fake).mean(-1)
        if self.penalty in ("0gp", "1gp"):
            lead = d_real.shape
            alpha = uniform_per_sample(lead, generator, real.device, real.dtype)
            alpha = alpha.reshape(*lead, *([1] * (real.dim() - len(lead))))
            mixed = alpha * real.detach() + (1 - alpha) * fake
            _, norms = per_sample_grad_norm(D, mixed)
            gap = norms if self.penalty == "0gp" else norms - 1.0
            pen = self.weight * gap.pow(2).mean(-1)
        elif self.penalty is None:
            pen = torch.zeros_like(real_part)
        return {
            "loss": real_part + fake_part + pen,
            "real": real_part,
            "fake": fake_part,
            "penalty": pen,
        }

    def g_losses(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        """Return G's loss, shaped like D's output without its sample dimension."""
        return self.generator_term(D(fake)).mean(-1)

    # --- scalar losses (sum over ensemble members) ------------------------------------------
    def d_loss(
        self,
        D: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        *,
        generator: GeneratorArg = None,
    ) -> torch.Tensor:
        """Return L_D as a scalar: the mean loss for a plain D, summed over ensemble members."""
        return self.d_losses(D, real, fake, generator=generator)["loss"].sum()

    def g_loss(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        """Return L_G as a scalar: the mean loss for a plain D, summed over ensemble members."""
        return self.g_losses(D, fake).sum()

    def describe(self) -> str:
        """Return the paper's name for this objective, e.g. ``GAN-0GP (λ=100, γ=10)``."""
        base = "WGAN" if self.loss == "wgan" else "GAN"
        if self.loss == "wgan" and self.penalty == "1gp":
            name = "WGAN-GP"
        elif self.penalty:
            name = f"{base}-{self.penalty.upper()}"
        else:
            name = f"{base}-NS" if self.loss == "ns" else base
        extras = []
        if self.penalty:
            extras.append(f"λ={self.weight:g}")
        if self.real_weight != 1.0:
            extras.append(f"γ={self.real_weight:g}")
        return f"{name} ({', '.join(extras)})" if extras else name
