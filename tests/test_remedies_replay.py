"""Tests of the replay buffer of old fakes (ganforget.remedies.replay)."""

from __future__ import annotations

import math

import pytest
import torch

from ganforget.errors import CheckpointError, ConfigError
from ganforget.remedies.replay import ReplayBuffer, replay_count


def _labelled(iteration: int, batch: int, lead: tuple[int, ...] = ()) -> torch.Tensor:
    """Fakes whose column 0 is the iteration and column 1 the sample index: [*lead, B, 2]."""
    x = torch.empty(*lead, batch, 2)
    x[..., 0] = iteration
    x[..., 1] = torch.arange(batch, dtype=torch.float32)
    return x


# (B, ρ) -> k under round half up; the .5 cases tell it from floor, ceil and banker's rounding
EXPECTED_COUNTS = {
    (1, 0.0): 0, (1, 0.25): 0, (1, 0.5): 1, (1, 1.0): 1,
    (3, 0.25): 1, (3, 0.5): 2, (4, 0.25): 1, (4, 0.5): 2,
    (6, 0.25): 2, (7, 0.25): 2, (7, 0.5): 4, (10, 0.25): 3,
    (64, 0.0): 0, (64, 0.25): 16, (64, 0.5): 32, (64, 1.0): 64,
}  # fmt: skip


@pytest.mark.parametrize(("batch", "fraction"), sorted(EXPECTED_COUNTS))
def test_mix_replays_exactly_k_samples(batch, fraction):
    k = EXPECTED_COUNTS[(batch, fraction)]
    assert replay_count(batch, fraction) == k
    buf = ReplayBuffer(50, fraction=fraction, kind="fifo")
    g = torch.Generator().manual_seed(0)
    for t in range(3):
        buf.push(_labelled(t, 8), t)
    fakes = _labelled(99, batch)
    mixed, info = buf.mix(fakes, generator=g, return_info=True)
    assert mixed.shape == fakes.shape
    assert info.count == k and info.slots.shape == (k,)
    assert buf.last_info is info
    assert (mixed[:, 0] != 99).sum().item() == k  # k old samples ...
    torch.testing.assert_close(mixed[k:], fakes[k:])  # ... then the current fakes in place
    assert buf.samples is not None
    torch.testing.assert_close(mixed[:k], buf.samples[info.slots])
    torch.testing.assert_close(mixed[:k, 0], info.iterations.float())


def test_empty_buffer_and_zero_fraction_return_fakes_unchanged():
    fakes = torch.randn(5, 3)
    assert ReplayBuffer(4, fraction=0.5).mix(fakes) is fakes
    buf = ReplayBuffer(4, fraction=0.0)
    buf.push(torch.randn(5, 3), 0)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert buf.mix(fakes, generator=g) is fakes
    assert torch.equal(g.get_state(), state)  # nothing drawn


def test_current_part_keeps_autograd_and_buffer_is_detached():
    buf = ReplayBuffer(8, fraction=0.5)
    w = torch.ones((), requires_grad=True)
    buf.push(w * torch.randn(4, 2), 0)
    assert buf.samples is not None and not buf.samples.requires_grad
    fakes = w * torch.randn(4, 2)
    mixed = buf.mix(fakes)
    assert isinstance(mixed, torch.Tensor)
    (g,) = torch.autograd.grad(mixed.sum(), w)
    torch.testing.assert_close(g, fakes[2:].detach().sum())


@pytest.mark.parametrize("kind", ["fifo", "reservoir"])
def test_replayed_samples_come_from_older_generators(kind):
    buf = ReplayBuffer(16, fraction=0.5, kind=kind)
    g = torch.Generator().manual_seed(1)
    seen_old = set()
    for t in range(40):
        fakes = _labelled(t, 6)
        mixed, info = buf.mix(fakes, generator=g, return_info=True)
        if t > 0:
            assert info.count == 3
        assert (info.iterations < t).all()
        torch.testing.assert_close(mixed[: info.count, 0], info.iterations.float())
        seen_old.update(info.iterations.tolist())
        buf.push(fakes, t, generator=g)  # after D's step: the fresh fakes, never `mixed`
    assert buf.seen == 240 and buf.size == 16
    assert len(seen_old) > 5  # replay does draw from many past generators


def test_fifo_keeps_the_last_n_samples():
    buf = ReplayBuffer(7, fraction=0.5, kind="fifo")
    items = []
    for t in range(10):
        batch = torch.arange(3 * t, 3 * t + 3, dtype=torch.float32)[:, None]
        buf.push(batch, t)
        items.extend(batch[:, 0].tolist())
        assert buf.samples is not None
        stored = sorted(buf.samples[: buf.size, 0].tolist())
        assert stored == sorted(items[-7:])
    # one push larger than the buffer keeps its own last 7
    buf.push(torch.arange(100, 120, dtype=torch.float32)[:, None], 10)
    assert sorted(buf.samples[:, 0].tolist()) == list(range(113, 120))
    assert buf.iterations is not None and (buf.iterations == 10).all()


def _reservoir_contents(trials: int, capacity: int, pushes: int, batch: int) -> torch.Tensor:
    """Return how often each of pushes·batch items ends in the reservoir over the trials.

    The trials run at once as members of one ensemble buffer (each member keeps its own
    reservoir; the ensemble test shows a member behaves like a single buffer).
    """
    g = torch.Generator().manual_seed(1234)
    buf = ReplayBuffer(capacity, fraction=0.5, kind="reservoir", members=trials)
    for t in range(pushes):
        items = torch.arange(t * batch, (t + 1) * batch, dtype=torch.float32)
        buf.push(items[None, :, None].expand(trials, -1, -1), t, generator=g)
    assert buf.samples is not None
    kept = buf.samples[..., 0].long()  # [trials, capacity]
    assert (kept.sort(-1).values.diff(dim=-1) > 0).all()  # no item stored twice
    return torch.bincount(kept.flatten(), minlength=pushes * batch).float()


def test_reservoir_keeps_a_uniform_sample():
    trials, capacity, pushes, batch = 1000, 20, 20, 10
    counts = _reservoir_contents(trials, capacity, pushes, batch)
    n = pushes * batch
    p = capacity / n
    expected = trials * p
    # Each item is kept with probability p in each trial: a binomial count per item.
    chi2 = ((counts - expected) ** 2 / (trials * p * (1 - p))).sum().item()
    df = n
    assert chi2 < df + 5 * math.sqrt(2 * df), chi2  # loose bound; FIFO would give 2e5
    # old and recent items survive equally: first vs last quarter of the stream
    quarter = n // 4
    first, last = counts[:quarter].sum().item(), counts[-quarter:].sum().item()
    assert abs(first - last) < 0.05 * expected * quarter


def test_reservoir_fill_phase_and_generator_dependence():
    buf = ReplayBuffer(5, fraction=0.5, kind="reservoir")
    g = torch.Generator().manual_seed(0)
    before = g.get_state()
    buf.push(torch.arange(3, dtype=torch.float32)[:, None], 0, generator=g)
    buf.push(torch.arange(3, 5, dtype=torch.float32)[:, None], 1, generator=g)
    assert torch.equal(g.get_state(), before)  # the fill phase draws nothing
    assert buf.samples is not None and buf.iterations is not None
    assert buf.samples[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert buf.iterations.tolist() == [0, 0, 0, 1, 1]
    # the 6th sample replaces at most one slot
    buf.push(torch.full((1, 1), 5.0), 2, generator=g)
    changed = (buf.samples[:, 0] != torch.arange(5.0)).nonzero().flatten()
    assert changed.numel() <= 1 and (buf.samples[changed, 0] == 5.0).all()

    def run(seed: int) -> list[float]:
        b = ReplayBuffer(5, fraction=0.5, kind="reservoir")
        g = torch.Generator().manual_seed(seed)
        for t in range(10):
            b.push(torch.arange(4 * t, 4 * t + 4, dtype=torch.float32)[:, None], t, generator=g)
        assert b.samples is not None
        return b.samples[:, 0].tolist()

    assert run(0) == run(0)
    assert run(0) != run(1)


@pytest.mark.parametrize("kind", ["fifo", "reservoir"])
def test_ensemble_member_equals_single_run_with_its_generator(kind):
    S, B, capacity = 3, 6, 10
    data = torch.Generator().manual_seed(5)
    stream = [torch.randn(S, B, 2, generator=data) for _ in range(12)]
    ens = ReplayBuffer(capacity, fraction=0.5, kind=kind, members=S)
    ens_gens = [torch.Generator().manual_seed(100 + i) for i in range(S)]
    singles = [ReplayBuffer(capacity, fraction=0.5, kind=kind) for _ in range(S)]
    single_gens = [torch.Generator().manual_seed(100 + i) for i in range(S)]
    for t, fakes in enumerate(stream):
        mixed, info = ens.mix(fakes, generator=ens_gens, return_info=True)
        assert mixed.shape == fakes.shape
        for i in range(S):
            m_i, info_i = singles[i].mix(fakes[i], generator=[single_gens[i]], return_info=True)
            torch.testing.assert_close(mixed[i], m_i)
            assert torch.equal(info.slots[i], info_i.slots)
            assert torch.equal(info.iterations[i], info_i.iterations)
        ens.push(fakes, t, generator=ens_gens)
        for i in range(S):
            singles[i].push(fakes[i], t, generator=single_gens[i])
    assert ens.samples is not None
    for i in range(S):
        assert singles[i].samples is not None
        torch.testing.assert_close(ens.samples[i], singles[i].samples)
    # members really have different histories (the test can fail if rows were shared)
    if kind == "reservoir":
        assert not torch.equal(ens.iterations[0], ens.iterations[1])
    assert not torch.equal(mixed[0], mixed[1])


def test_ensemble_with_one_generator_draws_for_all_members():
    buf = ReplayBuffer(8, fraction=0.5, members=2)
    g = torch.Generator().manual_seed(0)
    for t in range(6):
        buf.mix(_labelled(t, 4, (2,)), generator=g)
        buf.push(_labelled(t, 4, (2,)), t, generator=g)
    _, info = buf.mix(_labelled(6, 4, (2,)), generator=g, return_info=True)
    assert info.slots.shape == (2, 2) and (info.iterations < 6).all()


@pytest.mark.parametrize("kind", ["fifo", "reservoir"])
def test_state_round_trip_gives_identical_subsequent_mixes(kind):
    def step(buf, g, t):
        fakes = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(t))
        mixed = buf.mix(fakes, generator=g)
        buf.push(fakes, t, generator=g)
        return mixed

    buf = ReplayBuffer(12, fraction=0.25, kind=kind, members=2)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    for t in range(7):
        step(buf, gens, t)
    state = buf.state_dict()
    gen_states = [g.get_state() for g in gens]
    after = [step(buf, gens, t) for t in range(7, 15)]

    resumed = ReplayBuffer(12, fraction=0.25, kind=kind, members=2)
    resumed.load_state_dict(state)
    assert resumed.seen == 35
    regs = [torch.Generator() for _ in range(2)]
    for g, s in zip(regs, gen_states, strict=True):
        g.set_state(s)
    for t, want in zip(range(7, 15), after, strict=True):
        torch.testing.assert_close(step(resumed, regs, t), want)
    torch.testing.assert_close(resumed.samples, buf.samples)
    assert torch.equal(resumed.iterations, buf.iterations)
    state["samples"].fill_(7.0)  # the state is a copy
    assert not (buf.samples == 7.0).all()


def test_load_state_rejects_other_settings():
    buf = ReplayBuffer(4, fraction=0.5, kind="fifo")
    buf.push(torch.randn(3, 2), 0)
    state = buf.state_dict()
    for other in (
        ReplayBuffer(5, fraction=0.5, kind="fifo"),
        ReplayBuffer(4, fraction=0.5, kind="reservoir"),
        ReplayBuffer(4, fraction=0.5, kind="fifo", members=2),
    ):
        with pytest.raises(CheckpointError) as err:
            other.load_state_dict(state)
        assert "\n" not in str(err.value)
    empty = ReplayBuffer(4, fraction=0.5, kind="fifo")
    empty.load_state_dict(ReplayBuffer(4, fraction=0.5, kind="fifo").state_dict())
    assert empty.size == 0 and empty.samples is None


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0,), {"fraction": 0.5}, "capacity"),
        ((-3,), {"fraction": 0.5}, "capacity"),
        ((2.5,), {"fraction": 0.5}, "capacity"),
        ((True,), {"fraction": 0.5}, "capacity"),
        ((4,), {"fraction": -0.1}, "fraction"),
        ((4,), {"fraction": 1.01}, "fraction"),
        ((4,), {"fraction": float("nan")}, "fraction"),
        ((4,), {"fraction": 0.5, "kind": "lifo"}, "kind"),
        ((4,), {"fraction": 0.5, "members": 0}, "members"),
    ],
)
def test_bad_arguments_give_one_line_config_error(args, kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        ReplayBuffer(*args, **kwargs)
    assert "\n" not in str(err.value)


def test_shape_mismatches_are_refused():
    buf = ReplayBuffer(4, fraction=0.5, members=2)
    with pytest.raises(ValueError, match="expected"):
        buf.push(torch.randn(3, 5, 2), 0)
    buf.push(torch.randn(2, 5, 2), 0)
    with pytest.raises(ValueError, match="sample shape"):
        buf.mix(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="generators"):
        buf.mix(torch.randn(2, 5, 2), generator=[torch.Generator()])
