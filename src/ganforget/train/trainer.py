"""The trainer: alternating D and G steps over S seeds at once, callbacks at scheduled points.

One iteration is ``n_critic`` D steps followed by one G step. Everything optional (metrics,
samples, probes, remedies, checkpoints) plugs in through three hooks:

* ``fake_hooks``: ``hook(trainer, fakes) -> fakes`` transforms D's fake batch (replay);
* ``d_penalties``: ``pen(trainer) -> Tensor[S] or scalar`` is added to D's loss (a
  regulariser that needs no gradient access; EWC is a callback, see remedies/attach.py);
* ``callbacks``: objects with any of ``on_start``, ``on_d_backward``, ``on_iteration_end``
  and ``on_end`` (each called with the trainer), and optionally ``state_dict`` /
  ``load_state_dict`` to be saved in checkpoints under their ``name``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ganforget.errors import DivergenceError
from ganforget.objectives import Objective
from ganforget.train.streams import (
    Streams,
    global_rng_state,
    randn_members,
    set_global_rng_state,
)

_D_KEYS = {"real": "d_real", "fake": "d_fake", "penalty": "d_penalty"}


def _total(losses: torch.Tensor) -> torch.Tensor:
    """Return the sum of per-member losses; one member's loss as it is (no extra op)."""
    return losses if losses.numel() == 1 else losses.sum()


@dataclass
class Trainer:
    """Train an ensemble G, D pair; ``run(iterations)`` returns when ``iterations`` are done.

    ``G`` maps ``[S, B, nz] -> [S, B, *shape]`` and ``D`` maps ``[S, B, *shape] -> [S, B]``.
    ``last`` holds the latest per-member losses (detached ``[S]`` tensors).
    """

    G: nn.Module
    D: nn.Module
    objective: Objective
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    source: object
    streams: Streams
    nz: int
    batch_size: int
    n_critic: int = 1
    callbacks: list = field(default_factory=list)
    fake_hooks: list[Callable] = field(default_factory=list)
    d_penalties: list[Callable] = field(default_factory=list)
    iteration: int = 0
    total: int = 0
    last: dict[str, torch.Tensor] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)
    stop_requested: bool = False
    d_batch: tuple = ()
    step_metrics: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def members(self) -> int:
        """Number of seeds trained together."""
        return len(self.streams.seeds)

    @property
    def device(self) -> torch.device:
        return self.streams.device

    def noise(self, batch: int | None = None) -> torch.Tensor:
        """Return fresh latent codes ``[S, batch, nz]``, member ``i`` from its noise stream."""
        return randn_members(self.streams.noise, (batch or self.batch_size, self.nz), self.device)

    # --- the two steps ---------------------------------------------------------------------
    def d_step(self) -> dict[str, torch.Tensor]:
        """One D update; return D's per-member loss parts (detached ``[S]`` tensors)."""
        real = self.source.sample(self.batch_size, self.streams.data)
        with torch.no_grad():
            fake = self.G(self.noise())
        for hook in self.fake_hooks:
            fake = hook(self, fake)
        self.d_batch = (real, fake)
        parts = self.objective.d_losses(self.D, real, fake, generator=self.streams.aux)
        loss = parts["loss"]
        for pen in self.d_penalties:
            loss = loss + pen(self)
        self.opt_d.zero_grad(set_to_none=True)
        _total(loss).backward()
        for cb in self.callbacks:
            if hasattr(cb, "on_d_backward"):
                cb.on_d_backward(self)
        self.opt_d.step()
        return {k: v.detach() for k, v in parts.items()}

    def g_step(self) -> torch.Tensor:
        """One G update; return G's per-member loss (detached ``[S]``)."""
        d_params = self._d_params()
        for p in d_params:
            p.requires_grad_(False)
        try:
            loss = self.objective.g_losses(self.D, self.G(self.noise()))
            self.opt_g.zero_grad(set_to_none=True)
            _total(loss).backward()
            self.opt_g.step()
        finally:
            for p in d_params:
                p.requires_grad_(True)
        return loss.detach()

    def _d_params(self) -> list[torch.Tensor]:
        # D's parameter list, cached: walking the module tree every G step costs more than
        # the small nets' arithmetic.
        cached = self.__dict__.get("_d_param_cache")
        if cached is None or cached[0] is not self.D:
            cached = (self.D, list(self.D.parameters()))
            self.__dict__["_d_param_cache"] = cached
        return cached[1]

    # --- the loop ----------------------------------------------------------------------------
    def run(self, iterations: int, progress: bool = True) -> None:
        """Train until ``self.iteration == iterations``, calling the callbacks on the way."""
        from tqdm.auto import tqdm

        self.total = iterations
        self.G.train()
        self.D.train()
        for cb in self.callbacks:
            if hasattr(cb, "on_start"):
                cb.on_start(self)
        bar = tqdm(
            total=iterations,
            initial=self.iteration,
            disable=not progress,
            unit="it",
            dynamic_ncols=True,
            mininterval=0.5,
        )
        try:
            while self.iteration < iterations and not self.stop_requested:
                for _ in range(self.n_critic):
                    d_parts = self.d_step()
                g_loss = self.g_step()
                self.iteration += 1
                last = {_D_KEYS.get(k) or "d_" + k: v for k, v in d_parts.items() if k != "loss"}
                last["g_loss"] = g_loss
                last["d_loss"] = d_parts["loss"]
                last.update(self.step_metrics)
                self.last = last
                self._check_finite()
                for cb in self.callbacks:
                    if hasattr(cb, "on_iteration_end"):
                        cb.on_iteration_end(self)
                bar.update(1)
                if progress and (self.iteration % 50 == 0 or self.iteration == iterations):
                    bar.set_postfix_str(self._postfix(), refresh=False)
        finally:
            bar.close()
        for cb in self.callbacks:
            if hasattr(cb, "on_end"):
                cb.on_end(self)

    def _postfix(self) -> str:
        d = self.last["d_loss"].mean().item()
        g = self.last["g_loss"].mean().item()
        text = f"D {d:.3f} G {g:.3f}"
        if self.alarms:
            text += " | " + "; ".join(self.alarms.values())
        return text

    def _check_finite(self) -> None:
        d, g = self.last["d_loss"], self.last["g_loss"]
        # One read per loss: a NaN or Inf anywhere makes the sum non-finite.
        if math.isfinite(_total(d).item() + _total(g).item()):
            return
        if bool(torch.isfinite(d).all() and torch.isfinite(g).all()):
            return  # finite losses whose sum overflowed
        which = "D" if not torch.isfinite(d).all() else "G"
        bad = (~torch.isfinite(d) | ~torch.isfinite(g)).nonzero().flatten().tolist()
        seeds = [self.streams.seeds[i] for i in bad]
        raise DivergenceError(
            f"{which} loss became NaN/Inf at iteration {self.iteration} (seeds {seeds}); "
            "lower the learning rate, add a gradient penalty, or use "
            "train.on_divergence=rollback"
        )

    # --- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Return everything needed to continue exactly: nets, optimizers, RNGs, callbacks."""
        cbs = {
            cb.name: cb.state_dict()
            for cb in self.callbacks
            if hasattr(cb, "state_dict") and getattr(cb, "name", None)
        }
        return {
            "iteration": self.iteration,
            "seeds": list(self.streams.seeds),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "streams": self.streams.state_dict(),
            "global_rng": global_rng_state(),
            "alarms": dict(self.alarms),
            "callbacks": cbs,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state saved by :meth:`state_dict`."""
        self.iteration = int(state["iteration"])
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.streams.load_state_dict(state["streams"])
        set_global_rng_state(state.get("global_rng") or {"torch": state["torch_rng"]})
        self.alarms = dict(state.get("alarms", {}))
        saved = state.get("callbacks", {})
        for cb in self.callbacks:
            name = getattr(cb, "name", None)
            if name in saved and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(saved[name])
