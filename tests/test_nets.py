"""Ensemble nets: each member equals a one-member net built from the same generator."""

import pytest
import torch

from ganforget.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    plain,
)


def _gens(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def _build(cls, members, seeds, **kw):
    net = cls(members, **kw)
    net.init_members(_gens(seeds))
    return net


CASES = [
    (MLPGenerator, dict(nz=2, out_shape=(2,), hidden=16, depth=2), (5, 2)),
    (MLPDiscriminator, dict(in_shape=(1, 6, 6), hidden=16, depth=3), (5, 1, 6, 6)),
    (DCGANGenerator, dict(nz=8, ngf=4, nc=3, image_size=32), (5, 8)),
    (DCGANDiscriminator, dict(ndf=4, nc=3, image_size=32), (5, 3, 32, 32)),
    (DCGANDiscriminator, dict(ndf=4, nc=1, image_size=64), (5, 1, 64, 64)),
]


@pytest.mark.parametrize("cls,kw,inp", CASES)
def test_member_equals_separately_built_net(cls, kw, inp):
    seeds = [3, 7, 11]
    ens = _build(cls, 3, seeds, **kw)
    x = torch.randn(3, *inp, generator=torch.Generator().manual_seed(0))
    singles = [_build(cls, 1, [s], **kw) for s in seeds]
    for i, single in enumerate(singles):
        for (n1, p1), (n2, p2) in zip(
            single.state_dict().items(), ens.member(i).state_dict().items(), strict=True
        ):
            assert n1 == n2 and torch.equal(p1, p2), n1
    y = ens(x)
    for i, single in enumerate(singles):
        assert torch.allclose(single(x[i : i + 1])[0], y[i], atol=1e-5, rtol=1e-5)


def test_dcgan_shapes_and_range():
    G = _build(DCGANGenerator, 2, [0, 1], nz=100, ngf=8, nc=3, image_size=64)
    D = _build(DCGANDiscriminator, 2, [0, 1], ndf=8, nc=3, image_size=64)
    x = G(torch.randn(2, 4, 100))
    assert x.shape == (2, 4, 3, 64, 64)
    assert x.abs().max() <= 1.0
    assert D(x).shape == (2, 4)


def test_batchnorm_statistics_are_per_member():
    D = _build(DCGANDiscriminator, 2, [0, 1], ndf=4, nc=1, image_size=32)
    x = torch.randn(2, 16, 1, 32, 32)
    x[1] = x[1] * 5 + 3  # member 1 sees very different data
    D(x)
    bn = [m for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    half = bn.num_features // 2
    assert not torch.allclose(bn.running_mean[:half], bn.running_mean[half:])
    # member 0's statistics equal those of a one-member net fed only member 0's data
    solo = _build(DCGANDiscriminator, 1, [0], ndf=4, nc=1, image_size=32)
    solo(x[:1])
    bn1 = [m for m in solo.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    assert torch.allclose(bn.running_mean[:half], bn1.running_mean, atol=1e-5)


def test_plain_wrapper_is_a_normal_callable():
    D = _build(MLPDiscriminator, 3, [0, 1, 2], in_shape=(2,), hidden=8, depth=2)
    d1 = plain(D, 1)
    x = torch.randn(7, 2)
    assert d1(x).shape == (7,)
    assert torch.allclose(d1(x), D(x.expand(3, 7, 2))[1], atol=1e-6)
