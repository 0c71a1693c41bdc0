import math

import numpy as np
import pytest
import torch
from torch import nn

from ganforget.errors import GanforgetError
from ganforget.objectives import Objective
from ganforget.probes.field import (
    attraction,
    directional_monotonicity,
    field_stability,
    grid,
    integral_curves,
    vector_field,
)

W = torch.tensor([0.7, -1.3], dtype=torch.float64)
B = 0.4


def linear_d(x):
    return x @ W + B


def bowl(c):
    c = torch.as_tensor(c, dtype=torch.float64)

    def D(x):
        return -((x - c) ** 2).sum(-1)

    return D


def nearest_bowl(centers):
    """D(x) = max_i -||x - c_i||^2: every centre attracts the points nearest to it."""
    c = torch.as_tensor(centers, dtype=torch.float64)

    def D(x):
        return -torch.cdist(x, c).pow(2).min(dim=1).values

    return D


POINTS = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_field_of_linear_d_ns():
    got = vector_field(linear_d, Objective("ns"), POINTS)
    expected = torch.sigmoid(-(POINTS @ W + B)).unsqueeze(1) * W
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_field_of_linear_d_wgan():
    got = vector_field(linear_d, Objective("wgan"), POINTS)
    torch.testing.assert_close(got, W.expand(50, 2), rtol=1e-12, atol=1e-12)


def test_field_of_bowl_wgan_and_ns():
    c = torch.tensor([0.5, -0.25], dtype=torch.float64)
    D = bowl(c)
    torch.testing.assert_close(vector_field(D, Objective("wgan"), POINTS), -2 * (POINTS - c))
    d = D(POINTS)
    torch.testing.assert_close(
        vector_field(D, Objective("ns"), POINTS), torch.sigmoid(-d).unsqueeze(1) * -2 * (POINTS - c)
    )


def test_field_leaves_module_untouched():
    net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
    net(torch.randn(16, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    field = vector_field(net, Objective("ns"), torch.randn(9, 2))
    assert field.shape == (9, 2) and net.training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in net.parameters())


def test_grid_layout():
    g = grid((-1.0, 3.0, 0.0, 2.0), n=5)
    assert g.shape == (25, 2)
    img = g.reshape(5, 5, 2)
    torch.testing.assert_close(img[0, 0], torch.tensor([-1.0, 0.0]))
    torch.testing.assert_close(img[0, 4], torch.tensor([3.0, 0.0]))
    torch.testing.assert_close(img[4, 0], torch.tensor([-1.0, 2.0]))
    torch.testing.assert_close(img[2, 1], torch.tensor([0.0, 1.0]))
    assert grid().shape == (441, 2)


def test_integral_curves_of_bowl_follow_closed_form():
    c = torch.tensor([1.0, -0.5], dtype=torch.float64)
    starts = POINTS[:6]
    h, steps = 0.05, 30
    curves = integral_curves(bowl(c), Objective("wgan"), starts, steps, h)
    assert curves.shape == (steps + 1, 6, 2)
    torch.testing.assert_close(curves[0], starts)
    # x_t - c = (1 - 2h)^t (x_0 - c)
    t = torch.arange(steps + 1, dtype=torch.float64).reshape(-1, 1, 1)
    torch.testing.assert_close(curves, c + (1 - 2 * h) ** t * (starts - c))
    dist = (curves - c).norm(dim=-1)
    assert bool((dist[1:] < dist[:-1]).all())


def test_integral_curves_ns_move_toward_centre():
    c = torch.tensor([0.0, 1.0], dtype=torch.float64)
    curves = integral_curves(bowl(c), Objective("ns"), POINTS[:8], 200, 0.1)
    dist = (curves - c).norm(dim=-1)
    assert bool((dist[1:] <= dist[:-1]).all())
    # sigmoid(-D) >= 1/2 as D <= 0: each step shrinks the distance by at least (1 - 0.1)
    assert bool((dist[-1] <= 0.9**200 * dist[0] + 1e-12).all())


CENTERS = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)


def test_attraction_one_when_every_mode_attracts():
    fakes = 1.5 * POINTS
    a = attraction(
        nearest_bowl(CENTERS), Objective("wgan"), fakes, CENTERS, 0.05, steps=60, step_size=0.1
    )
    assert a == 1.0


def test_attraction_counts_spurious_attractor():
    spurious = torch.tensor([[4.0, 4.0]], dtype=torch.float64)
    D = nearest_bowl(torch.cat([CENTERS[:1], spurious]))
    gen = torch.Generator().manual_seed(3)
    fakes = torch.cat(
        [
            CENTERS[0] + 0.3 * torch.randn(6, 2, generator=gen, dtype=torch.float64),
            spurious + 0.3 * torch.randn(2, 2, generator=gen, dtype=torch.float64),
        ]
    )
    a = attraction(D, Objective("wgan"), fakes, CENTERS, 0.05, steps=60, step_size=0.1)
    assert a == pytest.approx(6 / 8)
    # with no steps the fakes stay where they are: none is within 3 std of a centre
    assert (
        attraction(D, Objective("wgan"), fakes + 0.5, CENTERS, 0.05, steps=0, step_size=0.1) == 0.0
    )


def test_field_stability():
    f = torch.randn(30, 2, generator=torch.Generator().manual_seed(4))
    assert field_stability(f, f) == pytest.approx(1.0)
    assert field_stability(f, -f) == pytest.approx(-1.0)
    assert field_stability(f, 3.0 * f) == pytest.approx(1.0)
    rot = torch.stack([-f[:, 1], f[:, 0]], dim=1)  # 90 degrees
    assert field_stability(f, rot) == pytest.approx(0.0, abs=1e-6)
    half = torch.cat([f[:15], -f[15:]])
    assert field_stability(f, half) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(GanforgetError):
        field_stability(f, f[:10])


BOX = (-1.0, 1.0, -1.0, 1.0)


def test_directional_monotonicity_constant_field():
    pts = grid((-2, 2, -2, 2), 21)
    field = torch.tensor([0.3, -0.2]).expand(441, 2)
    assert directional_monotonicity(field, pts, BOX) == 1.0


def test_directional_monotonicity_counts_only_box_and_majority():
    pts = grid((-2, 2, -2, 2), 21).double()
    inside = (pts.abs() <= 1.0 + 1e-9).all(dim=1)
    field = torch.zeros_like(pts)
    field[:, 0] = 1.0
    idx = inside.nonzero().flatten()
    field[idx[: len(idx) // 4], 0] = -1.0  # a quarter (rounded down) points the other way
    field[~inside, 0] = -1.0  # outside the box: ignored
    box = (-1.0 - 1e-9, 1.0 + 1e-9, -1.0 - 1e-9, 1.0 + 1e-9)
    expected = 1 - (len(idx) // 4) / len(idx)
    assert directional_monotonicity(field, pts, box) == pytest.approx(expected)


def test_directional_monotonicity_radial_random_points_about_half():
    gen = torch.Generator().manual_seed(5)
    pts = 2 * torch.rand(4000, 2, generator=gen, dtype=torch.float64) - 1
    field = pts * torch.rand(4000, 1, generator=gen, dtype=torch.float64)  # radial, any length
    got = directional_monotonicity(field, pts, BOX)
    # independent computation in numpy
    u = field.numpy() / np.linalg.norm(field.numpy(), axis=1, keepdims=True)
    m = u.mean(0)
    assert got == pytest.approx(float(np.mean(u @ m > 0)))
    assert abs(got - 0.5) < 0.05


def test_directional_monotonicity_symmetric_radial_and_off_centre():
    pts = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert directional_monotonicity(pts.clone(), pts, BOX) == 0.5  # no mean direction
    assert directional_monotonicity(torch.zeros(4, 2), pts, BOX) == 0.0
    # a radial field whose source is far left of the box points right everywhere in it
    g = grid((-2, 2, -2, 2), 21)
    radial = g - torch.tensor([-6.0, 0.0])
    assert directional_monotonicity(radial, g, BOX) == 1.0
    # around the box centre on a symmetric grid every vector has its exact opposite
    assert torch.equal(g.flip(0), -g)
    assert directional_monotonicity(g.clone(), g, BOX) == 0.5
    # the same field seen from a box that holds only its right half points right
    assert directional_monotonicity(g.clone(), g, (0.1, 1.0, -1.0, 1.0)) == 1.0


def test_directional_monotonicity_bad_input():
    pts = grid()
    with pytest.raises(GanforgetError):
        directional_monotonicity(pts, pts, (5.0, 6.0, 5.0, 6.0))  # empty box
    with pytest.raises(GanforgetError):
        directional_monotonicity(pts, pts, (1.0, -1.0, 0.0, 1.0))  # min > max


def test_vector_field_bad_input():
    with pytest.raises(GanforgetError):
        vector_field(linear_d, Objective("wgan"), torch.zeros(2))
    with pytest.raises(GanforgetError):
        vector_field(lambda x: x, Objective("wgan"), torch.zeros(3, 2))


def test_grid_rejects_bad_box():
    with pytest.raises(GanforgetError):
        grid((1.0, 0.0, 0.0, 1.0))
    assert math.isclose(float(grid((0, 1, 0, 1), 2)[-1, 0]), 1.0)
