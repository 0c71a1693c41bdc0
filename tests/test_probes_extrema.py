import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganforget.errors import GanforgetError
from ganforget.probes.extrema import extrema, summarize
from ganforget.probes.landscape import default_ks, landscape, random_directions


def first_grid_point_beyond(ks, level_k):
    """Smallest grid k strictly greater than level_k (the analytic crossing)."""
    return min(float(k) for k in ks if float(k) > level_k)


def quadratic_bowl_curves(ks, n_dirs=4, seed=0):
    """Landscape of D(x) = -||x - c||^2 around c: f(k) = -k^2 along unit directions."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)

    def D(x):
        return -((x - c) ** 2).sum(-1)

    dirs = random_directions(n_dirs, 3, generator=gen, dtype=torch.float64)
    return landscape(D, c, dirs, ks)  # [1, n_dirs, K]


def test_bowl_anchor_is_local_max_with_analytic_width():
    ks = default_ks().double()
    f = quadratic_bowl_curves(ks)
    torch.testing.assert_close(f[0, 0], -(ks**2))
    ex = extrema(f, ks)
    assert ex.is_local_max.shape == (1, 4) and bool(ex.is_local_max.all())
    # min f = -100^2 at the ends, half height -5000, crossing at |k| = 100/sqrt(2) = 70.71:
    # the first grid points strictly below are +-71.
    edge = first_grid_point_beyond(ks, 100 / math.sqrt(2))
    assert edge == 71.0
    torch.testing.assert_close(ex.width, torch.full((1, 4), 2 * edge, dtype=torch.float64))
    assert ex.monotonic.abs().max() < 0.05
    torch.testing.assert_close(ex.sharpness, torch.full((1, 4), 2.0, dtype=torch.float64))


def test_width_with_fine_spacing():
    ks = torch.linspace(-3, 3, 61, dtype=torch.float64)  # spacing 0.1
    ex = extrema(-(ks**2), ks)
    edge = first_grid_point_beyond(ks, 3 / math.sqrt(2))  # 2.2
    assert edge == pytest.approx(2.2)
    assert float(ex.width) == pytest.approx(2 * edge)


def test_width_uses_range_end_when_curve_never_falls_below():
    # asymmetric range: min f = -100^2 at k=100, half height -5000; the left side only
    # reaches -50^2 = -2500 > -5000, so the left edge is the range end -50.
    ks = torch.arange(-50, 101, 1.0, dtype=torch.float64)
    ex = extrema(-(ks**2), ks)
    right = first_grid_point_beyond(ks, 100 / math.sqrt(2))
    assert float(ex.width) == right - (-50.0) == 121.0


def test_linear_d_is_monotonic_and_not_a_max():
    ks = default_ks().double()
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def D(x):
        return x @ w + 0.7

    anchors = torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    dirs = random_directions(5, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ex = extrema(landscape(D, anchors, dirs, ks), ks)
    expected_sign = torch.sign(dirs @ w).expand(3, 5)
    torch.testing.assert_close(ex.monotonic, expected_sign)
    assert not bool(ex.is_local_max.any())
    torch.testing.assert_close(
        ex.sharpness, torch.zeros(3, 5, dtype=torch.float64), atol=1e-9, rtol=0
    )


@pytest.mark.parametrize("a", [0.5, 3.0])
def test_sharpness_of_quadratic_with_uneven_spacing(a):
    ks = torch.tensor([-3.0, -1.5, -0.5, 0.0, 0.25, 1.0, 2.0], dtype=torch.float64)
    f = -a * ks**2 + 0.8 * ks - 1.0  # a linear term does not change the 2nd derivative
    ex = extrema(f, ks)
    assert float(ex.sharpness) == pytest.approx(2 * a)


def test_constant_curve():
    ks = torch.linspace(-2, 2, 5)
    ex = extrema(torch.full((2, 5), 3.0), ks)
    assert bool(ex.is_local_max.all())
    torch.testing.assert_close(ex.width, torch.full((2,), 4.0))
    torch.testing.assert_close(ex.monotonic, torch.zeros(2))
    torch.testing.assert_close(ex.sharpness, torch.zeros(2))


def test_nonfinite_curve_has_nan_monotonic():
    ks = torch.linspace(-2, 2, 5)
    f = torch.tensor([[0.0, 1.0, float("nan"), 1.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0]])
    ex = extrema(f, ks)
    assert math.isnan(float(ex.monotonic[0])) and float(ex.monotonic[1]) == pytest.approx(1.0)


def spearman_reference(f, k):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for t in range(i, j + 1):
                r[order[t]] = (i + j) / 2 + 1
            i = j + 1
        return r

    rf, rk = ranks(f), ranks(k)
    mf, mk = sum(rf) / len(rf), sum(rk) / len(rk)
    num = sum((a - mf) * (b - mk) for a, b in zip(rf, rk, strict=True))
    den = math.sqrt(sum((a - mf) ** 2 for a in rf) * sum((b - mk) ** 2 for b in rk))
    return num / den if den > 0 else 0.0


def test_spearman_hand_computed_with_ties():
    ks = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    ex = extrema(torch.tensor([1.0, 2.0, 2.0, 3.0]), ks)
    # ranks f = [1, 2.5, 2.5, 4]; rho = 4.5 / sqrt(4.5 * 5)
    assert float(ex.monotonic) == pytest.approx(4.5 / math.sqrt(22.5), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=3, max_size=12))
def test_spearman_matches_reference(values):
    k = len(values)
    ks = torch.arange(k, dtype=torch.float64) - (k // 2)
    f = torch.tensor(values, dtype=torch.float64)
    got = float(extrema(f, ks).monotonic)
    assert got == pytest.approx(spearman_reference(values, ks.tolist()), abs=1e-12)


def test_summarize_hand_computed():
    ks = torch.linspace(-2, 2, 5)
    f = torch.stack(
        [
            -(ks**2),  # local max, width: h=-2, first below at +-2 -> 4; rho 0
            ks,  # increasing: rho 1, width: h=-1, right never -> 2, left -2 -> 4
            -ks,  # decreasing: rho -1, width 4
            -(ks**2) / 4,  # local max, width 4 (h = -0.5; below at +-2 only: -1 < -0.5,
            # and +-1 gives -0.25 >= -0.5)
        ]
    )
    ex = extrema(f, ks)
    s = summarize(ex)
    assert s["n_curves"] == 4
    assert s["frac_local_max"] == 0.5
    assert s["frac_monotonic"] == 0.5
    assert s["mean_monotonic"] == pytest.approx(0.0, abs=1e-12)
    assert s["mean_abs_monotonic"] == pytest.approx(0.5)
    torch.testing.assert_close(ex.width, torch.tensor([4.0, 4.0, 4.0, 4.0]))
    assert s["median_width"] == 4.0
    assert s["mean_sharpness"] == pytest.approx((2 + 0 + 0 + 0.5) / 4)


def test_summarize_median_of_even_count_is_midpoint():
    ks = torch.arange(-4.0, 5.0)
    # bowls of different ranges: widths from the analytic rule on each
    f = torch.stack([-(ks**2), torch.where(ks.abs() <= 1, -(ks**2), torch.full_like(ks, -1.0))])
    ex = extrema(f, ks)
    # curve 0: h = -8, below where k^2 > 8 -> +-3 -> width 6
    # curve 1: min -1, h = -0.5, below at +-1 -> width 2
    torch.testing.assert_close(ex.width, torch.tensor([6.0, 2.0]))
    assert summarize(ex)["median_width"] == 4.0


@pytest.mark.parametrize(
    "ks",
    [
        torch.tensor([-1.0, 0.5, 1.0]),  # no zero
        torch.tensor([0.0, 1.0, 2.0]),  # zero at the edge
        torch.tensor([-1.0, 1.0, 0.0]),  # not sorted
        torch.tensor([-1.0, 0.0]),  # too short
    ],
)
def test_bad_ks_raise(ks):
    with pytest.raises(GanforgetError):
        extrema(torch.zeros(ks.numel()), ks)


def test_mismatched_length_raises():
    with pytest.raises(GanforgetError):
        extrema(torch.zeros(4), torch.tensor([-1.0, 0.0, 1.0]))
