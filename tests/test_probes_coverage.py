import math

import pytest
import torch

from ganforget.errors import GanforgetError
from ganforget.probes.coverage import mode_coverage


def ring(k: int, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1)


CENTERS = ring(8)
STD = 0.02


def near(center: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    # within 1 std of the centre: far inside 3 std
    return center + 0.5 * STD * torch.randn(n, 2, generator=gen, dtype=torch.float64).clamp(-1, 1)


def test_all_at_one_mode_is_full_collapse():
    gen = torch.Generator().manual_seed(0)
    cov = mode_coverage(near(CENTERS[3], 100, gen), CENTERS, STD)
    assert cov.modes == 1
    assert cov.high_quality == 1.0
    assert cov.reverse_kl == pytest.approx(math.log(8))
    assert cov.counts == [0, 0, 0, 100, 0, 0, 0, 0]


def test_equal_spread_has_zero_kl():
    gen = torch.Generator().manual_seed(1)
    samples = torch.cat([near(c, 25, gen) for c in CENTERS])
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes == 8
    assert cov.high_quality == 1.0
    assert cov.reverse_kl == pytest.approx(0.0, abs=1e-12)
    assert cov.counts == [25] * 8


def test_all_far_from_modes():
    samples = torch.zeros(50, 2, dtype=torch.float64)  # ring centre: 2.0 away from every mode
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes == 0
    assert cov.high_quality == 0.0
    assert cov.reverse_kl == math.inf
    assert cov.counts == [0] * 8
    assert cov.to_dict()["reverse_kl"] == math.inf


def test_uneven_mix_hand_computed():
    gen = torch.Generator().manual_seed(2)
    # 6 at mode 0, 3 at mode 1, 1 at mode 5, and 10 low-quality points
    # (4 std away from mode 2: nearest mode 2 but outside 3 std).
    far = CENTERS[2] + torch.tensor([[4 * STD, 0.0]], dtype=torch.float64)
    samples = torch.cat(
        [near(CENTERS[0], 6, gen), near(CENTERS[1], 3, gen), near(CENTERS[5], 1, gen)] + [far] * 10
    )
    cov = mode_coverage(samples, CENTERS, STD)
    p = [0.6, 0.3, 0.1]
    expected = sum(q * math.log(q / (1 / 8)) for q in p)
    assert cov.modes == 3
    assert cov.high_quality == pytest.approx(0.5)
    assert cov.reverse_kl == pytest.approx(expected, rel=1e-12)
    assert cov.counts == [6, 3, 0, 0, 0, 1, 0, 0]
    # a looser radius makes the far points high quality at mode 2
    loose = mode_coverage(samples, CENTERS, STD, sigmas=5.0)
    assert loose.counts[2] == 10 and loose.modes == 4 and loose.high_quality == 1.0


def test_to_dict_fields():
    cov = mode_coverage(CENTERS[:2].clone(), CENTERS, STD)
    d = cov.to_dict()
    assert d == {
        "modes": 2,
        "high_quality": 1.0,
        "reverse_kl": pytest.approx(math.log(4)),
        "counts": [1, 1, 0, 0, 0, 0, 0, 0],
    }


@pytest.mark.parametrize(
    "samples, centers, std",
    [
        (torch.zeros(0, 2), CENTERS, STD),
        (torch.zeros(5, 3), CENTERS, STD),
        (torch.zeros(5, 2), CENTERS, 0.0),
        (torch.zeros(5), CENTERS, STD),
    ],
)
def test_bad_input_raises(samples, centers, std):
    with pytest.raises(GanforgetError):
        mode_coverage(samples, centers, std)
