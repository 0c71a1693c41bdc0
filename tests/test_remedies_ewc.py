"""Tests of online EWC and the Fisher accumulator (ganforget.remedies.ewc)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforget.errors import CheckpointError, ConfigError
from ganforget.remedies.ewc import FisherAccumulator, OnlineEWC


def _params(seed: int = 0) -> list[nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [
        nn.Parameter(torch.randn(4, 3, generator=g)),
        nn.Parameter(torch.randn(5, generator=g)),
    ]


def _fishers(seed: int, like: list[torch.Tensor]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(p.shape, generator=g) for p in like]


# --- OnlineEWC --------------------------------------------------------------------------------
def test_penalty_gradient_matches_closed_form():
    params = _params()
    ewc = OnlineEWC(params, weight=3.5, alpha=0.7)
    ewc.consolidate(_fishers(1, params))
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    pen = ewc.penalty()
    pen.backward()
    for p, omega, anchor in zip(params, ewc.importance, ewc.anchor, strict=True):
        expected = 2 * 3.5 * omega * (p.detach() - anchor)
        assert p.grad is not None and p.grad.abs().sum() > 0
        torch.testing.assert_close(p.grad, expected)
    value = 3.5 * sum(
        (o * (p.detach() - a) ** 2).sum()
        for p, o, a in zip(params, ewc.importance, ewc.anchor, strict=True)
    )
    torch.testing.assert_close(pen.detach(), value)


def test_importance_follows_recursion_over_three_consolidations():
    params = _params()
    alpha = 0.3
    ewc = OnlineEWC(params, weight=1.0, alpha=alpha)
    fishers = [_fishers(s, params) for s in (10, 11, 12)]
    expected = [torch.zeros_like(p) for p in params]
    for t, fisher in enumerate(fishers, start=1):
        with torch.no_grad():
            params[0].add_(1.0)  # a new θ for each task
        ewc.consolidate(fisher)
        expected = [alpha * f + (1 - alpha) * e for f, e in zip(fisher, expected, strict=True)]
        assert ewc.consolidations == t
        for got, want in zip(ewc.importance, expected, strict=True):
            torch.testing.assert_close(got, want)
        for anchor, p in zip(ewc.anchor, params, strict=True):
            torch.testing.assert_close(anchor, p.detach())
    # closed form after 3 tasks: α f3 + α(1-α) f2 + α(1-α)² f1
    f1, f2, f3 = (f[1] for f in fishers)
    closed = alpha * f3 + alpha * (1 - alpha) * f2 + alpha * (1 - alpha) ** 2 * f1
    torch.testing.assert_close(ewc.importance[1], closed)


def test_penalty_zero_before_and_right_after_consolidate_and_anchor_is_a_copy():
    params = _params()
    ewc = OnlineEWC(params, weight=10.0, alpha=0.5)
    pen = ewc.penalty()
    assert pen.item() == 0.0
    pen.backward()  # works before the first consolidation
    (pen + (params[0] ** 2).sum()).backward()
    ewc.consolidate(_fishers(3, params))
    assert ewc.penalty().item() == 0.0
    with torch.no_grad():
        params[1].add_(0.5)
    assert ewc.anchor[1].ne(params[1]).all()  # θ* did not follow the live parameter
    assert ewc.penalty().item() > 0.0


def test_ewc_converges_to_closed_form_optimum_of_quadratic_task():
    """SGD on ½‖θ - c‖² + λΣω(θ-θ*)² must reach θ = (c + 2λωθ*) / (1 + 2λω)."""
    params = _params()
    lam = 2.0
    ewc = OnlineEWC(params, weight=lam, alpha=1.0)
    fisher = _fishers(4, params)
    ewc.consolidate(fisher)
    targets = [torch.randn(p.shape, generator=torch.Generator().manual_seed(5)) for p in params]
    opt = torch.optim.SGD(params, lr=0.3)  # contraction |1 - lr(1 + 2λω)| <= 0.7 per step
    for _ in range(80):
        opt.zero_grad()
        loss = sum(0.5 * ((p - c) ** 2).sum() for p, c in zip(params, targets, strict=True))
        (loss + ewc.penalty()).backward()
        opt.step()
    for p, c, w, a in zip(params, targets, fisher, ewc.anchor, strict=True):
        optimum = (c + 2 * lam * w * a) / (1 + 2 * lam * w)
        torch.testing.assert_close(p.detach(), optimum, atol=1e-4, rtol=1e-4)


def _train_mlp(weight: float) -> float:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x_old = torch.randn(64, 2, generator=g)
    y_old = x_old.sum(1, keepdim=True)
    x_new = torch.randn(64, 2, generator=g)
    y_new = -3 * x_new[:, :1] + 1
    ewc = OnlineEWC(net.parameters(), weight=weight, alpha=1.0)
    acc = FisherAccumulator(net.parameters())
    for _ in range(5):  # the old task's Fisher, at the current θ
        net.zero_grad()
        nn.functional.mse_loss(net(x_old), y_old).backward()
        acc.accumulate()
    # ω in [1, 2], so every parameter is anchored (this test checks that the penalty acts)
    # and lr·2λω <= 1.6 keeps plain SGD stable at the largest weight used
    peak = max(f.max() for f in acc.fisher())
    ewc.consolidate([1.0 + f / peak for f in acc.fisher()])
    start = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=2e-2)
    for _ in range(100):
        opt.zero_grad()
        (nn.functional.mse_loss(net(x_new), y_new) + ewc.penalty()).backward()
        opt.step()
    return max(
        (p.detach() - s).abs().max().item() for p, s in zip(net.parameters(), start, strict=True)
    )


def test_huge_weight_keeps_parameters_at_anchor_while_zero_weight_moves():
    moved_free = _train_mlp(0.0)
    # λ = 20 is about the largest plain SGD survives at this lr (lr·2λω <= 1.6). Held
    # parameters sit at the equilibrium offset |∇L_new| / (2λω) from θ*, about 0.045;
    # free ones move about 1.
    moved_held = _train_mlp(20.0)
    assert moved_free > 0.5
    assert moved_held < 0.1 * moved_free


def test_ensemble_stacked_parameter_equals_separate_members():
    S = 3
    g = torch.Generator().manual_seed(7)
    W = nn.Parameter(torch.randn(S, 4, 3, generator=g))
    b = nn.Parameter(torch.randn(S, 4, generator=g))
    x = torch.randn(S, 6, 3, generator=g)
    members = [
        (nn.Parameter(W.detach()[i].clone()), nn.Parameter(b.detach()[i].clone())) for i in range(S)
    ]

    def loss_of(w, bias, xi):  # one member's loss
        return torch.tanh(xi @ w.T + bias).pow(2).mean()

    # Fisher: the ensemble loss is the SUM of member losses
    acc = FisherAccumulator([W, b])
    accs = [FisherAccumulator(m) for m in members]
    for step in range(3):
        xs = x + step
        W.grad = b.grad = None
        sum(loss_of(W[i], b[i], xs[i]) for i in range(S)).backward()
        acc.accumulate()
        for i, (wi, bi) in enumerate(members):
            wi.grad = bi.grad = None
            loss_of(wi, bi, xs[i]).backward()
            accs[i].accumulate()
    ewc = OnlineEWC([W, b], weight=2.0, alpha=0.6)
    ewcs = [OnlineEWC(m, weight=2.0, alpha=0.6) for m in members]
    ewc.consolidate_from(acc)
    for e, a in zip(ewcs, accs, strict=True):
        e.consolidate_from(a)
    assert acc.count == 0
    shift = torch.randn(S, 4, 3, generator=g)
    with torch.no_grad():
        W.add_(shift)
        for i, (wi, _) in enumerate(members):
            wi.add_(shift[i])
    W.grad = b.grad = None
    pen = ewc.penalty()
    pen.backward()
    per_member = ewc.member_penalties()
    for i, (wi, bi) in enumerate(members):
        wi.grad = bi.grad = None
        pen_i = ewcs[i].penalty()
        pen_i.backward()
        torch.testing.assert_close(ewc.importance[0][i], ewcs[i].importance[0])
        torch.testing.assert_close(ewc.importance[1][i], ewcs[i].importance[1])
        torch.testing.assert_close(ewc.anchor[0][i], ewcs[i].anchor[0])
        torch.testing.assert_close(W.grad[i], wi.grad)
        torch.testing.assert_close(b.grad[i], bi.grad)
        torch.testing.assert_close(per_member[i], pen_i.detach())
    torch.testing.assert_close(per_member.sum(), pen.detach())
    assert W.grad.abs().sum() > 0


def test_ewc_state_dict_round_trip():
    params = _params()
    ewc = OnlineEWC(params, weight=1.5, alpha=0.4)
    ewc.consolidate(_fishers(1, params))
    with torch.no_grad():
        params[0].mul_(2)
    ewc.consolidate(_fishers(2, params))
    state = ewc.state_dict()
    with torch.no_grad():
        params[1].add_(1.0)
    other = OnlineEWC(params, weight=1.5, alpha=0.4)
    other.load_state_dict(state)
    assert other.consolidations == 2
    torch.testing.assert_close(other.penalty(), ewc.penalty())
    fisher = _fishers(3, params)
    ewc.consolidate(fisher)
    other.consolidate(fisher)
    for a, b in zip(ewc.importance, other.importance, strict=True):
        torch.testing.assert_close(a, b)
    state["importance"][0].fill_(99.0)  # the state is a copy
    assert ewc.importance[0].ne(99.0).all()
    bad = OnlineEWC(_params()[:1], weight=1.0, alpha=0.5)
    with pytest.raises(CheckpointError):
        bad.load_state_dict(state)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight": -1.0, "alpha": 0.5}, "weight"),
        ({"weight": float("nan"), "alpha": 0.5}, "weight"),
        ({"weight": 1.0, "alpha": 0.0}, "alpha"),
        ({"weight": 1.0, "alpha": 1.5}, "alpha"),
    ],
)
def test_ewc_bad_arguments_give_one_line_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        OnlineEWC(_params(), **kwargs)
    assert "\n" not in str(err.value)


def test_consolidate_rejects_misshaped_fisher():
    params = _params()
    ewc = OnlineEWC(params, weight=1.0, alpha=0.5)
    with pytest.raises(ValueError):
        ewc.consolidate([torch.ones(3, 4), torch.ones(5)])
    with pytest.raises(ValueError):
        ewc.consolidate([torch.ones(4, 3)])


# --- FisherAccumulator ------------------------------------------------------------------------
def _model_and_data(seed: int = 0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randn(5, 3, generator=g) for _ in range(3)]
    return net, batches


def _d_like_loss(logits: torch.Tensor) -> torch.Tensor:
    return nn.functional.softplus(-logits).mean()


def test_fisher_batch_mode_is_mean_of_squared_batch_gradients():
    net, batches = _model_and_data()
    acc = FisherAccumulator(net.parameters())
    squares = []
    for x in batches:
        net.zero_grad()
        loss = _d_like_loss(net(x).squeeze(-1))
        grads = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True)
        squares.append([g**2 for g in grads])
        loss.backward()
        acc.accumulate()
    assert acc.count == 3
    for i, f in enumerate(acc.fisher()):
        torch.testing.assert_close(f, sum(s[i] for s in squares) / 3)
    acc.reset()
    assert acc.count == 0
    with pytest.raises(ValueError):
        acc.fisher()
    # explicit gradients, with a missing one counted as zero
    ones = [torch.ones_like(p) for p in net.parameters()]
    acc.accumulate([None, *ones[1:]])
    fisher = acc.fisher()
    assert fisher[0].eq(0).all() and fisher[1].eq(1).all()


def _functional_loss(net: nn.Module):
    names = [n for n, _ in net.named_parameters()]

    def loss_fn(params, x):
        out = torch.func.functional_call(net, dict(zip(names, params, strict=True)), (x,))
        return _d_like_loss(out.squeeze(-1))

    return loss_fn


@pytest.mark.parametrize("vectorize", [False, True])
def test_fisher_sample_mode_equals_loop_over_samples(vectorize):
    net, batches = _model_and_data(1)
    acc = FisherAccumulator(net.parameters(), mode="sample")
    params = list(net.parameters())
    total = [torch.zeros_like(p) for p in params]
    n = 0
    for x in batches:
        acc.accumulate_per_sample(_functional_loss(net), x, vectorize=vectorize)
        for j in range(x.shape[0]):
            loss = _d_like_loss(net(x[j : j + 1]).squeeze(-1))
            for t, g in zip(total, torch.autograd.grad(loss, params), strict=True):
                t += g**2
            n += 1
    assert acc.count == n == 15
    for f, t in zip(acc.fisher(), total, strict=True):
        torch.testing.assert_close(f, t / n)
    # and it differs from the batch-mode Fisher (the test can tell the two apart)
    batch_acc = FisherAccumulator(net.parameters())
    for x in batches:
        net.zero_grad()
        _d_like_loss(net(x).squeeze(-1)).backward()
        batch_acc.accumulate()
    assert not torch.allclose(batch_acc.fisher()[0], acc.fisher()[0])


def test_fisher_sample_mode_on_ensemble_and_tuple_batch():
    S, B = 2, 4
    g = torch.Generator().manual_seed(3)
    W = nn.Parameter(torch.randn(S, 3, generator=g))
    real = torch.randn(S, B, 3, generator=g)
    fake = torch.randn(S, B, 3, generator=g)

    def member_loss(w, r, f):
        return nn.functional.softplus(-(r @ w)).mean() + nn.functional.softplus(f @ w).mean()

    def loss_fn(params, batch):
        (w,) = params
        r, f = batch
        return sum(member_loss(w[i], r[i], f[i]) for i in range(S))

    for vectorize in (False, True):
        acc = FisherAccumulator([W], mode="sample")
        acc.accumulate_per_sample(loss_fn, (real, fake), sample_dim=1, vectorize=vectorize)
        assert acc.count == B
        for i in range(S):
            wi = W.detach()[i].clone().requires_grad_(True)
            want = sum(
                torch.autograd.grad(member_loss(wi, real[i, j : j + 1], fake[i, j : j + 1]), wi)[0]
                ** 2
                for j in range(B)
            )
            torch.testing.assert_close(acc.fisher()[0][i], want / B)


def test_fisher_mode_mismatch_and_bad_mode():
    net, batches = _model_and_data()
    with pytest.raises(ConfigError, match="fisher_mode"):
        FisherAccumulator(net.parameters(), mode="exact")
    with pytest.raises(ConfigError, match="mode='sample'"):
        FisherAccumulator(net.parameters()).accumulate_per_sample(_functional_loss(net), batches[0])
    with pytest.raises(ConfigError, match="mode='batch'"):
        FisherAccumulator(net.parameters(), mode="sample").accumulate()


def test_fisher_state_dict_round_trip_resumes_mid_chunk():
    net, batches = _model_and_data(2)
    acc = FisherAccumulator(net.parameters())
    for x in batches[:2]:
        net.zero_grad()
        _d_like_loss(net(x).squeeze(-1)).backward()
        acc.accumulate()
    resumed = FisherAccumulator(net.parameters())
    resumed.load_state_dict(acc.state_dict())
    net.zero_grad()
    _d_like_loss(net(batches[2]).squeeze(-1)).backward()
    acc.accumulate()
    resumed.accumulate()
    assert resumed.count == acc.count == 3
    for a, b in zip(acc.fisher(), resumed.fisher(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(CheckpointError, match="fisher_mode"):
        FisherAccumulator(net.parameters(), mode="sample").load_state_dict(acc.state_dict())
