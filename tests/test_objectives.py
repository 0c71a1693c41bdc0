"""Objectives against closed forms: a linear D has a known penalty, a quadratic a known norm."""

import pytest
import torch
import torch.nn.functional as F

from ganforget.errors import ConfigError
from ganforget.objectives import Objective, per_sample_grad_norm


class Linear:
    """D(x) = w·x + b over the flattened data dims; works for plain and ensemble batches."""

    def __init__(self, w: torch.Tensor, b: float, lead: int):
        self.w, self.b, self.lead = w.reshape(-1), b, lead

    def __call__(self, x):
        return x.reshape(*x.shape[: self.lead], -1) @ self.w + self.b


SHAPES = [(3,), (2, 4, 4)]  # vector-shaped and image-shaped inputs


def _setup(shape, lead_shape):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(shape, generator=g)
    real = torch.randn(*lead_shape, *shape, generator=g)
    fake = torch.randn(*lead_shape, *shape, generator=g)
    return w, real, fake


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss", ["ns", "wgan"])
@pytest.mark.parametrize("penalty", [None, "r1", "0gp", "1gp"])
def test_linear_d_closed_forms(shape, loss, penalty):
    w, real, fake = _setup(shape, (16,))
    D = Linear(w, 0.3, lead=1)
    lam, gamma = 2.5, 3.0
    obj = Objective(loss, penalty, lam if penalty else 0.0, gamma)
    dr, df = real.reshape(16, -1) @ w.reshape(-1) + 0.3, fake.reshape(16, -1) @ w.reshape(-1) + 0.3
    if loss == "ns":
        base = gamma * F.softplus(-dr).mean() + F.softplus(df).mean()
        g_expected = F.softplus(-df).mean()
    else:
        base = -gamma * dr.mean() + df.mean()
        g_expected = -df.mean()
    wn = w.norm().item()
    pen = {None: 0.0, "r1": lam * wn**2, "0gp": lam * wn**2, "1gp": lam * (wn - 1) ** 2}[penalty]
    got = obj.d_loss(D, real, fake, generator=torch.Generator().manual_seed(1))
    assert got.item() == pytest.approx(base.item() + pen, rel=1e-5)
    assert obj.g_loss(D, fake).item() == pytest.approx(g_expected.item(), rel=1e-6)


def test_real_weight_scales_only_real_term():
    w, real, fake = _setup((3,), (32,))
    D = Linear(w, 0.0, lead=1)
    one = Objective("ns", "0gp", 1.0, 1.0).d_losses(D, real, fake, generator=torch.Generator())
    ten = Objective("ns", "0gp", 1.0, 10.0).d_losses(D, real, fake, generator=torch.Generator())
    assert ten["real"].item() == pytest.approx(10 * one["real"].item(), rel=1e-6)
    assert ten["fake"].item() == pytest.approx(one["fake"].item(), rel=1e-6)
    assert ten["penalty"].item() == pytest.approx(one["penalty"].item(), rel=1e-6)
    # G's loss never changes with γ.
    assert Objective("ns", real_weight=10.0).g_loss(D, fake) == Objective("ns").g_loss(D, fake)


def test_quadratic_d_per_sample_gradient_norm():
    c = torch.tensor([0.5, -1.0, 2.0])
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(3))

    def D(x):
        return -((x - c) ** 2).sum(-1)

    _, norms = per_sample_grad_norm(D, x)
    assert torch.allclose(norms, 2 * (x - c).norm(dim=-1), rtol=1e-6)


def test_penalty_uses_one_alpha_per_sample():
    # For D(x) = -‖x‖², ‖∇D(u)‖² = 4‖u‖²; with real = 1 and fake = 0 (per coordinate),
    # u = α·1, so the 0GP term is 4·d·E[α²]. One α per sample gives a spread of u values.
    d = 4
    real, fake = torch.ones(256, d), torch.zeros(256, d)
    seen = []

    def D(x):
        seen.append(x.detach().clone())
        return -(x**2).sum(-1)

    obj = Objective("wgan", "0gp", 1.0)
    pen = obj.d_losses(D, real, fake, generator=torch.Generator().manual_seed(0))["penalty"]
    mixed = seen[-1]
    alphas = mixed[:, 0]
    assert torch.allclose(mixed, alphas[:, None].expand(-1, d))  # same α within a sample
    assert alphas.std() > 0.2  # different α across samples
    assert pen.item() == pytest.approx((4 * d * alphas.pow(2)).mean().item(), rel=1e-5)


def test_ensemble_losses_are_per_member_and_summed():
    g = torch.Generator().manual_seed(0)
    ws = torch.randn(3, 5, generator=g)
    real, fake = torch.randn(3, 8, 5, generator=g), torch.randn(3, 8, 5, generator=g)

    def D(x):  # member i uses w_i
        return torch.einsum("sbd,sd->sb", x, ws)

    obj = Objective("ns", "r1", 2.0)
    per = obj.d_losses(D, real, fake)["loss"]
    assert per.shape == (3,)
    for i in range(3):
        single = obj.d_loss(lambda x, i=i: x @ ws[i], real[i], fake[i])
        assert per[i].item() == pytest.approx(single.item(), rel=1e-6)
        assert obj.d_losses(D, real, fake)["penalty"][i].item() == pytest.approx(
            2.0 * ws[i].norm().item() ** 2, rel=1e-5
        )
    assert obj.d_loss(D, real, fake).item() == pytest.approx(per.sum().item(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"loss": "hinge"}, {"penalty": "r2"}, {"weight": -1.0}, {"real_weight": 0.0}]
)
def test_bad_objective_is_one_line_error(kwargs):
    with pytest.raises(ConfigError) as e:
        Objective(**kwargs)
    assert "\n" not in str(e.value)


def test_describe_names_table_rows():
    assert Objective("wgan", "1gp", 10.0).describe() == "WGAN-GP (λ=10)"
    assert Objective("ns", "0gp", 100.0, 10.0).describe() == "GAN-0GP (λ=100, γ=10)"
    assert Objective().describe() == "GAN-NS"
