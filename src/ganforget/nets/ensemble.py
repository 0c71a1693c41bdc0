"""Batched layers that hold S independent members (seeds) in one module.

Linear layers keep weights ``[S, in, out]`` and multiply with ``baddbmm``; a D's last layer
(:class:`EnsembleLogit`) is a multiply and a row sum. Convolutions keep the members side by
side in the channel dimension, ``[B, S*C, H, W]``, so that ``BatchNorm2d(S*C)`` keeps
statistics per member; on CUDA they run as one grouped convolution (``groups=S``), on the
CPU member by member (see :func:`split_members`).

Member i of an ensemble computes what a one-member ensemble computes on its inputs, bitwise
on the CPU (tests/test_ensemble_exact.py): the layers avoid kernels whose order of summation
depends on S (matrix-vector products, grouped oneDNN convolutions).

Every parameter and buffer of an ensemble layer has a first dimension of ``S*k``; member ``i``
owns rows ``i*k:(i+1)*k``. :func:`member_state` uses this to cut one member out.
Each layer initialises member ``i`` from its own ``torch.Generator``, so member ``i`` of an
ensemble starts exactly like a one-member ensemble built with the same generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """S independent affine maps: ``[S, B, in] -> [S, B, out]``.

    The weight is stored as ``[S, in, out]`` (transposed against ``nn.Linear``) and the bias
    as ``[S, 1, out]``, so the forward pass is one ``baddbmm`` with no views to make.
    Members are initialised like ``nn.Linear``: U(-1/√in, 1/√in) for weight and bias, the
    weight drawn in ``nn.Linear``'s ``[out, in]`` order.
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))

    def reset_member(self, i: int, generator: torch.Generator) -> None:
        """Draw member ``i``'s weight and bias from ``generator``."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            w = torch.empty(self.out_features, self.in_features, device=self.weight.device)
            self.weight[i].copy_(w.uniform_(-bound, bound, generator=generator).t())
            self.bias[i].uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_features == 1:
            # A product with one output column takes another BLAS path for one member than
            # for several, which breaks bitwise equality between an ensemble and separate
            # runs. A multiply and a row sum reduce each member's rows in the same order.
            return (x * self.weight.transpose(1, 2)).sum(-1, keepdim=True) + self.bias
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleLogit(nn.Module):
    """S independent affine maps to one logit: ``[S, B, in] -> [S, B]`` (a D's last layer).

    The weight is stored as a row per member, ``[S, 1, in]``, and the bias as ``[S, 1]``;
    initialised like ``nn.Linear(in, 1)``. The logit is a multiply and a row sum rather than
    a matrix product: with one output column BLAS takes a matrix-vector kernel for one
    member and a batched kernel for several, which round differently, so an ensemble would
    not equal separate runs. A row sum adds each member's terms in the same order for any S.
    """

    def __init__(self, members: int, in_features: int) -> None:
        super().__init__()
        self.members, self.in_features = members, in_features
        self.weight = nn.Parameter(torch.empty(members, 1, in_features))
        self.bias = nn.Parameter(torch.empty(members, 1))

    def reset_member(self, i: int, generator: torch.Generator) -> None:
        """Draw member ``i``'s weight and bias from ``generator``."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight[i].uniform_(-bound, bound, generator=generator)
            self.bias[i].uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight).sum(-1) + self.bias


class _GroupedInit:
    """Mixin: DCGAN initialisation, N(0, 0.02) weights and zero bias, per member."""

    members: int

    def reset_member(self, i: int, generator: torch.Generator) -> None:
        rows = self.weight.shape[0] // self.members
        with torch.no_grad():
            self.weight[i * rows : (i + 1) * rows].normal_(0.0, 0.02, generator=generator)
            if self.bias is not None:
                self.bias[i * rows : (i + 1) * rows].zero_()


def split_members(x: torch.Tensor) -> bool:
    """True when the ensemble convolutions run member by member: on the CPU.

    oneDNN picks its algorithm, and with it the order of summation, from the channels and
    groups of a convolution, so a grouped kernel over S members can round differently from
    the same convolution of one member. Member by member, member i is bitwise equal to a
    separate run of seed i; on the CPU it is also faster than oneDNN's grouped kernel for
    these narrow groups (measured: 1.07x against 0.92x sequential at S=10, results/bench).
    On CUDA the grouped kernel is kept for speed; members then agree with separate runs to
    float rounding.
    """
    return x.device.type == "cpu"


def _per_member(conv, x: torch.Tensor, members: int, weight, bias) -> torch.Tensor:
    """Apply ``conv(x_i, w_i, b_i)`` to each member's channel block; concatenate the outputs."""
    bs = [None] * members if bias is None else bias.chunk(members)
    xs, ws = x.chunk(members, dim=1), weight.chunk(members)
    return torch.cat([conv(a, w, b) for a, w, b in zip(xs, ws, bs, strict=True)], dim=1)


class EnsembleConv2d(_GroupedInit, nn.Conv2d):
    """S independent 2-D convolutions on the grouped layout ``[B, S*C_in, H, W]``."""

    def __init__(self, members: int, cin: int, cout: int, k: int, s: int, p: int, bias=False):
        nn.Conv2d.__init__(self, members * cin, members * cout, k, s, p, groups=members, bias=bias)
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not split_members(x):
            return super().forward(x)

        def conv(a, w, b):
            return F.conv2d(a, w, b, self.stride, self.padding, self.dilation, 1)

        return _per_member(conv, x, self.members, self.weight, self.bias)


class EnsembleConvTranspose2d(_GroupedInit, nn.ConvTranspose2d):
    """S independent transposed convolutions on the grouped layout ``[B, S*C_in, H, W]``."""

    def __init__(self, members: int, cin: int, cout: int, k: int, s: int, p: int, bias=False):
        nn.ConvTranspose2d.__init__(
            self, members * cin, members * cout, k, s, p, groups=members, bias=bias
        )
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not split_members(x):
            return super().forward(x)

        def conv(a, w, b):
            return F.conv_transpose2d(
                a, w, b, self.stride, self.padding, self.output_padding, 1, self.dilation
            )

        return _per_member(conv, x, self.members, self.weight, self.bias)


class EnsembleBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over ``S*C`` channels: statistics and affine parameters per member.

    Initialised as in DCGAN: weight N(1, 0.02), bias 0.
    """

    def __init__(self, members: int, channels: int) -> None:
        super().__init__(members * channels)
        self.members = members

    def reset_member(self, i: int, generator: torch.Generator) -> None:
        c = self.num_features // self.members
        with torch.no_grad():
            self.weight[i * c : (i + 1) * c].normal_(1.0, 0.02, generator=generator)
            self.bias[i * c : (i + 1) * c].zero_()


class EnsembleModule(nn.Module):
    """Base class of the nets: S members, each initialised by its own generator.

    Subclasses store their constructor arguments in ``self.spec`` (without ``members``) so a
    single member can be rebuilt with :meth:`member`.
    """

    members: int
    spec: dict

    def init_members(self, generators: Sequence[torch.Generator]) -> None:
        """Initialise member ``i`` of every layer from ``generators[i]``, layer by layer."""
        if len(generators) != self.members:
            raise ValueError(f"{len(generators)} generators for {self.members} members")
        for i, g in enumerate(generators):
            for layer in self.modules():
                if layer is not self and hasattr(layer, "reset_member"):
                    layer.reset_member(i, g)

    def member(self, i: int) -> EnsembleModule:
        """Return a one-member copy of member ``i`` (same class, parameters and buffers)."""
        single = type(self)(members=1, **self.spec).to(next(self.parameters()).device)
        single.load_state_dict(member_state(self.state_dict(), i, self.members))
        single.train(self.training)
        return single


def member_state(state: dict[str, torch.Tensor], i: int, members: int) -> dict:
    """Return the state dict of member ``i`` cut from an ensemble ``state`` of ``members``."""
    out = {}
    for name, t in state.items():
        if t.dim() == 0:
            out[name] = t.clone()
        else:
            rows = t.shape[0] // members
            out[name] = t[i * rows : (i + 1) * rows].clone()
    return out


def to_grouped(x: torch.Tensor) -> torch.Tensor:
    """``[S, B, C, H, W] -> [B, S*C, H, W]`` (members side by side in the channels)."""
    s, b = x.shape[:2]
    return x.transpose(0, 1).reshape(b, s * x.shape[2], *x.shape[3:])


def from_grouped(x: torch.Tensor, members: int) -> torch.Tensor:
    """``[B, S*C, H, W] -> [S, B, C, H, W]``."""
    b = x.shape[0]
    return x.reshape(b, members, x.shape[1] // members, *x.shape[2:]).transpose(0, 1)


class Single(nn.Module):
    """A plain net around a one-member ensemble: ``[N, *in] -> [N, *out]``.

    Probes and user code call this like any PyTorch model; ``eval()`` and ``train()`` reach
    the wrapped net, so BatchNorm behaves as it would in the member.
    """

    def __init__(self, net: EnsembleModule) -> None:
        super().__init__()
        if net.members != 1:
            raise ValueError("Single wraps a one-member ensemble; use net.member(i) first")
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(0)).squeeze(0)


def plain(net: EnsembleModule, i: int = 0) -> Single:
    """Return member ``i`` of ``net`` as a plain callable net (a copy, not a view)."""
    return Single(net.member(i) if net.members > 1 else net)
