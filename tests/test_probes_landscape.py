import numpy as np
import pytest
import torch
from torch import nn

from ganforget.errors import GanforgetError
from ganforget.objectives import Objective
from ganforget.probes.landscape import (
    default_ks,
    landscape,
    landscape_record,
    logits_in_batches,
    random_directions,
)


def mlp(seed: int = 0, d: int = 6) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, 1)).double()


def test_random_directions_are_unit_and_isotropic():
    gen = torch.Generator().manual_seed(0)
    u = random_directions(7, (3, 4, 4), generator=gen)
    assert u.shape == (7, 3, 4, 4)
    torch.testing.assert_close(u.reshape(7, -1).norm(dim=1), torch.ones(7))
    again = random_directions(7, (3, 4, 4), generator=torch.Generator().manual_seed(0))
    assert torch.equal(u, again)
    # isotropy: E[u u^T] = I/d on the unit sphere of R^d, and E[u] = 0
    v = random_directions(40000, 3, generator=gen, dtype=torch.float64)
    cov = v.T @ v / v.shape[0]
    torch.testing.assert_close(cov, torch.eye(3, dtype=torch.float64) / 3, atol=0.01, rtol=0)
    assert v.mean(0).abs().max() < 0.01


def test_default_ks():
    ks = default_ks()
    assert ks.shape == (201,) and ks[0] == -100 and ks[-1] == 100 and (ks == 0).sum() == 1
    assert torch.all(ks[1:] - ks[:-1] == 1)


def explicit_loop(D, anchors, dirs_per_anchor, ks):
    out = torch.empty(anchors.shape[0], dirs_per_anchor.shape[1], ks.numel(), dtype=anchors.dtype)
    with torch.no_grad():
        for n in range(anchors.shape[0]):
            for m in range(dirs_per_anchor.shape[1]):
                for j, k in enumerate(ks):
                    x = anchors[n] + k * dirs_per_anchor[n, m]
                    out[n, m, j] = D(x.unsqueeze(0)).reshape(())
    return out


@pytest.mark.parametrize("per_anchor", [False, True])
def test_batched_equals_explicit_loop(per_anchor):
    gen = torch.Generator().manual_seed(1)
    D = mlp(d=6).eval()
    anchors = torch.randn(3, 2, 3, generator=gen, dtype=torch.float64)
    shape = (3, 4, 2, 3) if per_anchor else (4, 2, 3)
    dirs = torch.randn(*shape, generator=gen, dtype=torch.float64)
    ks = torch.linspace(-2, 2, 9, dtype=torch.float64)
    per = dirs if per_anchor else dirs.unsqueeze(0).expand(3, *dirs.shape)
    expected = explicit_loop(D, anchors, per, ks)
    results = [landscape(D, anchors, dirs, ks, batch_size=b) for b in (1, 5, 17, 4096)]
    for r in results:
        assert r.shape == (3, 4, 9)
        torch.testing.assert_close(r, expected, rtol=1e-12, atol=1e-12)
    # all points along a direction are distinct: the curves are not constant
    assert expected.std(dim=-1).min() > 0


def test_score_is_applied():
    D = mlp(d=2).eval()
    anchors = torch.randn(2, 2, dtype=torch.float64)
    dirs = random_directions(3, 2, dtype=torch.float64)
    ks = torch.linspace(-1, 1, 5)
    logits = landscape(D, anchors, dirs, ks)
    torch.testing.assert_close(
        landscape(D, anchors, dirs, ks, score=torch.sigmoid), torch.sigmoid(logits)
    )
    # ks are converted to the anchors' dtype
    assert logits.dtype == torch.float64


def bn_net() -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    for _ in range(3):  # non-trivial running statistics
        net(torch.randn(32, 2) * 3 + 1)
    return net


def test_batchnorm_stats_and_training_flag_unchanged():
    D = bn_net()
    D[3].eval()  # mixed modes must come back exactly as they were
    before = {k: v.clone() for k, v in D.state_dict().items()}
    flags = [m.training for m in D.modules()]
    anchors = torch.randn(4, 2)
    dirs = random_directions(3, 2)
    f = landscape(D, anchors, dirs, torch.linspace(-5, 5, 11), batch_size=7)
    after = D.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert [m.training for m in D.modules()] == flags
    assert D.training and D[1].training and not D[3].training
    # the probe used the running statistics (eval mode), not the batch statistics
    D.eval()
    with torch.no_grad():
        x = anchors[0] + 5.0 * dirs[1]
        torch.testing.assert_close(f[0, 1, -1], D(x.unsqueeze(0)).reshape(()))
    # no gradients were accumulated
    assert all(p.grad is None for p in D.parameters())


def test_landscape_record_scores():
    D = mlp(d=2).eval()
    anchors = torch.randn(2, 2, dtype=torch.float64)
    dirs = random_directions(2, 2, dtype=torch.float64)
    ks = torch.linspace(-3, 3, 7, dtype=torch.float64)
    ns = landscape_record(D, anchors, dirs, ks, Objective("ns"))
    wg = landscape_record(D, anchors, dirs, ks, Objective("wgan"))
    assert isinstance(ns["logits"], np.ndarray) and ns["logits"].shape == (2, 2, 7)
    np.testing.assert_allclose(ns["scores"], 1 / (1 + np.exp(-ns["logits"])), rtol=1e-12)
    np.testing.assert_array_equal(wg["scores"], wg["logits"])
    np.testing.assert_array_equal(ns["ks"], ks.numpy())


def test_logits_in_batches_accepts_column_output():
    D = mlp(d=2).eval()
    x = torch.randn(10, 2, dtype=torch.float64)
    with torch.no_grad():
        expected = D(x).reshape(-1)
    torch.testing.assert_close(logits_in_batches(D, x, batch_size=3), expected)


@pytest.mark.parametrize(
    "anchors, dirs, ks",
    [
        (torch.zeros(2, 3), torch.zeros(4, 2), torch.zeros(3)),  # wrong data shape
        (torch.zeros(2, 3), torch.zeros(5, 4, 3), torch.zeros(3)),  # 5 sets for 2 anchors
        (torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(3, 1)),  # ks not 1-D
        (torch.zeros(3), torch.zeros(4, 3), torch.zeros(3)),  # anchors without batch dim
    ],
)
def test_bad_shapes_raise(anchors, dirs, ks):
    with pytest.raises(GanforgetError):
        landscape(lambda x: x.sum(-1), anchors, dirs, ks)


def test_ensemble_shaped_output_raises():
    with pytest.raises(GanforgetError, match="one logit per sample"):
        landscape(lambda x: x, torch.zeros(2, 3), torch.ones(1, 3), torch.zeros(2))
