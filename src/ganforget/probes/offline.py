"""``ganforget probe RUN_DIR``: run the probes on a run's saved checkpoints, after training.

For every checkpoint (oldest first) and every seed: mode coverage (2-D data), the vector
field and its stability against the previous checkpoint (2-D data), the landscape's extrema
around real and fake anchors, and forgetting: the fakes of each checkpoint's G form a bank,
and every later checkpoint's D is asked about the older banks. Results go to
``probes/offline.json`` (per checkpoint, per seed) and ``probes/offline_*.npz``.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from ganforget.errors import GanforgetError
from ganforget.nets.ensemble import plain
from ganforget.probes.coverage import mode_coverage
from ganforget.probes.field import field_stability, grid, vector_field
from ganforget.probes.forgetting import ForgettingProbe
from ganforget.probes.landscape import random_directions
from ganforget.probes.monitors import (
    fixed_codes,
    fixed_real,
    landscape_stats,
    probe_generator,
    save_npz,
)
from ganforget.train.build import build_trainer
from ganforget.train.checkpoint import list_checkpoints, load_checkpoint
from ganforget.train.rundir import RunDir

WHAT = ("landscape", "forgetting", "field", "modes")


def parse_what(text: str) -> list[str]:
    """Return the probes named in ``text`` (comma-separated); unknown names are an error."""
    items = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in items if w not in WHAT]
    if bad or not items:
        raise GanforgetError(f"--what {text!r}: use a comma list of {', '.join(WHAT)}")
    return items


def probe_run(run_dir, what: list[str], *, anchors: int = 8, bank_size: int = 64, log=print):
    """Probe every checkpoint of ``run_dir``; return the per-checkpoint records (a list)."""
    run = RunDir(run_dir)
    cfg = run.config()
    found = list_checkpoints(run.path / "checkpoints")
    if not found:
        raise GanforgetError(f"run '{run.path}' has no checkpoints to probe; train it first")
    tr = build_trainer(cfg, None)
    seeds = tr.streams.seeds
    toy = len(tr.source.shape) == 1 and tr.source.shape[0] == 2
    z_bank = fixed_codes(seeds, bank_size, tr.nz, 1, tr.device)
    real_bank = fixed_real(tr.source, seeds, bank_size, 2, tr.device)
    forget = [ForgettingProbe(tr.objective, real_bank[i]) for i in range(len(seeds))]
    p = cfg.probes
    ks = torch.arange(p.k_min, p.k_max + p.k_step / 2, p.k_step)
    real_anchor = fixed_real(tr.source, seeds, anchors, 4, tr.device)
    z_anchor = fixed_codes(seeds, anchors, tr.nz, 5, tr.device)
    shape = tuple(real_anchor.shape[2:])
    u = torch.stack(
        [random_directions(1, shape, generator=probe_generator(s, 6)) for s in seeds]
    ).to(tr.device)
    if toy:
        r = float(tr.source.centers.abs().max()) * 1.5
        pts = grid((-r, r, -r, r), 21).to(tr.device)
        z_cov = fixed_codes(seeds, cfg.train.coverage_samples, tr.nz, 7, tr.device)
    records, prev_field, curves_all, fields_all = [], None, [], []
    for it, path in found:
        tr.load_state_dict(load_checkpoint(path, tr.device))
        tr.G.eval()
        rec: dict = {"it": it}
        with torch.no_grad():
            fakes_bank = tr.G(z_bank)
            fakes_anchor = tr.G(z_anchor)
        Ds = [plain(tr.D, i) for i in range(len(seeds))]
        if "modes" in what and toy:
            with torch.no_grad():
                fk = tr.G(z_cov)
            covs = [mode_coverage(f, tr.source.centers, tr.source.std) for f in fk]
            rec["modes"] = [c.modes for c in covs]
            rec["high_quality"] = [c.high_quality for c in covs]
            rec["reverse_kl"] = [c.reverse_kl for c in covs]
        if "forgetting" in what:
            idx = []
            for i, fp in enumerate(forget):
                fp.add_bank(it, fakes_bank[i])
                fi = fp.record(it, Ds[i])["forgetting_index"]
                idx.append(None if fi is None else float(fi))
            rec["forgetting_index"] = idx
        if "field" in what and toy:
            field = torch.stack([vector_field(D, tr.objective, pts) for D in Ds]).cpu()
            if prev_field is not None:
                rec["field_stability"] = [
                    field_stability(field[i], prev_field[i]) for i in range(len(seeds))
                ]
            prev_field = field
            fields_all.append(field)
        if "landscape" in what:
            stats, curves = landscape_stats(Ds, real_anchor, fakes_anchor, u, ks)
            rec.update(stats)
            curves_all.append(curves)
        records.append(rec)
        log(json.dumps(rec))
    folder = run.sub("probes")
    (folder / "offline.json").write_text(
        json.dumps({"seeds": seeds, "what": what, "records": records}, indent=1)
    )
    if curves_all:
        save_npz(
            folder / "offline_landscape.npz",
            {
                "iterations": np.array([r["it"] for r in records]),
                "ks": ks.numpy(),
                "curves": torch.stack(curves_all).numpy(),
                "n_real": np.array(anchors),
            },
        )
    if fields_all:
        save_npz(
            folder / "offline_field.npz",
            {
                "iterations": np.array([r["it"] for r in records]),
                "points": pts.cpu().numpy(),
                "fields": torch.stack(fields_all).numpy(),
            },
        )
    if "forgetting" in what:
        for seed, fp in zip(seeds, forget, strict=True):
            save_npz(folder / f"offline_forgetting_seed{seed}.npz", fp.history())
    return records
