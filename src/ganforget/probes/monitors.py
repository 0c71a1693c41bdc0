"""Live probes: trainer callbacks that run the pure probes per seed on a schedule.

Each monitor logs per-member numbers to ``metrics.jsonl``, keeps its history in its state
(saved in checkpoints, so a resumed run continues it exactly), raises a live alarm on the
progress bar when a threshold is crossed, and writes its arrays to ``probes/*.npz`` at the
end of training. Nothing here is called from inside a training step.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforget.nets.ensemble import plain
from ganforget.probes.extrema import extrema, summarize
from ganforget.probes.field import field_stability, grid, vector_field
from ganforget.probes.forgetting import ForgettingProbe
from ganforget.probes.landscape import landscape, random_directions
from ganforget.train.callbacks import due, evaluating, tolist
from ganforget.train.checkpoint import fsync_dir


def probe_generator(seed: int, salt: int) -> torch.Generator:
    """Return a CPU generator for probe randomness, fixed by the run ``seed`` and a ``salt``."""
    return torch.Generator().manual_seed(10_000_019 * (salt + 1) + seed)


def fixed_codes(seeds: list[int], n: int, nz: int, salt: int, device) -> torch.Tensor:
    """Return ``[S, n, nz]`` latent codes, member ``i`` fixed by its seed (not a train stream)."""
    return torch.stack([torch.randn(n, nz, generator=probe_generator(s, salt)) for s in seeds]).to(
        device
    )


def fixed_real(source, seeds: list[int], n: int, salt: int, device) -> torch.Tensor:
    """Return ``[S, n, *shape]`` real samples drawn with probe generators (one per seed)."""
    gens = [torch.Generator(device).manual_seed(10_000_019 * (salt + 1) + s) for s in seeds]
    return source.sample(n, gens)


def save_npz(path, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` atomically."""
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    fsync_dir(path.parent)


def landscape_stats(Ds, real, fakes, u, ks) -> tuple[dict[str, list[float]], torch.Tensor]:
    """Return per-seed landscape numbers and the curves ``[S, 2n, K]`` (real anchors first).

    ``Ds`` are the seeds' plain discriminators, ``real`` and ``fakes`` ``[S, n, *shape]``
    anchors, ``u`` ``[S, 1, *shape]`` directions. Keys (each a list over seeds, prefixed
    ``landscape_``): ``real_local_max`` and ``real_width`` (real anchors that are local maxima,
    their median half-height width), ``fake_local_max``, and ``monotonic`` (fraction of all
    curves with |Spearman| > 0.9).
    """
    n = real.shape[1]
    rows: dict[str, list[float]] = {
        k: [] for k in ("real_local_max", "real_width", "fake_local_max", "monotonic")
    }
    curves = []
    for i, D in enumerate(Ds):
        f = landscape(D, torch.cat([real[i], fakes[i]]), u[i], ks)[:, 0, :]  # [2n, K]
        curves.append(f.cpu())
        real_s, fake_s = summarize(extrema(f[:n], ks)), summarize(extrema(f[n:], ks))
        rows["real_local_max"].append(float(real_s["frac_local_max"]))
        rows["real_width"].append(float(real_s["median_width"]))
        rows["fake_local_max"].append(float(fake_s["frac_local_max"]))
        rows["monotonic"].append(float(summarize(extrema(f, ks))["frac_monotonic"]))
    return {f"landscape_{k}": v for k, v in rows.items()}, torch.stack(curves)


def _set_alarm(tr, key: str, on: bool, text: str) -> bool:
    """Set or clear ``tr.alarms[key]``; return True when the alarm just switched on."""
    was = key in tr.alarms
    if on:
        tr.alarms[key] = text
    else:
        tr.alarms.pop(key, None)
    return on and not was


class ForgettingMonitor:
    """Banks of fixed fakes every ``bank_every`` iterations; D's verdict on them every ``every``.

    Logs ``forgetting_index`` per seed (mean fraction of old fakes D now calls real) and
    raises the ``forgetting`` alarm when any seed's index exceeds ``threshold``.
    """

    name = "forgetting"

    def __init__(self, tr, run, *, every: int, bank_every: int, bank_size: int, threshold: float):
        self.run, self.every, self.bank_every, self.threshold = run, every, bank_every, threshold
        seeds = tr.streams.seeds
        self.z = fixed_codes(seeds, bank_size, tr.nz, 1, tr.device)
        real = fixed_real(tr.source, seeds, bank_size, 2, tr.device)
        self.probes = [ForgettingProbe(tr.objective, real[i]) for i in range(len(seeds))]

    def on_iteration_end(self, tr) -> None:
        it = tr.iteration
        if it % self.bank_every == 0:
            with evaluating(tr.G):
                fakes = tr.G(self.z)
            for p, f in zip(self.probes, fakes, strict=True):
                p.add_bank(it, f)
        if not due(tr, self.every):
            return
        idx = []
        for i, p in enumerate(self.probes):
            rec = p.record(it, plain(tr.D, i))
            fi = rec["forgetting_index"]
            idx.append(float("nan") if fi is None else float(fi))
        rec = {"it": it, "forgetting_index": idx}
        worst = np.nanmax(idx) if not np.all(np.isnan(idx)) else float("nan")
        text = f"forgetting {worst:.2f} > {self.threshold:g}"
        if _set_alarm(tr, "forgetting", bool(worst > self.threshold), text):
            rec["alarm"] = f"forgetting index {worst:.3f} crossed {self.threshold:g}"
        self.run.log(rec)

    def on_end(self, tr) -> None:
        for seed, p in zip(tr.streams.seeds, self.probes, strict=True):
            if p.records():
                h = p.history()
                h["volatility"] = p.volatility()
                save_npz(self.run.sub("probes") / f"forgetting_seed{seed}.npz", h)

    def state_dict(self) -> dict:
        return {"probes": [p.state_dict() for p in self.probes]}

    def load_state_dict(self, state: dict) -> None:
        for p, s in zip(self.probes, state["probes"], strict=True):
            p.load_state_dict(s)


class FieldMonitor:
    """The 2-D gradient field of D on a grid, and how fast it and the fakes move.

    Every ``every`` iterations, per seed: ``field_stability`` (mean cosine between this field
    and the previous record's) and ``fake_motion`` (mean distance G's fixed fakes moved since
    the previous record). Raises the ``field`` alarm when stability falls below ``threshold``.
    """

    name = "field"

    def __init__(self, tr, run, *, every: int, threshold: float, box, n: int = 21):
        self.run, self.every, self.threshold = run, every, threshold
        self.points = grid(box, n).to(tr.device)
        self.box = box
        self.z = fixed_codes(tr.streams.seeds, 256, tr.nz, 3, tr.device)
        self.iterations: list[int] = []
        self.fields: list[torch.Tensor] = []  # each [S, P, 2]
        self.fakes: list[torch.Tensor] = []  # each [S, n, 2]

    def on_iteration_end(self, tr) -> None:
        if not due(tr, self.every):
            return
        members = len(tr.streams.seeds)
        field = torch.stack(
            [vector_field(plain(tr.D, i), tr.objective, self.points) for i in range(members)]
        ).cpu()
        with evaluating(tr.G):
            fakes = tr.G(self.z).cpu()
        rec = {"it": tr.iteration}
        if self.fields:
            stab = [field_stability(field[i], self.fields[-1][i]) for i in range(members)]
            motion = (fakes - self.fakes[-1]).norm(dim=-1).mean(dim=-1)
            rec["field_stability"] = stab
            rec["fake_motion"] = tolist(motion)
            worst = min(stab)
            text = f"field stability {worst:.2f} < {self.threshold:g}"
            if _set_alarm(tr, "field", worst < self.threshold, text):
                rec["alarm"] = f"field stability {worst:.3f} fell below {self.threshold:g}"
        self.iterations.append(tr.iteration)
        self.fields.append(field)
        self.fakes.append(fakes)
        self.run.log(rec)

    def on_end(self, tr) -> None:
        if self.fields:
            save_npz(
                self.run.sub("probes") / "field.npz",
                {
                    "iterations": np.array(self.iterations),
                    "points": self.points.cpu().numpy(),
                    "fields": torch.stack(self.fields).numpy(),
                    "fakes": torch.stack(self.fakes).numpy(),
                    "seeds": np.array(tr.streams.seeds),
                    "box": np.array(self.box, dtype=float),
                },
            )

    def state_dict(self) -> dict:
        return {
            "iterations": torch.tensor(self.iterations, dtype=torch.long),
            "fields": [f.clone() for f in self.fields],
            "fakes": [f.clone() for f in self.fakes],
        }

    def load_state_dict(self, state: dict) -> None:
        self.iterations = [int(i) for i in state["iterations"].tolist()]
        self.fields = [f.cpu() for f in state["fields"]]
        self.fakes = [f.cpu() for f in state["fakes"]]


class LandscapeMonitor:
    """D's landscape f(k) = D(x + k·u) around fixed real and fake anchors, per seed.

    Logs per seed the fraction of real anchors that are local maxima, their median
    half-height width, and the fraction of all curves that are directionally monotonic.
    """

    name = "landscape"

    def __init__(self, tr, run, *, every: int, anchors: int, ks: torch.Tensor):
        self.run, self.every = run, every
        seeds = tr.streams.seeds
        self.ks = ks.to(tr.device)
        self.real = fixed_real(tr.source, seeds, anchors, 4, tr.device)
        self.z = fixed_codes(seeds, anchors, tr.nz, 5, tr.device)
        shape = tuple(self.real.shape[2:])
        self.u = torch.stack(
            [random_directions(1, shape, generator=probe_generator(s, 6)) for s in seeds]
        ).to(tr.device)
        self.iterations: list[int] = []
        self.curves: list[torch.Tensor] = []  # each [S, 2*anchors, K] (real then fake)

    def on_iteration_end(self, tr) -> None:
        if not due(tr, self.every):
            return
        with evaluating(tr.G):
            fakes = tr.G(self.z)
        Ds = [plain(tr.D, i) for i in range(len(tr.streams.seeds))]
        stats, curves = landscape_stats(Ds, self.real, fakes, self.u, self.ks)
        rec = {"it": tr.iteration, **stats}
        self.iterations.append(tr.iteration)
        self.curves.append(curves)
        self.run.log(rec)

    def on_end(self, tr) -> None:
        if self.curves:
            save_npz(
                self.run.sub("probes") / "landscape.npz",
                {
                    "iterations": np.array(self.iterations),
                    "ks": self.ks.cpu().numpy(),
                    "curves": torch.stack(self.curves).numpy(),
                    "n_real": np.array(self.real.shape[1]),
                    "seeds": np.array(tr.streams.seeds),
                },
            )

    def state_dict(self) -> dict:
        return {
            "iterations": torch.tensor(self.iterations, dtype=torch.long),
            "curves": [c.clone() for c in self.curves],
        }

    def load_state_dict(self, state: dict) -> None:
        self.iterations = [int(i) for i in state["iterations"].tolist()]
        self.curves = [c.cpu() for c in state["curves"]]


def attach_probes(tr, cfg, run) -> None:
    """Attach the monitors that ``cfg.probes`` switches on (an every of 0 means off)."""
    p = cfg.probes
    if p.forgetting_every:
        tr.callbacks.append(
            ForgettingMonitor(
                tr,
                run,
                every=p.forgetting_every,
                bank_every=p.bank_every,
                bank_size=p.bank_size,
                threshold=p.forgetting_threshold,
            )
        )
    if p.field_every and len(tr.source.shape) == 1 and tr.source.shape[0] == 2:
        r = float(tr.source.centers.abs().max()) * 1.5
        tr.callbacks.append(
            FieldMonitor(
                tr, run, every=p.field_every, threshold=p.field_threshold, box=(-r, r, -r, r)
            )
        )
    if p.landscape_every:
        ks = torch.arange(p.k_min, p.k_max + p.k_step / 2, p.k_step)
        if not torch.any(ks == 0):
            ks = torch.sort(torch.cat([ks, torch.zeros(1)])).values
        tr.callbacks.append(
            LandscapeMonitor(tr, run, every=p.landscape_every, anchors=p.landscape_anchors, ks=ks)
        )
