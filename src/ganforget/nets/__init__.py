"""Nets: MLP and DCGAN generators/discriminators, batched over S members (seeds)."""

from ganforget.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforget.nets.ensemble import EnsembleModule, Single, member_state, plain
from ganforget.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "EnsembleModule",
    "MLPDiscriminator",
    "MLPGenerator",
    "Single",
    "member_state",
    "plain",
]
