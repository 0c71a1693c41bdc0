"""Replay of old fake samples to D, paper Section V.

A :class:`ReplayBuffer` keeps N fake samples made by past generators. In every D step a
fraction ρ of D's fake batch is taken from the buffer, so D keeps seeing the regions that
old generators visited and cannot simply forget them.

Conventions:

* Count. Of a fake batch of B samples exactly k = floor(ρ·B + 1/2) (round half up) come
  from the buffer, in the first k positions; the rest are the current fakes at positions
  k..B-1 (their own positions, the first k current fakes are dropped). Fake samples are
  i.i.d., so which positions are replaced does not change D's loss in distribution.
* Draws. Buffer samples are drawn uniformly with replacement (so k is exact even while the
  buffer holds fewer than k samples). An empty buffer returns the fakes unchanged.
* Order within iteration t: ``mixed = buffer.mix(fakes)``, D's step on ``mixed``, then
  ``buffer.push(fakes, t)`` with the *fresh* fakes (never the mixed batch). Replayed samples
  are therefore always made by generators of iterations < t.
* Kinds. ``"fifo"`` keeps the last N samples pushed. ``"reservoir"`` (Vitter's algorithm R)
  keeps a uniform sample of everything pushed so far: the n-th sample (0-based) fills slot n
  while n < N, later it replaces slot j for j uniform in {0..n} when j < N; within one push
  a later sample wins a slot drawn twice, as in the sequential algorithm.
* Randomness comes only from the ``generator`` arguments (the global RNG when None).
* Storage lives on the device of the first pushed fakes, detached, in their dtype.

Ensembles (``members=S``): fakes are ``[S, B, *shape]``, storage ``[S, N, *shape]``, and
member i mixes only its own history. With a list of S generators member i's draws come
from generator i in the same order as a single-member buffer's, so member i reproduces a
separate run seeded like it. A single generator draws for all members at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ganforget.errors import CheckpointError, ConfigError

REPLAY_KINDS = ("fifo", "reservoir")

GeneratorArg = torch.Generator | Sequence[torch.Generator] | None


@dataclass(frozen=True)
class ReplayInfo:
    """Where the replayed samples of one :meth:`ReplayBuffer.mix` came from.

    ``count`` is k. ``slots`` are the buffer slots drawn and ``iterations`` the iterations
    (generator versions) that made them, both ``[k]`` (or ``[S, k]`` for ensembles); they
    fill batch positions ``0..k-1`` in that order.
    """

    count: int
    slots: torch.Tensor
    iterations: torch.Tensor


def replay_count(batch_size: int, fraction: float) -> int:
    """Return k = floor(ρ·B + 1/2): how many of B fake samples are replayed at fraction ρ."""
    return min(batch_size, int(math.floor(fraction * batch_size + 0.5)))


class ReplayBuffer:
    """A buffer of ``capacity`` past fake samples; ``fraction`` of D's fake batch comes from it.

    ``kind`` is ``"fifo"`` or ``"reservoir"``; ``members`` is the ensemble size S (None for
    a plain run). ``size`` is how many slots hold samples, ``seen`` how many were pushed.
    """

    def __init__(
        self,
        capacity: int,
        *,
        fraction: float,
        kind: str = "reservoir",
        members: int | None = None,
    ):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigError(f"replay.capacity={capacity!r} must be an integer >= 1")
        if not 0 <= fraction <= 1:
            raise ConfigError(f"replay.fraction={fraction} must be in [0, 1]")
        if kind not in REPLAY_KINDS:
            raise ConfigError(f"replay.kind='{kind}' is unknown; use one of {REPLAY_KINDS}")
        if members is not None and (
            isinstance(members, bool) or not isinstance(members, int) or members < 1
        ):
            raise ConfigError(f"replay members={members!r} must be an integer >= 1 or None")
        self.capacity = capacity
        self.fraction = float(fraction)
        self.kind = kind
        self.members = members
        self.seen = 0
        self.samples: torch.Tensor | None = None  # [N, *shape] or [S, N, *shape]
        self.iterations: torch.Tensor | None = None  # [N] or [S, N], int64
        self.last_info: ReplayInfo | None = None

    @property
    def size(self) -> int:
        """Return how many slots hold samples: min(seen, capacity)."""
        return min(self.seen, self.capacity)

    # --- helpers -----------------------------------------------------------------------------
    def _lead(self) -> int:
        return 0 if self.members is None else 1

    def _check_fakes(self, fakes: torch.Tensor, what: str) -> None:
        if self.members is not None and (fakes.dim() < 2 or fakes.shape[0] != self.members):
            raise ValueError(
                f"{what}: fakes shaped {tuple(fakes.shape)}, expected [{self.members}, B, ...]"
            )
        if self.samples is not None:
            lead = self._lead()
            if fakes.shape[lead + 1 :] != self.samples.shape[lead + 1 :]:
                raise ValueError(
                    f"{what}: sample shape {tuple(fakes.shape[lead + 1 :])} differs from the "
                    f"buffer's {tuple(self.samples.shape[lead + 1 :])}"
                )

    def _generators(self, generator: GeneratorArg) -> list[torch.Generator] | None:
        """Return one generator per member, or None to draw all members at once."""
        if generator is None or isinstance(generator, torch.Generator):
            return None
        gens = list(generator)
        expected = 1 if self.members is None else self.members
        if len(gens) != expected:
            raise ValueError(f"{len(gens)} generators for {expected} buffer members")
        return gens

    def _uniform(self, n: int, generator: GeneratorArg) -> torch.Tensor:
        """Return float64 U(0,1) draws shaped [n] or [S, n], member i from generator i."""
        gens = self._generators(generator)
        if gens is None:
            gen = generator if isinstance(generator, torch.Generator) else None
            shape = (n,) if self.members is None else (self.members, n)
            device = gen.device if gen is not None else None
            return torch.rand(shape, generator=gen, device=device, dtype=torch.float64)
        draws = [torch.rand(n, generator=g, device=g.device, dtype=torch.float64) for g in gens]
        return draws[0] if self.members is None else torch.stack(draws)

    def _allocate(self, fakes: torch.Tensor) -> None:
        lead = self._lead()
        shape = (*fakes.shape[:lead], self.capacity, *fakes.shape[lead + 1 :])
        self.samples = torch.zeros(shape, dtype=fakes.dtype, device=fakes.device)
        self.iterations = torch.full(shape[: lead + 1], -1, dtype=torch.long, device=fakes.device)

    # --- public API --------------------------------------------------------------------------
    @torch.no_grad()
    def push(self, fakes: torch.Tensor, iteration: int, *, generator: GeneratorArg = None) -> None:
        """Store ``fakes`` ([B, *shape], or [S, B, *shape]) made by the generator of ``iteration``.

        Reservoir sampling draws its slots from ``generator`` (a list: member i from entry i).
        """
        self._check_fakes(fakes, "push")
        fakes = fakes.detach()
        if self.samples is None:
            self._allocate(fakes)
        assert self.samples is not None and self.iterations is not None
        lead = self._lead()
        batch = fakes.shape[lead]
        if self.kind == "fifo":
            if batch > self.capacity:  # only the last `capacity` samples survive
                fakes = fakes.narrow(lead, batch - self.capacity, self.capacity)
                self.seen += batch - self.capacity
                batch = self.capacity
            slots = (self.seen + torch.arange(batch)) % self.capacity
            slots = slots.to(self.samples.device)
            if self.members is None:
                self.samples[slots] = fakes
                self.iterations[slots] = iteration
            else:
                self.samples[:, slots] = fakes
                self.iterations[:, slots] = iteration
            self.seen += batch
            return

        # Reservoir (algorithm R). Sample n = seen + b fills slot n while n < capacity;
        # afterwards j ~ U{0..n} and it replaces slot j if j < capacity.
        index = self.seen + torch.arange(batch, dtype=torch.float64)
        filling = int(min(batch, max(0, self.capacity - self.seen)))
        slot = index.clone()
        if batch > filling:
            u = self._uniform(batch - filling, generator).cpu()
            drawn = torch.floor(u * (index[filling:] + 1))
            slot = slot.expand(*u.shape[:-1], batch).clone()
            slot[..., filling:] = drawn
        slot = slot.long()
        # Winner of each slot: the last sample in push order that chose it (-1: none).
        keep = slot < self.capacity
        order = torch.arange(batch).expand_as(slot)
        winner = torch.full((*slot.shape[:-1], self.capacity), -1, dtype=torch.long)
        winner.scatter_reduce_(
            -1, torch.where(keep, slot, 0), torch.where(keep, order, -1), reduce="amax"
        )
        winner = winner.to(self.samples.device)
        if self.members is None:
            hit = winner >= 0
            self.samples[hit] = fakes[winner[hit]]
            self.iterations[hit] = iteration
        else:
            if winner.dim() == 1:  # same draws for every member (the fill phase)
                winner = winner.expand(self.members, -1)
            hit = winner >= 0
            member, where = hit.nonzero(as_tuple=True)
            self.samples[member, where] = fakes[member, winner[member, where]]
            self.iterations[member, where] = iteration
        self.seen += batch

    def mix(
        self,
        fakes: torch.Tensor,
        *,
        generator: GeneratorArg = None,
        return_info: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ReplayInfo]:
        """Return D's fake batch, shaped like ``fakes``, with k of B samples from the buffer.

        k = floor(ρ·B + 1/2) buffer samples, drawn uniformly with replacement from
        ``generator`` (a list: member i from entry i), fill positions 0..k-1; positions
        k..B-1 keep the current fakes (with their autograd history). With an empty buffer or
        k = 0 the fakes come back unchanged and nothing is drawn. The :class:`ReplayInfo` is
        kept in ``last_info`` and also returned when ``return_info`` is true.
        """
        self._check_fakes(fakes, "mix")
        lead = self._lead()
        batch = fakes.shape[lead]
        k = replay_count(batch, self.fraction) if self.size > 0 else 0
        idx_shape = (0,) if self.members is None else (self.members, 0)
        if k == 0:
            empty = torch.zeros(idx_shape, dtype=torch.long, device=fakes.device)
            info = ReplayInfo(0, empty, empty.clone())
            self.last_info = info
            return (fakes, info) if return_info else fakes
        assert self.samples is not None and self.iterations is not None
        u = self._uniform(k, generator)
        slots = torch.floor(u * self.size).long().clamp_(max=self.size - 1)
        slots = slots.to(self.samples.device)
        if self.members is None:
            old = self.samples[slots]
            iters = self.iterations[slots]
        else:
            old = torch.gather(
                self.samples,
                1,
                slots.reshape(*slots.shape, *([1] * (fakes.dim() - 2))).expand(
                    -1, -1, *self.samples.shape[2:]
                ),
            )
            iters = torch.gather(self.iterations, 1, slots)
        mixed = torch.cat([old.to(fakes.dtype), fakes.narrow(lead, k, batch - k)], dim=lead)
        info = ReplayInfo(k, slots, iters)
        self.last_info = info
        return (mixed, info) if return_info else mixed

    def state_dict(self) -> dict[str, Any]:
        """Return the state to resume exactly: kind, capacity, members, seen, samples (copies)."""
        return {
            "kind": self.kind,
            "capacity": self.capacity,
            "members": self.members,
            "seen": self.seen,
            "samples": None if self.samples is None else self.samples.clone(),
            "iterations": None if self.iterations is None else self.iterations.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; kind, capacity and members must match this buffer."""
        try:
            for key in ("kind", "capacity", "members"):
                if state[key] != getattr(self, key):
                    raise ValueError(
                        f"{key}={state[key]!r}, this buffer has {getattr(self, key)!r}"
                    )
            seen = int(state["seen"])
            samples, iterations = state["samples"], state["iterations"]
            if (samples is None) != (seen == 0) or (samples is None) != (iterations is None):
                raise ValueError(f"samples missing or present with seen={seen}")
        except (KeyError, ValueError, TypeError) as err:
            raise CheckpointError(
                f"replay state does not match this buffer ({err}); resume with the same "
                "replay settings"
            ) from None
        self.seen = seen
        self.samples = None if samples is None else samples.clone()
        self.iterations = None if iterations is None else iterations.clone()
        self.last_info = None
