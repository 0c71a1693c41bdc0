"""Tests of the Dirac GAN lab (ganforget.dirac) against closed forms and hand-derived gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganforget.dirac import (
    ACTIVATIONS,
    DiracConfig,
    Discriminator,
    analytic_eigenvalues,
    closed_form_optimum,
    converged,
    convergence_iteration,
    has_max_at,
    initial_state,
    is_monotonic,
    jacobian_eigenvalues,
    margin,
    margin_bound,
    optimal_discriminator,
    oscillation_amplitude,
    train,
    vector_field,
)
from ganforget.errors import ConfigError

GRID = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)  # holds -4e-17, not 0


# --- Proposition 1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("theta", [0.7, -1.3])
def test_closed_form_optimum_equals_projected_optimisation(activation, theta):
    opt = optimal_discriminator(theta, 2, activation, steps=200)
    bound = margin_bound(theta, opt.disc)
    # both attain the proof's maximal margin n (σ(|θ|) - σ(0))
    assert opt.margin_closed_form == pytest.approx(bound, abs=1e-9)
    assert opt.margin_optimised == pytest.approx(bound, abs=1e-6)
    # same function up to a constant (sigmoid/tanh optima are not unique in Ψ, but D - D(0) is)
    f_c, f_o = opt.closed_form_fn(), opt.optimised_fn()
    zero = torch.zeros(1, dtype=torch.float64)
    torch.testing.assert_close(f_c(GRID) - f_c(zero), f_o(GRID) - f_o(zero), atol=1e-5, rtol=0)
    if activation in ("relu", "leaky_relu"):  # here the optimum is unique in Ψ
        for k in ("psi0", "psi1"):
            torch.testing.assert_close(opt.optimised[k], opt.closed_form[k], atol=1e-6, rtol=0)
    assert is_monotonic(f_o, GRID) and is_monotonic(f_c, GRID)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_no_feasible_discriminator_beats_the_bound(activation):
    disc = Discriminator("mlp", 3, activation)
    g = torch.Generator().manual_seed(1)
    theta = 0.9
    params = {
        k: 2 * torch.rand(20000, 3, generator=g, dtype=torch.float64) - 1 for k in ("psi0", "psi1")
    }
    corners = {k: torch.sign(v) for k, v in params.items()}
    best = max(margin(disc, params, theta).max(), margin(disc, corners, theta).max())
    bound = margin_bound(theta, disc)
    assert float(best) <= bound + 1e-12
    assert float(margin(disc, closed_form_optimum(theta, disc), theta)[0]) == pytest.approx(bound)


def test_margin_bound_matches_hand_values():
    assert margin_bound(0.5, Discriminator("mlp", 2, "relu")) == pytest.approx(1.0)
    assert margin_bound(-0.5, Discriminator("mlp", 2, "leaky_relu")) == pytest.approx(1.0)
    assert margin_bound(1.0, Discriminator("mlp", 1, "tanh")) == pytest.approx(0.7615941559557649)
    assert margin_bound(1.0, Discriminator("mlp", 1, "sigmoid")) == pytest.approx(
        0.2310585786300049
    )


# --- metrics -----------------------------------------------------------------------------------


def test_is_monotonic_rejects_interior_maximum_and_accepts_monotone():
    assert not is_monotonic(lambda x: -(x**2), GRID)
    assert not is_monotonic(lambda x: -(x - 1.0).abs(), GRID)
    assert not is_monotonic(lambda x: x**2, GRID)  # interior minimum
    assert is_monotonic(lambda x: x**3, GRID)
    assert is_monotonic(lambda x: -torch.tanh(x), GRID)
    assert is_monotonic(lambda x: torch.relu(x), GRID)  # flat stretch allowed


def test_has_max_at_real_point():
    assert has_max_at(lambda x: -0.8 * x.abs(), GRID)
    assert has_max_at(lambda x: -(x**2), torch.linspace(-2, 2, 400, dtype=torch.float64))
    assert not has_max_at(lambda x: -x, GRID)  # monotone
    assert not has_max_at(lambda x: 0 * x, GRID)  # flat: not a strict maximum
    assert not has_max_at(lambda x: -((x - 0.5) ** 2), GRID)  # maximum elsewhere
    assert not has_max_at(lambda x: -x.abs() + 4 * torch.relu(x - 2), GRID)  # higher far right


def test_trajectory_metrics_on_hand_made_trajectory():
    t = torch.arange(11, dtype=torch.float64)
    theta = torch.stack([0.5**t, torch.where(t % 2 == 0, 1.0, -1.0).double()], 1)  # [11, 2]
    assert convergence_iteration(theta, 0.1).tolist() == [4, -1]
    assert converged(theta, 0.1, 0.2).tolist() == [True, False]
    amp = oscillation_amplitude(theta, 0.5)
    assert amp[1] == pytest.approx(1.0)
    assert amp[0] == pytest.approx((0.5**5 - 0.5**10) / 2)


# --- the game and its training -----------------------------------------------------------------


def test_one_training_step_matches_hand_gradients():
    """Dirac loss, mlp leaky-ReLU D, one old fake: D step then G step by hand."""
    s = 0.2
    disc = Discriminator("mlp", 2, "leaky_relu", s)
    cfg = DiracConfig(disc=disc, lr=0.1, iterations=12, memory="lag", memory_size=10)
    theta0, p0 = initial_state(cfg, [3])
    run = train(cfg, [3])
    lr = 0.1

    def lrelu_grad(z):
        return torch.where(z > 0, 1.0, s).double()

    a, b, th = p0["psi0"][0].clone(), p0["psi1"][0].clone(), theta0.clone()
    hist = [float(th[0])]
    for t in range(12):
        fakes = torch.tensor([hist[t]] + ([hist[t - 10]] if t >= 10 else []), dtype=torch.float64)
        z = a[:, None] * fakes[None, :]  # [n, K]
        ga = (b[:, None] * fakes[None, :] * lrelu_grad(z)).mean(1)
        gb = F.leaky_relu(z, s).mean(1)
        a, b = (a - lr * ga).clamp(-1, 1), (b - lr * gb).clamp(-1, 1)
        x = hist[t]
        d_prime = (b * a * lrelu_grad(a * x)).sum()
        hist.append(x + lr * float(d_prime))  # G ascends D(θ)
    torch.testing.assert_close(run.theta[:, 0], torch.tensor(hist, dtype=torch.float64))
    torch.testing.assert_close(run.params["psi0"][-1, 0], a)
    torch.testing.assert_close(run.params["psi1"][-1, 0], b)


def test_d_step_shrinks_unit_balance_by_closed_form_factor():
    """Positively homogeneous σ, no bias: (Ψ0²-Ψ1²) is multiplied by 1 - lr² c_i² per D step."""
    disc = Discriminator("mlp", 3, "leaky_relu", 0.2)
    g = torch.Generator().manual_seed(5)
    a = 0.5 * (2 * torch.rand(1, 3, generator=g, dtype=torch.float64) - 1)
    b = 0.5 * (2 * torch.rand(1, 3, generator=g, dtype=torch.float64) - 1)
    fakes = torch.tensor([[0.3, -0.7, 1.1]], dtype=torch.float64)
    lr = 0.1
    run = train(
        DiracConfig(disc=disc, lr=lr, iterations=1, memory="buffer", memory_size=2),
        [0],
        fakes[:, 0],
        {"psi0": a, "psi1": b},
    )
    # buffer is empty at t = 0, so D sees only the current fake
    z = a[0, :, None] * fakes[0, None, :1]
    c = (fakes[0, None, :1] * torch.where(z > 0, 1.0, 0.2).double()).mean(1)
    before = a[0] ** 2 - b[0] ** 2
    after = run.params["psi0"][1, 0] ** 2 - run.params["psi1"][1, 0] ** 2
    torch.testing.assert_close(after, before * (1 - lr**2 * c**2))


def test_units_facing_one_way_give_a_monotonic_d():
    disc = Discriminator("mlp", 4, "leaky_relu", 0.2)
    g = torch.Generator().manual_seed(2)
    for _ in range(20):
        a = torch.rand(1, 4, generator=g, dtype=torch.float64)  # all face +x
        b = 2 * torch.rand(1, 4, generator=g, dtype=torch.float64) - 1
        assert is_monotonic(disc.function({"psi0": a, "psi1": b}), GRID)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_odd_activations_never_peak_at_real_point(activation):
    disc = Discriminator("mlp", 4, activation)
    g = torch.Generator().manual_seed(4)
    for _ in range(20):
        p = {
            k: 2 * torch.rand(1, 4, generator=g, dtype=torch.float64) - 1 for k in ("psi0", "psi1")
        }
        assert not has_max_at(disc.function(p), GRID)


def test_seeds_are_independent_of_batch():
    cfg = DiracConfig(iterations=20)
    both = train(cfg, [4, 7])
    alone = train(cfg, [7])
    torch.testing.assert_close(both.theta[:, 1], alone.theta[:, 0])


def test_fakes_shown_to_d():
    cfg = DiracConfig(iterations=6, memory="buffer", memory_size=3)
    run = train(cfg, [0])
    torch.testing.assert_close(run.fakes_at(4)[0], run.theta[[4, 3, 2, 1], 0])
    torch.testing.assert_close(run.fakes_at(1)[0], run.theta[[1, 0], 0])
    lag = DiracConfig(iterations=6, memory="lag", memory_size=5)
    assert lag.old_fake_iterations(4) == [] and lag.old_fake_iterations(6) == [1]


def test_bad_config_is_one_line_error():
    with pytest.raises(ConfigError, match="activation"):
        Discriminator("mlp", 2, "swish")
    with pytest.raises(ConfigError, match="memory_size"):
        DiracConfig(memory="lag")
    with pytest.raises(ConfigError, match="kind"):
        Discriminator("conv")


# --- NS form + R1: Jacobian at the equilibrium -------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("loss", ["ns", "dirac"])
def test_jacobian_eigenvalues_match_analytic(gamma, loss):
    num = jacobian_eigenvalues(gamma, loss)
    ana = analytic_eigenvalues(gamma, loss)
    torch.testing.assert_close(num, ana, atol=1e-6, rtol=0)


def test_analytic_eigenvalues_hand_values():
    # γ = 0: ±i/2 (f'(0) = 1/2); γ = 1: -1/2 twice
    torch.testing.assert_close(
        analytic_eigenvalues(0.0), torch.tensor([-0.5j, 0.5j], dtype=torch.complex128)
    )
    torch.testing.assert_close(
        analytic_eigenvalues(1.0), torch.tensor([-0.5, -0.5], dtype=torch.complex128)
    )


def test_vector_field_matches_hand_formula():
    # v = (ψ f'(-ψθ), -θ f'(-ψθ) - γψ) with f'(t) = sigmoid(-t)
    theta, psi, gamma = 0.7, -0.4, 0.9
    v = vector_field(torch.tensor([theta, psi], dtype=torch.float64), "ns", gamma)
    fp = torch.sigmoid(torch.tensor(psi * theta, dtype=torch.float64))
    torch.testing.assert_close(v, torch.stack([psi * fp, -theta * fp - gamma * psi]))


def test_r1_makes_ns_dirac_gan_converge_and_without_it_not():
    lin = Discriminator("linear")
    ends = {}
    for gamma in (0.0, 1.0):
        cfg = DiracConfig(disc=lin, loss="ns", gamma=gamma, lr=0.1, iterations=400)
        run = train(cfg, [0], torch.tensor([1.0]), {"psi": torch.tensor([0.0])})
        ends[gamma] = run.theta[-50:].abs().max().item()
    assert ends[1.0] < 1e-4
    assert ends[0.0] > 0.5


# --- Fig. 8's dynamics on a fixed seed ---------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="finding: with the paper's D̂ (no bias, leaky ReLU, Ψ clipped to [-1,1]) the old fake "
    "does not change convergence; over seeds 0-199, no seed converges with the old fake but "
    "not without it (which side each unit faces is frozen by the balance Ψ0²-Ψ1²)",
)
def test_old_fake_run_converges_and_current_only_does_not():
    from ganforget.experiments.fig8 import TOL, config

    current = train(config(300), [0])
    old = train(config(300, "lag", 10), [0])
    assert bool(converged(old.theta, TOL)[0])
    assert not bool(converged(current.theta, TOL)[0])


def test_units_facing_both_ways_converge_with_a_peak_at_real_point():
    """The mechanism's positive side: start D with one unit per side, Ψ1 < 0."""
    from ganforget.experiments.fig8 import TOL, config

    cfg = config(300, "lag", 10)
    th0, p0 = initial_state(cfg, [0, 1, 2])
    a = p0["psi0"].abs()
    params = {"psi0": torch.stack([a[:, 0], -a[:, 1]], 1), "psi1": -p0["psi1"].abs()}
    run = train(cfg, [0, 1, 2], th0, params)
    assert converged(run.theta, TOL).all()
    assert all(has_max_at(run.d_function(300, i), GRID) for i in range(3))
