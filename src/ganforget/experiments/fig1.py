"""Fig. 1: D's gradient field on 8 Gaussians for GAN-NS + SGD, GAN-R1 + SGD and GAN-NS + Adam.

Each variant is trained as one seed ensemble with the live forgetting and field probes on;
the panels are drawn from checkpoints kept at the paper's snapshot iterations. The claims'
pass rules are fixed below, before any run:

* C1 (GAN-NS + SGD forgets and does not converge): in a majority of seeds, NS+SGD has a
  higher forgetting index, a higher field instability (1 - field stability) and a larger
  fake motion than GAN-R1 + SGD with the same seed, each averaged over the second half of
  training.
* C2 (GAN-R1 covers all 8 modes and its field stays stable): in a majority of seeds, R1
  covers 8 modes at the end and its mean field stability over the second half is >= 0.9.
* C3 (Adam is more stable than SGD for GAN-NS): in a majority of seeds, NS + Adam has a
  higher mean field stability over the second half than NS + SGD.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ganforget.experiments.claims import claim, claims_document, majority  # noqa: E402
from ganforget.experiments.common import (  # noqa: E402
    last,
    load_at,
    scaled,
    schedule,
    second_half_mean,
    train_variant,
)
from ganforget.experiments.registry import register  # noqa: E402
from ganforget.nets.ensemble import plain  # noqa: E402
from ganforget.plots.run import row_mean, save_figure  # noqa: E402
from ganforget.probes.field import grid, integral_curves, vector_field  # noqa: E402

PAPER_ITERATIONS = 20000
SNAPSHOTS = {  # the paper's snapshot iterations
    "gan-ns-sgd": [3000, 3500, 3600, 20000],
    "gan-r1-sgd": [1000, 2500, 5000],
    "gan-ns-adam": [1500],
}
VARIANTS = {
    "gan-ns-sgd": ("ring8-ns-sgd", []),
    "gan-r1-sgd": ("ring8-r1", []),
    "gan-ns-adam": ("ring8-ns-adam", []),
}
SCALES = {
    # iterations, probe period, bank period
    "smoke": (400, 50, 50),
    "cpu": (PAPER_ITERATIONS, 500, 500),
    "paper": (PAPER_ITERATIONS, 200, 200),
}


def _overrides(scale: str, snaps: list[int]) -> list[str]:
    iters, every, bank = SCALES[scale]
    return [*schedule(iters, every, bank), f"train.keep={snaps}", "train.progress=true"]


def _panels(run, name: str, snaps: list[int], out: Path) -> Path:
    """Draw Fig. 1's row for one variant (seed 0) from its snapshot checkpoints."""
    fig, axes = plt.subplots(1, len(snaps), figsize=(3.6 * len(snaps), 3.8), squeeze=False)
    cfg = run.config()
    r = cfg.data.radius * 1.6
    pts = grid((-r, r, -r, r), 17)
    for ax, it in zip(axes[0], snaps, strict=True):
        tr = load_at(run, it, cfg)
        D, G = plain(tr.D, 0), plain(tr.G, 0)
        field = vector_field(D, tr.objective, pts)
        z = torch.randn(200, cfg.model.nz, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            fakes = G(z)
        real = tr.source.sample(200, [torch.Generator().manual_seed(8)])[0]
        step = 0.05 / max(float(field.norm(dim=1).mean()), 1e-8)
        curves = integral_curves(D, tr.objective, fakes[:12], 40, step)
        u = field / field.norm(dim=1, keepdim=True).clamp_min(1e-12)
        ax.quiver(pts[:, 0], pts[:, 1], u[:, 0], u[:, 1], color="0.45", width=0.004, scale=30)
        ax.scatter(real[:, 0], real[:, 1], s=5, c="tab:blue", label="real")
        ax.scatter(fakes[:, 0], fakes[:, 1], s=5, c="tab:red", label="fake")
        for c in curves.transpose(0, 1):
            ax.plot(c[:, 0], c[:, 1], color="tab:green", lw=0.8, alpha=0.8)
        ax.set_xlim(-r, r)
        ax.set_ylim(-r, r)
        ax.set_aspect("equal")
        ax.set_title(f"{name}, it {it}", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = out / f"fig1_{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _curves_figure(runs: dict, total: int, out: Path) -> Path:
    from ganforget.experiments.common import series

    keys = [
        ("forgetting_index", "forgetting index"),
        ("field_stability", "field stability"),
        ("fake_motion", "fake motion"),
        ("modes", "modes covered"),
    ]
    colors = {"gan-ns-sgd": "tab:red", "gan-r1-sgd": "tab:blue", "gan-ns-adam": "tab:green"}
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4))
    for ax, (key, label) in zip(axes, keys, strict=True):
        for name, run in runs.items():
            its, vals = series(run, key)
            if not len(its):
                continue
            for j in range(vals.shape[1]):
                ax.plot(its, vals[:, j], color=colors[name], alpha=0.2, lw=0.7)
            ax.plot(its, row_mean(vals), color=colors[name], lw=2, label=name)
        ax.axvline(total / 2, color="0.6", ls=":", lw=1)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("iteration")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out / "fig1_probes.png", dpi=90)


@register(
    "fig1",
    "Fig. 1: vector fields and forgetting on 8 Gaussians (NS/R1 + SGD, NS + Adam)",
    default_seeds=5,
)
def run(scale: str, seeds: list[int], out: Path, command: str | None = None, log=print) -> dict:
    """Train the three variants, draw Fig. 1's panels, and return the claims document."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    iters = SCALES[scale][0]
    factor = iters / PAPER_ITERATIONS
    runs, snaps = {}, {}
    for name, (base, extra) in VARIANTS.items():
        snaps[name] = scaled(SNAPSHOTS[name], factor)
        runs[name] = train_variant(
            name, base, [*extra, *_overrides(scale, snaps[name])], seeds, out / "runs", log=log
        )
    figures = [_panels(runs[n], n, snaps[n], out) for n in VARIANTS]
    figures.append(_curves_figure(runs, iters, out))

    m = {
        n: {
            k: second_half_mean(r, k, iters)
            for k in ("forgetting_index", "field_stability", "fake_motion")
        }
        for n, r in runs.items()
    }
    ns, r1, adam = m["gan-ns-sgd"], m["gan-r1-sgd"], m["gan-ns-adam"]
    c1_flags = [
        ns["forgetting_index"][i] > r1["forgetting_index"][i]
        and (1 - ns["field_stability"][i]) > (1 - r1["field_stability"][i])
        and ns["fake_motion"][i] > r1["fake_motion"][i]
        for i in range(len(seeds))
    ]
    r1_modes = last(runs["gan-r1-sgd"], "modes")
    c2_flags = [r1_modes[i] == 8 and r1["field_stability"][i] >= 0.9 for i in range(len(seeds))]
    c3_flags = [adam["field_stability"][i] > ns["field_stability"][i] for i in range(len(seeds))]
    n = len(seeds)
    claims = [
        claim(
            "C1",
            "GAN-NS + SGD forgets and does not converge: its forgetting index, field "
            "instability and fake motion are above GAN-R1's in most seeds",
            "second-half means of forgetting_index, 1 - field_stability, fake_motion",
            {
                "ns-sgd forgetting": ns["forgetting_index"],
                "r1-sgd forgetting": r1["forgetting_index"],
                "ns-sgd instability": 1 - ns["field_stability"],
                "r1-sgd instability": 1 - r1["field_stability"],
                "ns-sgd fake motion": ns["fake_motion"],
                "r1-sgd fake motion": r1["fake_motion"],
            },
            majority(c1_flags),
            f"all three higher for NS in {sum(c1_flags)}/{n} seeds",
        ),
        claim(
            "C2",
            "GAN-R1 + SGD covers all 8 modes and its field stays stable",
            "modes at the end; second-half mean field stability (>= 0.9)",
            {"r1-sgd modes": r1_modes, "r1-sgd field stability": r1["field_stability"]},
            majority(c2_flags),
            f"8 modes and stability >= 0.9 in {sum(c2_flags)}/{n} seeds",
        ),
        claim(
            "C3",
            "Adam is more stable than SGD for GAN-NS",
            "second-half mean field stability",
            {
                "ns-adam field stability": adam["field_stability"],
                "ns-sgd field stability": ns["field_stability"],
                "ns-adam forgetting": adam["forgetting_index"],
            },
            majority(c3_flags),
            f"Adam more stable in {sum(c3_flags)}/{n} seeds",
        ),
    ]
    command = command or f"ganforget reproduce fig1 --scale {scale} --seeds {n}"
    return claims_document(
        "fig1", scale, seeds, command, claims, figures=[str(p.relative_to(out)) for p in figures]
    )
