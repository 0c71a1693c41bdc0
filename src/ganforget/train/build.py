"""Factories: from a validated config to data source, nets, objective, optimizers, trainer.

Everything optional is attached here as a callback or hook, so the trainer's loop stays
free of ``if config.x`` branches.
"""

from __future__ import annotations

import os

import torch

from ganforget.config import Config
from ganforget.data.source import ImageSource, ToySource
from ganforget.data.toy import grid25_centers, ring8_centers
from ganforget.errors import ConfigError
from ganforget.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from ganforget.objectives import Objective
from ganforget.train import callbacks as cbs
from ganforget.train.rundir import RunDir
from ganforget.train.streams import Streams, seed_global_rngs
from ganforget.train.trainer import Trainer


def pick_device(name: str) -> torch.device:
    """Return the device for ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use device=cpu")
    return torch.device(name)


def set_threads(cfg: Config, device: torch.device) -> None:
    """Set torch's CPU threads: ``train.threads``, else 1 or all cores by what ran faster here.

    One thread for MLPs (tiny kernels) and for any gradient penalty (the double backward of
    a convolution ran 5x slower on 2 threads than on 1); all cores for a plain DCGAN step.
    """
    if device.type != "cpu":
        return
    one = cfg.model.arch == "mlp" or cfg.objective.penalty is not None
    n = cfg.train.threads or (1 if one else (os.cpu_count() or 1))
    torch.set_num_threads(n)


def build_source(cfg: Config, device: torch.device):
    """Return the data source of ``cfg.data`` on ``device`` (images are loaded into memory)."""
    d = cfg.data
    if d.name == "ring8":
        return ToySource(ring8_centers(d.radius), d.std or 0.02, "ring8").to(device)
    if d.name == "grid25":
        return ToySource(grid25_centers(), d.std or 0.05, "grid25").to(device)
    from ganforget.data.images import load_images

    image_size = d.image_size
    if cfg.model.arch == "dcgan" and image_size is None:
        image_size = 64
    imgs = load_images(d.name, d.root, split="train", image_size=image_size)
    return ImageSource(imgs.images, d.name).to(device)


def build_nets(cfg: Config, members: int, shape: tuple[int, ...]):
    """Return ``(G, D)`` ensembles of ``members`` for samples of ``shape`` (not initialised)."""
    m = cfg.model
    if m.arch == "mlp":
        out_act = "none" if len(shape) == 1 else "tanh"
        G = MLPGenerator(members, m.nz, shape, m.hidden, m.depth, m.act, out_act)
        D = MLPDiscriminator(members, shape, m.hidden, m.depth, m.act)
        return G, D
    c, h, w = shape
    if h != w or h not in (32, 64):
        raise ConfigError(
            f"model.arch=dcgan needs 32x32 or 64x64 images, got {h}x{w}; "
            "set data.image_size=32 or 64"
        )
    G = DCGANGenerator(members, m.nz, m.ngf, c, h)
    D = DCGANDiscriminator(members, m.ndf, c, h)
    return G, D


def build_optimizers(cfg: Config, G: torch.nn.Module, D: torch.nn.Module):
    """Return ``(opt_g, opt_d)``: SGD (with momentum) or Adam with separate learning rates."""
    o = cfg.optim

    def make(params, lr):
        if o.name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=tuple(o.betas))
        return torch.optim.SGD(params, lr=lr, momentum=o.momentum)

    return make(G.parameters(), o.lr_g), make(D.parameters(), o.lr_d)


def build_objective(cfg: Config) -> Objective:
    """Return the Table I objective of ``cfg.objective``."""
    ob = cfg.objective
    return Objective(ob.loss, ob.penalty, ob.weight, ob.real_weight)


def build_trainer(cfg: Config, run: RunDir | None, *, source=None) -> Trainer:
    """Return a ready trainer for ``cfg`` writing into ``run`` (None: no files, no callbacks)."""
    device = pick_device(cfg.train.device)
    set_threads(cfg, device)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    seeds = list(cfg.train.seeds)
    seed_global_rngs(seeds)
    streams = Streams.create(seeds, device)
    source = source if source is not None else build_source(cfg, device)
    G, D = build_nets(cfg, len(seeds), source.shape)
    G.init_members(streams.init_g)
    D.init_members(streams.init_d)
    G.to(device)
    D.to(device)
    opt_g, opt_d = build_optimizers(cfg, G, D)
    tr = Trainer(
        G=G,
        D=D,
        objective=build_objective(cfg),
        opt_g=opt_g,
        opt_d=opt_d,
        source=source,
        streams=streams,
        nz=cfg.model.nz,
        batch_size=cfg.data.batch_size,
        n_critic=cfg.optim.n_critic,
    )
    if run is not None:
        attach_callbacks(tr, cfg, run)
    else:
        from ganforget.remedies.attach import attach_remedies

        attach_remedies(tr, cfg)
    return tr


def attach_callbacks(tr: Trainer, cfg: Config, run: RunDir) -> None:
    """Attach metrics, coverage, samples, probes, remedies and checkpoints as cfg asks."""
    t = cfg.train
    sample_z = cbs.fixed_noise(
        tr.streams, 512 if isinstance(tr.source, ToySource) else 64, cfg.model.nz
    )
    tr.callbacks.append(cbs.MetricsLogger(run, t.log_every))
    real = None
    if isinstance(tr.source, ToySource):
        cov_z = cbs.fixed_noise(tr.streams, t.coverage_samples, cfg.model.nz)
        tr.callbacks.append(
            cbs.CoverageMonitor(run, tr.source.centers, tr.source.std, cov_z, t.coverage_every)
        )
        real = tr.source.sample(512, [torch.Generator(tr.device).manual_seed(0)])[0]
    from ganforget.probes.monitors import attach_probes
    from ganforget.remedies.attach import attach_remedies

    attach_remedies(tr, cfg, run)
    attach_probes(tr, cfg, run)
    tr.callbacks.append(cbs.SampleWriter(run, sample_z, t.sample_every, real=real))
    tr.callbacks.append(cbs.Checkpointer(run, t.checkpoint_every, t.keep_last, set(t.keep)))
