"""ganforget: train GANs and measure catastrophic forgetting in D and mode collapse.

Implements the system of Thanh-Tung & Tran, "Catastrophic forgetting and mode collapse in
GANs" (IJCNN 2020): the objectives of its Table I, the remedies of its Section V, and probes
that turn its pictures into numbers.
"""

__version__ = "0.1.0"
