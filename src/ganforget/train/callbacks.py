"""Core callbacks: metrics, mode coverage, sample figures and checkpoints.

Each callback fires on its own schedule (every ``every`` iterations and at the last one);
the trainer's loop knows nothing about what they do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ganforget.errors import DivergenceError
from ganforget.train.checkpoint import checkpoint_name, prune, save_atomic
from ganforget.train.rundir import RunDir
from ganforget.train.streams import randn_members


def due(trainer, every: int) -> bool:
    """True when the trainer's current iteration is on an ``every`` schedule or is the last."""
    return every > 0 and (trainer.iteration % every == 0 or trainer.iteration == trainer.total)


@contextlib.contextmanager
def evaluating(*nets: nn.Module):
    """Put nets in eval mode without gradients; restore their training flags afterwards."""
    flags = [n.training for n in nets]
    for n in nets:
        n.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for n, f in zip(nets, flags, strict=True):
            n.train(f)


def tolist(t: torch.Tensor) -> list[float]:
    """Return a per-member tensor as a list of Python floats (full precision)."""
    return [float(v) for v in t.detach().cpu().reshape(-1)]


@dataclass
class MetricsLogger:
    """Write losses per member to metrics.jsonl every ``every`` iterations."""

    run: RunDir
    every: int = 100

    def on_iteration_end(self, tr) -> None:
        if not due(tr, self.every):
            return
        rec = {"it": tr.iteration}
        for k, v in tr.last.items():
            rec[k] = tolist(v)
        if tr.alarms:
            rec["alarms"] = dict(tr.alarms)
        self.run.log(rec)


@dataclass
class CoverageMonitor:
    """Record mode coverage of G's samples on a toy mixture (per member) every ``every``.

    Uses fixed latent codes ``[S, n, nz]`` drawn once from the members' ``fixed`` streams.
    """

    run: RunDir
    centers: torch.Tensor
    std: float
    z: torch.Tensor
    every: int = 1000
    sigmas: float = 3.0

    def on_iteration_end(self, tr) -> None:
        if not due(tr, self.every):
            return
        from ganforget.probes.coverage import mode_coverage

        with evaluating(tr.G):
            fakes = tr.G(self.z)
        covs = [mode_coverage(f, self.centers, self.std, sigmas=self.sigmas) for f in fakes]
        self.run.log(
            {
                "it": tr.iteration,
                "modes": [c.modes for c in covs],
                "high_quality": [c.high_quality for c in covs],
                "reverse_kl": [c.reverse_kl for c in covs],
            }
        )


@dataclass
class SampleWriter:
    """Save a figure of G's samples on fixed noise every ``every`` iterations.

    2-D data: scatter plots of real (blue) and fake (red) points, one panel per member (up to
    ``max_members``). Images: a grid of samples per member.
    """

    run: RunDir
    z: torch.Tensor
    every: int = 5000
    real: torch.Tensor | None = None
    max_members: int = 4

    def on_iteration_end(self, tr) -> None:
        if not due(tr, self.every):
            return
        from ganforget.plots.samples import save_samples

        with evaluating(tr.G):
            fakes = tr.G(self.z)[: self.max_members].cpu()
        seeds = tr.streams.seeds[: self.max_members]
        path = self.run.sub("samples") / f"it{tr.iteration:08d}.png"
        real = None if self.real is None else self.real.cpu()
        save_samples(fakes, path, seeds=seeds, iteration=tr.iteration, real=real)


@dataclass
class Checkpointer:
    """Save the trainer's whole state atomically every ``every`` iterations, at each marked
    iteration in ``keep`` (never pruned), and at the end.

    Before each save, metrics.jsonl is flushed to disk (a checkpoint never refers to metric
    lines that a crash could lose) and every parameter is checked: a NaN/Inf raises
    DivergenceError instead of overwriting good checkpoints with a broken state.
    """

    run: RunDir
    every: int = 5000
    keep_last: int = 3
    keep: set[int] = field(default_factory=set)
    last_saved: int = -1

    def save(self, tr) -> Path:
        """Write the checkpoint of the current iteration and prune old ones; return its path."""
        check_finite_parameters(tr)
        self.run.sync_metrics()
        folder = self.run.sub("checkpoints")
        path = save_atomic(tr.state_dict(), folder / checkpoint_name(tr.iteration))
        self.last_saved = tr.iteration
        prune(folder, self.keep_last, self.keep)
        return path

    def on_iteration_end(self, tr) -> None:
        if due(tr, self.every) or tr.iteration in self.keep or tr.stop_requested:
            self.save(tr)

    def on_end(self, tr) -> None:
        if self.last_saved != tr.iteration:
            self.save(tr)


def check_finite_parameters(tr) -> None:
    """Raise DivergenceError naming the first parameter or buffer of G or D that holds NaN/Inf."""
    for label, net in (("G", tr.G), ("D", tr.D)):
        tensors = [*net.named_parameters(), *net.named_buffers()]
        for name, t in tensors:
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise DivergenceError(
                    f"parameter {label}.{name} became NaN/Inf at iteration {tr.iteration}; "
                    "lower the learning rate, add a gradient penalty, or use "
                    "train.on_divergence=rollback"
                )


def fixed_noise(streams, n: int, nz: int) -> torch.Tensor:
    """Return ``[S, n, nz]`` codes from each member's ``fixed`` stream."""
    return randn_members(streams.fixed, (n, nz), streams.device)
