"""Online elastic weight consolidation (EWC) for the discriminator, paper Section V-A.

Training is cut into *tasks*: chunks of τ iterations. During a chunk a
:class:`FisherAccumulator` collects ω̂_t, the diagonal empirical Fisher information of D's
loss. At the end of the chunk :meth:`OnlineEWC.consolidate` folds it into the running
importance and snapshots the anchor θ*, D's parameters at that moment:

    ω_t = α·ω̂_t + (1 - α)·ω_{t-1},   with ω_0 = 0, so ω_1 = α·ω̂_1
    θ*  = θ (detached copy)

From then on D's loss gains the penalty

    λ · Σ_i ω_i (θ_i - θ*_i)²,       whose gradient is 2λ·ω·(θ - θ*).

α = 1 keeps only the last chunk's Fisher (plain EWC on the latest task); a small α
remembers many chunks but also scales the first one down by α (the recursion with ω_0 = 0).

The penalty is computed from the *live* parameters, so its gradient reaches them (a copy
taken through ``.data`` would silently turn EWC into a no-op).

Wiring into a D step; the order matters so that ω̂ is the Fisher of D's own loss, not of
the penalty::

    opt.zero_grad()
    objective.d_loss(D, real, fake).backward()
    fisher.accumulate()                 # squares p.grad of D's loss
    ewc.penalty().backward()            # adds 2λω(θ - θ*) to p.grad
    opt.step()
    if (iteration + 1) % tau == 0:
        ewc.consolidate_from(fisher)    # consolidate, then reset the accumulator

Ensembles: parameters stacked along a leading member dimension ([S, out, in]) need nothing
special. The ensemble's loss is the sum of member losses, so row i of ``p.grad`` is member
i's gradient, and every operation here is elementwise: row i of ω, θ* and of the penalty's
gradient equals what a separate EWC on member i would hold. :meth:`OnlineEWC.member_penalties`
splits the penalty per member for logging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from ganforget.errors import CheckpointError, ConfigError

FISHER_MODES = ("batch", "sample")

Batch = torch.Tensor | Sequence[torch.Tensor]


def _as_parameter_list(parameters: Iterable[torch.Tensor], owner: str) -> list[torch.Tensor]:
    params = list(parameters)
    if not params:
        raise ConfigError(f"{owner} got no parameters; pass D.parameters()")
    return params


def _check_like(tensors: Sequence[torch.Tensor], params: Sequence[torch.Tensor], what: str):
    if len(tensors) != len(params):
        raise ValueError(f"{what}: {len(tensors)} tensors for {len(params)} parameters")
    for i, (t, p) in enumerate(zip(tensors, params, strict=True)):
        if t.shape != p.shape:
            raise ValueError(
                f"{what}[{i}] has shape {tuple(t.shape)}, parameter has {tuple(p.shape)}"
            )


class OnlineEWC:
    """Online EWC penalty λ·Σ ω (θ - θ*)² on a fixed list of parameters.

    ``weight`` is λ (>= 0) and ``alpha`` is α in (0, 1]. Attributes: ``importance`` (ω, one
    tensor per parameter, zeros before the first consolidation), ``anchor`` (θ*, detached
    copies; the parameters' values at construction before the first consolidation) and
    ``consolidations`` (how many tasks have been folded in).
    """

    def __init__(self, parameters: Iterable[torch.Tensor], *, weight: float, alpha: float):
        if not weight >= 0:
            raise ConfigError(f"ewc.weight={weight} must be >= 0")
        if not 0 < alpha <= 1:
            raise ConfigError(f"ewc.alpha={alpha} must be in (0, 1]")
        self.parameters = _as_parameter_list(parameters, "OnlineEWC")
        self.weight = float(weight)
        self.alpha = float(alpha)
        self.importance = [torch.zeros_like(p, requires_grad=False) for p in self.parameters]
        self.anchor = [p.detach().clone() for p in self.parameters]
        self.consolidations = 0

    @torch.no_grad()
    def consolidate(self, fisher: Sequence[torch.Tensor]) -> None:
        """Fold one task's Fisher ω̂ (shaped like the parameters) into ω; set θ* = θ now."""
        _check_like(fisher, self.parameters, "fisher")
        for omega, f in zip(self.importance, fisher, strict=True):
            omega.mul_(1.0 - self.alpha).add_(f.detach(), alpha=self.alpha)
        for anchor, p in zip(self.anchor, self.parameters, strict=True):
            anchor.copy_(p.detach())
        self.consolidations += 1

    def consolidate_from(self, accumulator: FisherAccumulator) -> None:
        """Consolidate with ``accumulator.fisher()``, then reset the accumulator."""
        self.consolidate(accumulator.fisher())
        accumulator.reset()

    def _terms(self) -> list[torch.Tensor]:
        return [
            omega * (p - anchor).pow(2)
            for omega, p, anchor in zip(self.importance, self.parameters, self.anchor, strict=True)
        ]

    def penalty(self) -> torch.Tensor:
        """Return λ·Σ ω (θ - θ*)² as a scalar tensor, differentiable w.r.t. the parameters.

        Before the first consolidation it is an exact zero that still supports ``backward``.
        """
        p0 = self.parameters[0]
        if self.consolidations == 0:
            return torch.zeros((), device=p0.device, dtype=p0.dtype, requires_grad=True)
        total = torch.stack([t.sum() for t in self._terms()]).sum()
        return self.weight * total

    def member_penalties(self) -> torch.Tensor:
        """Return the penalty per ensemble member, shaped ``[S]`` (sum = :meth:`penalty`).

        Every parameter must be stacked along a leading member dimension of the same size S.
        """
        sizes = {p.shape[0] if p.dim() > 0 else None for p in self.parameters}
        if len(sizes) != 1 or None in sizes:
            raise ValueError("member_penalties needs parameters stacked as [S, ...] with one S")
        (members,) = sizes
        p0 = self.parameters[0]
        if self.consolidations == 0:
            return torch.zeros(members, device=p0.device, dtype=p0.dtype)
        per_member = torch.stack([t.reshape(members, -1).sum(-1) for t in self._terms()])
        return self.weight * per_member.sum(0)

    def state_dict(self) -> dict[str, Any]:
        """Return the state to resume exactly: ω, θ* and the consolidation count (copies).

        λ and α are configuration, not state: they come from the constructor.
        """
        return {
            "consolidations": self.consolidations,
            "importance": [t.clone() for t in self.importance],
            "anchor": [t.clone() for t in self.anchor],
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` in place (onto the parameters' devices)."""
        try:
            _check_like(state["importance"], self.parameters, "ewc importance")
            _check_like(state["anchor"], self.parameters, "ewc anchor")
            count = int(state["consolidations"])
        except (KeyError, ValueError, TypeError) as err:
            raise CheckpointError(
                f"EWC state does not match D's parameters ({err}); resume with the same model"
            ) from None
        for dst, src in zip(self.importance, state["importance"], strict=True):
            dst.copy_(src)
        for dst, src in zip(self.anchor, state["anchor"], strict=True):
            dst.copy_(src)
        self.consolidations = count


class FisherAccumulator:
    """Accumulate ω̂, the diagonal empirical Fisher of D's loss, over one task (chunk).

    ``mode="batch"`` (default): ω̂ = mean over the chunk's D steps of the squared per-batch
    gradient, fed by :meth:`accumulate` right after D's ``loss.backward()``. Costs one
    elementwise square-and-add per step. Because a batch gradient is a mean over B samples,
    its square is roughly (mean gradient)² + (per-sample variance)/B, so these values are
    smaller than the per-sample Fisher, by up to a factor B when noise dominates; λ is tuned
    with the mode.

    ``mode="sample"``: ω̂ = mean over all samples of the chunk of the squared per-sample
    gradient (the textbook empirical Fisher), fed by :meth:`accumulate_per_sample`. Costs B
    extra forward/backward passes per D step with the loop, or one vectorised pass holding
    B copies of the gradient (memory B × #parameters) with ``vectorize=True``.

    ``count`` is the number of squared gradients summed: D steps (batch) or samples (sample).
    """

    def __init__(self, parameters: Iterable[torch.Tensor], *, mode: str = "batch"):
        if mode not in FISHER_MODES:
            raise ConfigError(f"ewc.fisher_mode='{mode}' is unknown; use one of {FISHER_MODES}")
        self.parameters = _as_parameter_list(parameters, "FisherAccumulator")
        self.mode = mode
        self.total = [torch.zeros_like(p, requires_grad=False) for p in self.parameters]
        self.count = 0

    def _require(self, mode: str, method: str) -> None:
        if self.mode != mode:
            raise ConfigError(
                f"FisherAccumulator(mode='{self.mode}') cannot use {method}(); "
                f"build it with mode='{mode}'"
            )

    @torch.no_grad()
    def accumulate(self, grads: Sequence[torch.Tensor | None] | None = None) -> None:
        """Add one D step's squared gradient (batch mode).

        ``grads`` defaults to the parameters' ``.grad`` (read right after ``loss.backward()``);
        a missing gradient counts as zero.
        """
        self._require("batch", "accumulate")
        if grads is None:
            grads = [p.grad for p in self.parameters]
        if len(grads) != len(self.parameters):
            raise ValueError(f"grads: {len(grads)} tensors for {len(self.parameters)} parameters")
        for total, g in zip(self.total, grads, strict=True):
            if g is not None:
                total.add_(g.detach().pow(2))
        self.count += 1

    def accumulate_per_sample(
        self,
        loss_fn: Callable[[Sequence[torch.Tensor], Batch], torch.Tensor],
        batch: Batch,
        *,
        sample_dim: int = 0,
        vectorize: bool = False,
    ) -> None:
        """Add the squared gradient of each sample's loss (sample mode).

        ``loss_fn(params, sub_batch) -> scalar`` is D's loss on ``sub_batch``: ``batch`` (a
        tensor or a sequence of tensors sharing the sample dimension, e.g. ``(real, fake)``)
        narrowed to one sample along ``sample_dim`` (kept, size 1). ``params`` are tensors in
        the order of the accumulator's parameters; with ``vectorize=False`` they are the live
        parameters themselves, so ``loss_fn`` may ignore them and call D directly; with
        ``vectorize=True`` (torch.func.vmap over torch.func.grad) ``loss_fn`` must compute with
        them, e.g. through ``torch.func.functional_call``, and must not call
        ``torch.autograd.grad`` itself (an R1 or gradient penalty needs the loop).

        Ensembles: use ``sample_dim=1`` on ``[S, B, ...]`` batches; the member losses summed
        by ``loss_fn`` give row i = member i's per-sample gradient.
        """
        self._require("sample", "accumulate_per_sample")
        tensors = [batch] if isinstance(batch, torch.Tensor) else list(batch)
        n = tensors[0].shape[sample_dim]
        if any(t.shape[sample_dim] != n for t in tensors):
            raise ValueError(f"batch tensors disagree on the size of dimension {sample_dim}")

        def pack(ts: list[torch.Tensor]) -> Batch:
            return ts[0] if isinstance(batch, torch.Tensor) else type(batch)(ts)

        if vectorize:
            params = tuple(p.detach() for p in self.parameters)

            def one(ps: tuple[torch.Tensor, ...], *sample: torch.Tensor) -> torch.Tensor:
                return loss_fn(ps, pack([s.unsqueeze(sample_dim) for s in sample]))

            per_sample = torch.func.vmap(
                torch.func.grad(one), in_dims=(None, *([sample_dim] * len(tensors)))
            )(params, *tensors)
            with torch.no_grad():
                for total, g in zip(self.total, per_sample, strict=True):
                    total.add_(g.detach().pow(2).sum(0))
        else:
            for i in range(n):
                sub = pack([t.narrow(sample_dim, i, 1) for t in tensors])
                loss = loss_fn(self.parameters, sub)
                grads = torch.autograd.grad(loss, self.parameters, allow_unused=True)
                with torch.no_grad():
                    for total, g in zip(self.total, grads, strict=True):
                        if g is not None:
                            total.add_(g.pow(2))
        self.count += n

    def fisher(self) -> list[torch.Tensor]:
        """Return ω̂ = accumulated squared gradients / ``count``, one tensor per parameter."""
        if self.count == 0:
            raise ValueError("FisherAccumulator is empty: accumulate at least one D step first")
        return [t / self.count for t in self.total]

    @torch.no_grad()
    def reset(self) -> None:
        """Start a new task: zero the sums and the count."""
        for t in self.total:
            t.zero_()
        self.count = 0

    def state_dict(self) -> dict[str, Any]:
        """Return the state to resume mid-chunk exactly: mode, count and the sums (copies)."""
        return {"mode": self.mode, "count": self.count, "total": [t.clone() for t in self.total]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` in place."""
        try:
            if state["mode"] != self.mode:
                raise ValueError(f"mode '{state['mode']}' != '{self.mode}'")
            _check_like(state["total"], self.parameters, "fisher sums")
            count = int(state["count"])
        except (KeyError, ValueError, TypeError) as err:
            raise CheckpointError(
                f"Fisher state does not match this accumulator ({err}); resume with the same "
                "model and ewc.fisher_mode"
            ) from None
        for dst, src in zip(self.total, state["total"], strict=True):
            dst.copy_(src)
        self.count = count
