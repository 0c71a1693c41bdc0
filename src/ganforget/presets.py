"""Presets with the paper's settings (``ganforget presets`` lists them).

Each preset is a nested dict of overrides on the defaults of :class:`ganforget.config.Config`.
Settings the paper does not state are marked "guess" and listed in the README.
"""

from __future__ import annotations

from ganforget.config import merge
from ganforget.errors import ConfigError

_RING8 = {
    "data": {"name": "ring8", "batch_size": 256},
    "model": {"arch": "mlp", "nz": 2, "hidden": 64, "depth": 2},
    "optim": {"name": "sgd", "lr_d": 3e-3, "lr_g": 3e-3},
    "train": {
        "iterations": 20000,
        "log_every": 100,
        "sample_every": 2000,
        "checkpoint_every": 5000,
        "coverage_every": 1000,
    },
}
_MNIST = {
    "data": {"name": "mnist", "batch_size": 64},
    "model": {"arch": "mlp", "nz": 100, "hidden": 512, "depth": 3},  # nz: guess
    "optim": {"name": "sgd", "lr_d": 3e-4, "lr_g": 3e-4},
    "train": {
        "iterations": 200000,
        "log_every": 500,
        "sample_every": 10000,
        "checkpoint_every": 10000,
    },
}
_DCGAN = {
    "model": {"arch": "dcgan", "nz": 100, "ngf": 64, "ndf": 64},
    "optim": {"name": "adam", "lr_d": 2e-4, "lr_g": 2e-4, "betas": [0.5, 0.99]},
    "train": {
        "iterations": 50000,
        "log_every": 200,
        "sample_every": 5000,
        "checkpoint_every": 5000,
    },
}
_CIFAR = merge(_DCGAN, {"data": {"name": "cifar10", "batch_size": 64, "image_size": 32}})
_CELEBA = merge(_DCGAN, {"data": {"name": "folder", "batch_size": 64, "image_size": 64}})

PRESETS: dict[str, tuple[str, dict]] = {
    "demo": (
        "the default: GAN-R1 (λ=10) + Adam on 8 Gaussians, 3 seeds, 3k iterations (~1-2 min)",
        merge(
            _RING8,
            {
                "objective": {"penalty": "r1", "weight": 10.0},
                "optim": {"name": "adam"},
                "train": {
                    "iterations": 3000,
                    "seeds": [0, 1, 2],
                    "sample_every": 1000,
                    "checkpoint_every": 1000,
                    "coverage_every": 250,
                },
            },
        ),
    ),
    "ring8-ns-sgd": ("GAN-NS + SGD on 8 Gaussians (Fig. 1, top)", _RING8),
    "ring8-r1": (
        "GAN-R1 (λ=10) + SGD on 8 Gaussians (Fig. 1, middle)",
        merge(_RING8, {"objective": {"penalty": "r1", "weight": 10.0}}),
    ),
    "ring8-ns-adam": (
        "GAN-NS + Adam on 8 Gaussians (Fig. 1, bottom)",
        merge(_RING8, {"optim": {"name": "adam"}}),
    ),
    "mnist-mlp-ns-sgd": ("GAN-NS + SGD, 3x512 MLP on MNIST", _MNIST),
    "mnist-mlp-ns-adam": (
        "GAN-NS + Adam (lr 3e-4), 3x512 MLP on MNIST",
        merge(_MNIST, {"optim": {"name": "adam"}}),
    ),
    "mnist-mlp-0gp": (
        "GAN-0GP (λ=100) + SGD, MLP on MNIST",
        merge(_MNIST, {"objective": {"penalty": "0gp", "weight": 100.0}}),
    ),
    "mnist-mlp-0gp-l10": (
        "GAN-0GP (λ=10) + SGD, MLP on MNIST",
        merge(_MNIST, {"objective": {"penalty": "0gp", "weight": 10.0}}),
    ),
    "mnist-mlp-r1": (
        "GAN-R1 (λ=100) + SGD, MLP on MNIST",
        merge(_MNIST, {"objective": {"penalty": "r1", "weight": 100.0}}),
    ),
    "mnist-mlp-wgangp": (
        "WGAN-GP (λ=10, 5 D steps) + SGD, MLP on MNIST",
        merge(
            _MNIST,
            {
                "objective": {"loss": "wgan", "penalty": "1gp", "weight": 10.0},
                "optim": {"n_critic": 5},
            },
        ),
    ),
    "cifar10-dcgan": ("GAN-NS + Adam, DCGAN on CIFAR-10 (32x32)", _CIFAR),
    "cifar10-dcgan-imba": (
        "GAN-NS with γ=10, DCGAN on CIFAR-10",
        merge(_CIFAR, {"objective": {"real_weight": 10.0}}),
    ),
    "cifar10-dcgan-0gp": (
        "GAN-0GP (λ=100), DCGAN on CIFAR-10",
        merge(_CIFAR, {"objective": {"penalty": "0gp", "weight": 100.0}}),
    ),
    "cifar10-dcgan-0gp-imba": (
        "GAN-0GP (λ=100) with γ=10, DCGAN on CIFAR-10",
        merge(_CIFAR, {"objective": {"penalty": "0gp", "weight": 100.0, "real_weight": 10.0}}),
    ),
    "celeba-dcgan": ("GAN-NS + Adam, DCGAN (64x64) on an image folder such as CelebA", _CELEBA),
}


def preset(name: str) -> dict:
    """Return the override dict of preset ``name`` (with ``name`` set); unknown names error."""
    if name not in PRESETS:
        import difflib

        near = difflib.get_close_matches(name, list(PRESETS), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise ConfigError(f"unknown preset '{name}'; run `ganforget presets` to list them.{hint}")
    return merge(PRESETS[name][1], {"name": name})
