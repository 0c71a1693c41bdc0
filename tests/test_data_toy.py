"""The toy mixtures: eight distinct centres, right radius and spread."""

import math

import torch

from ganforget.data.toy import grid25, grid25_centers, ring8, ring8_centers


def test_ring8_has_eight_distinct_centres_on_the_circle():
    c = ring8_centers(2.0)
    assert c.shape == (8, 2)
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    d = torch.cdist(c, c) + torch.eye(8) * 10
    # neighbours are 2·r·sin(π/8) apart: all distinct, evenly spaced
    assert torch.allclose(
        d.min(dim=1).values, torch.full((8,), 4 * math.sin(math.pi / 8)), atol=1e-5
    )


def test_ring8_spread_per_mode():
    x = ring8(40000, radius=1.0, std=0.05, generator=torch.Generator().manual_seed(0))
    c = ring8_centers(1.0)
    nearest = torch.cdist(x, c).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=8)
    assert counts.min() > 4500 and counts.max() < 5500
    for k in range(8):
        dev = x[nearest == k] - c[k]
        assert abs(dev.std(dim=0).mean().item() - 0.05) < 0.003
        assert dev.mean(dim=0).abs().max() < 0.005


def test_grid25_centres_and_fresh_batches():
    c = grid25_centers()
    assert c.shape == (25, 2)
    assert set(c[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    g = torch.Generator().manual_seed(0)
    a, b = grid25(100, generator=g), grid25(100, generator=g)
    assert not torch.equal(a, b)
