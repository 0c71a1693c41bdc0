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
    no_plot: bool = typer.Option(False, "--no-plot", help="Do not draw figures at the end."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the config and the run directory, print the resolved config, train nothing.",
    ),
) -> None:
    """Train a GAN (S seeds at once) into a run directory (default: the `demo` preset).

    Examples: `ganforget train --preset ring8-r1 --seeds 0-4`,
    `ganforget train my.yaml optim.lr_d=1e-3`, `ganforget train --resume runs/ring8-r1`.
    SIGINT/SIGTERM save a checkpoint and exit with 130/143; a NaN/Inf exits with 3.
    """
    from ganforget import config as C
    from ganforget.presets import preset as get_preset
    from ganforget.train import session

    progress = False if no_progress else None
    if resume is not None:
        given = [
            name
            for name, v in (
                ("a CONFIG file or key=value overrides", config or overrides),
                ("--preset", preset),
                ("--seeds", seeds),
                ("--out", out),
                ("--device", device),
            )
            if v
        ]
        if given:
            raise GanforgetError(f"--resume takes only the run directory; drop {', '.join(given)}")
        if dry_run:
            typer.echo(session.plan_resume(resume))
            return
        outcome = session.resume(resume, progress=progress)
    else:
        items = list(overrides or [])
        if config is not None and "=" in str(config):
            items.insert(0, str(config))
            config = None
        if preset and config:
            raise GanforgetError("give either a CONFIG file or --preset, not both")
        if not preset and not config:
            preset = "demo"
        base = get_preset(preset) if preset else C.load_yaml(config)
        options: dict = {}
        if seeds:
            options.setdefault("train", {})["seeds"] = C.parse_seeds(seeds)
        if device:
            options.setdefault("train", {})["device"] = device
        if out:
            options["out"] = str(out)
        cfg = C.resolve(base, items, options=options)
        if dry_run:
            typer.echo(session.plan_train(cfg))
            typer.echo(C.dump_yaml(cfg), nl=False)
            return
        outcome = session.train(cfg, progress=progress)
    session.run_or_exit(outcome)
    if no_plot:
        typer.echo(f"done: {outcome.run.path}")
        return
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
    threads: int = typer.Option(1, "--threads", help="CPU threads (0: the trainer's default)."),
    repeats: int | None = typer.Option(None, "--repeats", help="Interleaved repeats."),
    cases: str | None = typer.Option(None, "--cases", help="Comma list of speedup workloads."),
    overrides: list[str] | None = typer.Option(
        None, "--set", help="key=value override for every workload (repeatable)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the results as JSON here."),
) -> None:
    """Benchmark seed ensembles: S seeds at once vs S sequential runs, overhead, penalties."""
    from ganforget.benchmarks.ensemble import main as bench_main

    argv = ["--device", device, "--threads", str(threads)]
    argv += ["--quick"] if quick else []
    argv += ["--repeats", str(repeats)] if repeats else []
    argv += ["--cases", cases] if cases else []
    for o in overrides or []:
        argv += ["--set", o]
    argv += ["--out", str(out)] if out else []
    bench_main(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI (``argv``: arguments, default ``sys.argv[1:]``).

    User errors print one line, ``error: ...``, and exit with status 2; a bug still shows
    its traceback.
    """
    try:
        app(args=argv, standalone_mode=False)
    except GanforgetError as exc:
        _fail(str(exc))
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except MemoryError:
        _fail("out of memory; lower data.batch_size, the model widths or the number of seeds")
    except Exception as exc:
        if _is_usage_error(exc):
            _fail(_usage_message(exc))
        if _is_out_of_memory(exc):
            _fail("out of memory; lower data.batch_size, the model widths or the number of seeds")
        raise


def _fail(message: str) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise SystemExit(2) from None


def _one_line(text: str) -> str:
    # Every message is one line, whatever a user put in a key, a value or a path: control
    # and line-separator characters are shown escaped (\n, \x1e, \u2028).
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text.strip())


def _is_usage_error(exc: Exception) -> bool:
    # Click's exceptions (vendored by recent Typer releases) carry these two members.
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


def _usage_message(exc: Exception) -> str:
    msg = exc.format_message()
    name = getattr(exc, "option_name", None)
    ctx = getattr(exc, "ctx", None)
    if name and not getattr(exc, "possibilities", None) and ctx is not None:
        import difflib

        known = [o for p in ctx.command.params for o in (*p.opts, *p.secondary_opts)]
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        if near:
            msg += f" Did you mean {near[0]}?"
    return msg


def _is_out_of_memory(exc: Exception) -> bool:
    text = str(exc)
    return type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError)
        and ("can't allocate memory" in text or "out of memory" in text.lower())
    )


if __name__ == "__main__":
    main()
