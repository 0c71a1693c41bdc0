"""Remedies compose inside real training: 0GP + γ + EWC + replay, with either base loss."""

import pytest
import torch

from ganforget.config import resolve
from ganforget.presets import preset
from ganforget.remedies.attach import EWCRemedy, ReplayRemedy
from ganforget.train.build import build_trainer

ALL = [
    "remedies.ewc.weight=1",
    "remedies.ewc.tau=20",
    "remedies.replay.capacity=128",
    "remedies.replay.fraction=0.5",
    "train.seeds=[0,1]",
    "data.batch_size=32",
]


@pytest.mark.parametrize(
    "objective",
    [
        ["objective.loss=ns", "objective.penalty=0gp", "objective.real_weight=10"],
        ["objective.loss=wgan", "objective.penalty=1gp", "optim.n_critic=2"],
    ],
)
def test_all_remedies_compose(objective):
    cfg = resolve(preset("ring8-ns-sgd"), [*ALL, *objective, "objective.weight=10"])
    tr = build_trainer(cfg, None)
    tr.run(60, progress=False)
    ewc = next(c for c in tr.callbacks if isinstance(c, EWCRemedy))
    rep = next(c for c in tr.callbacks if isinstance(c, ReplayRemedy))
    assert ewc.ewc.consolidations == 3  # at iterations 20, 40, 60
    assert tr.last["ewc_penalty"].shape == (2,) and (tr.last["ewc_penalty"] > 0).all()
    assert rep.buffer.size == 128
    assert torch.isfinite(tr.last["d_loss"]).all()


def test_ewc_penalty_acts_on_d():
    # A strong EWC keeps D near its anchor: after consolidation, D moves far less than
    # without EWC over the same iterations and data. (Adam, because with plain SGD a huge
    # λ·ω makes the step 2·lr·λ·ω unstable.)
    def drift(weight):
        cfg = resolve(
            preset("ring8-ns-sgd"),
            [
                f"remedies.ewc.weight={weight}",
                "remedies.ewc.tau=50",
                "remedies.ewc.alpha=1.0",
                "optim.name=adam",
            ],
        )
        tr = build_trainer(cfg, None)
        tr.run(50, progress=False)
        before = [p.detach().clone() for p in tr.D.parameters()]
        tr.run(150, progress=False)
        return sum(
            (p - b).pow(2).sum() for p, b in zip(tr.D.parameters(), before, strict=True)
        ).sqrt()

    free, held = drift(0.0), drift(1e6)
    assert held < 0.5 * free, (held, free)


def test_replay_fraction_of_d_batch_is_old():
    cfg = resolve(
        preset("ring8-ns-sgd"),
        ["remedies.replay.capacity=64", "remedies.replay.fraction=0.25", "data.batch_size=16"],
    )
    tr = build_trainer(cfg, None)
    tr.run(5, progress=False)
    rep = next(c for c in tr.callbacks if isinstance(c, ReplayRemedy))
    info = rep.buffer.last_info
    assert info.count == 4  # 0.25 · 16
    assert (torch.as_tensor(info.iterations) < tr.iteration).all()
