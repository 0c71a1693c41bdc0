"""Remedies as trainer plug-ins: online EWC on D and replay of old fakes.

Both act per seed: EWC's importance and anchor are elementwise over the stacked member
parameters, and the replay buffer keeps each member's own history, drawing with that
member's ``aux`` stream. The imbalanced real weight γ (``objective.real_weight``) and
momentum (``optim.momentum``) need no plug-in: they are part of the objective and optimizer.
"""

from __future__ import annotations

from ganforget.remedies.ewc import FisherAccumulator, OnlineEWC
from ganforget.remedies.replay import ReplayBuffer


class EWCRemedy:
    """Online EWC on D: Fisher accumulated every D step, consolidated every ``tau`` iterations.

    After D's loss is back-propagated, the squared gradients join the chunk's Fisher and the
    EWC penalty's gradient 2λω(θ - θ*) is added before the optimizer step. The per-seed
    penalty is logged as ``ewc_penalty``.
    """

    name = "ewc"

    def __init__(self, D, *, weight: float, alpha: float, tau: int, mode: str = "batch"):
        params = list(D.parameters())
        self.ewc = OnlineEWC(params, weight=weight, alpha=alpha)
        self.fisher = FisherAccumulator(params, mode=mode)
        self.tau, self.mode = tau, mode

    def on_d_backward(self, tr) -> None:
        if self.mode == "batch":
            self.fisher.accumulate()
        else:
            real, fake = tr.d_batch

            def loss_fn(_params, batch):
                r, f = batch
                return tr.objective.d_losses(tr.D, r, f, generator=tr.streams.aux)["loss"].sum()

            self.fisher.accumulate_per_sample(loss_fn, (real, fake.detach()), sample_dim=1)
        if self.ewc.consolidations:
            pen = self.ewc.member_penalties()
            pen.sum().backward()
            tr.step_metrics["ewc_penalty"] = pen.detach()

    def on_iteration_end(self, tr) -> None:
        if tr.iteration % self.tau == 0 and self.fisher.count:
            self.ewc.consolidate_from(self.fisher)

    def state_dict(self) -> dict:
        return {"ewc": self.ewc.state_dict(), "fisher": self.fisher.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.ewc.load_state_dict(state["ewc"])
        self.fisher.load_state_dict(state["fisher"])


class ReplayRemedy:
    """Replay: a fraction ρ of D's fake batch comes from a buffer of each seed's old fakes.

    Used as a fake hook: it mixes old fakes into the batch, then stores the fresh fakes,
    tagged with the generator's iteration, so a replayed sample is always from an older G.
    """

    name = "replay"

    def __init__(self, members: int, *, capacity: int, fraction: float, kind: str):
        self.buffer = ReplayBuffer(capacity, fraction=fraction, kind=kind, members=members)

    def __call__(self, tr, fakes):
        mixed = self.buffer.mix(fakes, generator=tr.streams.aux)
        self.buffer.push(fakes, tr.iteration, generator=tr.streams.aux)
        return mixed

    def state_dict(self) -> dict:
        return self.buffer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.buffer.load_state_dict(state)


def attach_remedies(tr, cfg, run=None) -> None:
    """Attach online EWC and replay to ``tr`` as ``cfg.remedies`` asks (weight 0 / size 0: off)."""
    r = cfg.remedies
    if r.ewc.weight > 0:
        tr.callbacks.append(
            EWCRemedy(
                tr.D, weight=r.ewc.weight, alpha=r.ewc.alpha, tau=r.ewc.tau, mode=r.ewc.fisher_mode
            )
        )
    if r.replay.capacity > 0:
        rep = ReplayRemedy(
            len(tr.streams.seeds),
            capacity=r.replay.capacity,
            fraction=r.replay.fraction,
            kind=r.replay.kind,
        )
        tr.fake_hooks.append(rep)
        tr.callbacks.append(rep)
