"""The ``ganforget`` command: train, presets, probe, plot, reproduce, bench.

Every user error prints one line, ``error: ...``, and exits with status 2.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from ganforget.errors import GanforgetError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train GANs and measure catastrophic forgetting in D and mode collapse "
    "(Thanh-Tung & Tran, IJCNN 2020).",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _command_line() -> str:
    return "ganforget " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@app.command(context_settings={"allow_extra_args": False})
def train(
    config: Path | None = typer.Argument(
        None, help="YAML config file (omit when using --preset or --resume)."
    ),
    overrides: list[str] | None = typer.Argument(
        None, help="key=value overrides, e.g. optim.lr_d=1e-3 train.iterations=5000."
    ),
    preset: str | None = typer.Option(None, "--preset", "-p", help="A preset; see `presets`."),
    seeds: str | None = typer.Option(
        None, "--seeds", help="Seeds trained together: '0-9', '0,3,5' or a count '5'."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue the run in this directory from its last checkpoint."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Train a GAN (S seeds at once) into a run directory (default: the `demo` preset).

    Examples: `ganforget train --preset ring8-r1 --seeds 0-4`,
    `ganforget train my.yaml optim.lr_d=1e-3`, `ganforget train --resume runs/ring8-r1`.
    """
    from ganforget import config as C
    from ganforget.presets import preset as get_preset
    from ganforget.train import session

    progress = False if no_progress else None
    if resume is not None:
        if config or overrides or preset or seeds:
            raise GanforgetError("--resume takes only the run directory; drop other options")
        outcome = session.resume(resume, progress=progress)
        session.run_or_exit(outcome)
        typer.echo(f"done: {outcome.run.path}")
        return
    items = list(overrides or [])
    if config is not None and "=" in str(config):
        items.insert(0, str(config))
        config = None
    if preset and config:
        raise GanforgetError("give either a CONFIG file or --preset, not both")
    base: dict = {}
    if not preset and not config:
        preset = "demo"
    if preset:
        base = get_preset(preset)
    elif config:
        base = C.load_yaml(config)
    if seeds:
        items.append(f"train.seeds={C.parse_seeds(seeds)}")
    if out:
        items.append(f"out={out}")
    if device:
        items.append(f"train.device={device}")
    cfg = C.resolve(base, items)
    outcome = session.train(cfg, progress=progress)
    session.run_or_exit(outcome)
    from ganforget.plots.run import plot_run
    from ganforget.report.html import run_report

    report = run_report(outcome.run.path, plot_run(outcome.run.path))
    typer.echo(f"done: {outcome.run.path}  (figures in {outcome.run.path / 'figures'}, {report})")


@app.command()
def presets() -> None:
    """List the presets with the paper's settings."""
    from ganforget.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, (summary, _) in PRESETS.items():
        typer.echo(f"{name:<{width}}  {summary}")


@app.command()
def probe(
    run_dir: Path = typer.Argument(..., help="A run directory with checkpoints."),
    what: str = typer.Option(
        "landscape,forgetting,field,modes", "--what", help="Comma list of probes to run."
    ),
) -> None:
    """Run the probes on a run's saved checkpoints (landscape, forgetting, field, modes)."""
    from ganforget.probes.offline import parse_what, probe_run

    probe_run(run_dir, parse_what(what), log=lambda *_: None)
    typer.echo(f"wrote {Path(run_dir) / 'probes' / 'offline.json'}")


@app.command()
def plot(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Make every figure of a run from its stored records (no recomputation)."""
    from ganforget.plots.run import plot_run
    from ganforget.report.html import run_report

    paths = plot_run(run_dir)
    for p in paths:
        typer.echo(str(p))
    typer.echo(str(run_report(run_dir, paths)))


@app.command()
def reproduce(
    name: str = typer.Argument(..., help="Experiment: fig1, fig8, remedies."),
    scale: str = typer.Option("cpu", "--scale", help="smoke (about a minute), cpu or paper."),
    seeds: int | None = typer.Option(None, "--seeds", help="seeds (default: per experiment)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (out/NAME-SCALE)."),
) -> None:
    """Reproduce a figure or table of the paper and write claims.json with pass/fail."""
    from ganforget.experiments import registry
    from ganforget.experiments.claims import write_claims

    if scale not in registry.SCALES:
        raise GanforgetError(f"--scale {scale} is unknown; use one of {', '.join(registry.SCALES)}")
    exp = registry.get(name)
    n = exp.default_seeds if seeds is None else seeds
    if n < 1:
        raise GanforgetError(f"--seeds {n} must be at least 1")
    out = out or Path("out") / f"{name}-{scale}"
    doc = exp.run(scale, list(range(n)), out, command=_command_line())
    path = write_claims(out, doc)
    from ganforget.report.html import experiment_report

    report = experiment_report(out, doc)
    for c in doc["claims"]:
        mark = "PASS" if c["pass"] else "FAIL"
        typer.echo(f"[{mark}] {c['id']}: {c['statement']} -- {c['why']}")
    typer.echo(f"claims: {path}\nreport: {report}")


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="8 Gaussians only, S=1 and 10 (~30 s)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    threads: int = typer.Option(0, "--threads", help="CPU threads (0: the trainer's default)."),
    repeats: int | None = typer.Option(None, "--repeats", help="Interleaved repeats."),
    cases: str | None = typer.Option(None, "--cases", help="Comma list of speedup workloads."),
    out: Path | None = typer.Option(None, "--out", help="Write the results as JSON here."),
) -> None:
    """Benchmark seed ensembles: S seeds at once vs S sequential runs, overhead, penalties."""
    from ganforget.benchmarks.ensemble import main as bench_main

    argv = ["--device", device, "--threads", str(threads)]
    argv += ["--quick"] if quick else []
    argv += ["--repeats", str(repeats)] if repeats else []
    argv += ["--cases", cases] if cases else []
    argv += ["--out", str(out)] if out else []
    bench_main(argv)


def main() -> None:
    """Entry point: run the CLI, turning user errors into one line and exit code 2."""
    try:
        app(standalone_mode=False)
    except GanforgetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            typer.echo(f"error: {exc.format_message()}", err=True)
            raise SystemExit(2) from None
        raise


if __name__ == "__main__":
    main()
