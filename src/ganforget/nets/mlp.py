"""MLP generator and discriminator (the paper's 2x64 nets on 8 Gaussians, 3x512 on MNIST)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforget.nets.ensemble import EnsembleLinear, EnsembleLogit, EnsembleModule

# In place: the output of a linear layer is not needed by its backward, and writing the
# activation over it saves memory traffic (7% of a 10-seed step on 8 Gaussians).
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "tanh": nn.Tanh,
}


def _stack(members: int, sizes: list[int], act: str, logit: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = j == len(sizes) - 2
        layers.append(
            EnsembleLogit(members, a) if last and logit else EnsembleLinear(members, a, b)
        )
        if not last:
            layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


class MLPGenerator(EnsembleModule):
    """G: ``z [S, B, nz] -> x [S, B, *out_shape]`` with ``depth`` hidden layers of ``hidden``.

    ``out_act`` is ``"none"`` for 2-D data and ``"tanh"`` for images in [-1, 1].
    """

    def __init__(
        self,
        members: int,
        nz: int,
        out_shape: tuple[int, ...],
        hidden: int = 64,
        depth: int = 2,
        act: str = "relu",
        out_act: str = "none",
    ) -> None:
        super().__init__()
        self.members = members
        self.spec = dict(
            nz=nz, out_shape=tuple(out_shape), hidden=hidden, depth=depth, act=act, out_act=out_act
        )
        self.out_shape = tuple(out_shape)
        self.body = _stack(members, [nz] + [hidden] * depth + [math.prod(out_shape)], act)
        self.out_act = nn.Tanh() if out_act == "tanh" else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.body(z)
        if self.spec["out_act"] == "tanh":
            y = self.out_act(y)
        return y if len(self.out_shape) == 1 else y.reshape(*z.shape[:2], *self.out_shape)


class MLPDiscriminator(EnsembleModule):
    """D: ``x [S, B, *in_shape] -> logits [S, B]`` with ``depth`` hidden layers of ``hidden``."""

    def __init__(
        self,
        members: int,
        in_shape: tuple[int, ...],
        hidden: int = 64,
        depth: int = 2,
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.members = members
        self.spec = dict(in_shape=tuple(in_shape), hidden=hidden, depth=depth, act=act)
        self.body = _stack(members, [math.prod(in_shape)] + [hidden] * depth + [1], act, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x if x.dim() == 3 else x.reshape(*x.shape[:2], -1))
