"""Benchmark of seed ensembles: S seeds in one vectorised trainer against S sequential runs.

Three measurements, all in one process on one machine, timed in interleaved chunks and
summarised by the median over repeats (the machine may be shared, so single timings are
noisy while ratios of neighbouring chunks are not):

* **speedup**: seed-iterations per second of an ensemble of S seeds against S one-seed
  trainers run one after another (``speedup = sequential time / ensemble time``), for the
  8-Gaussian MLP, the MNIST-shaped 3x512 MLP and a DCGAN at 32x32 on synthetic data;
* **overhead**: our one-seed trainer against :class:`HandLoop`, a minimal hand-written loop
  doing the same math (``ratio = ours / hand``);
* **penalties**: the time of a step with each gradient penalty over the plain NS step.

``run_bench(...)`` returns everything as a dict; ``main(argv)`` prints tables and writes
JSON. The command ``ganforget bench`` and the script ``bench/bench_ensemble.py`` call
``main``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ganforget.config import Config, resolve
from ganforget.data.source import ImageSource
from ganforget.errors import ConfigError
from ganforget.presets import preset
from ganforget.train.build import build_source, build_trainer, pick_device

PENALTIES = ("r1", "0gp", "1gp")
TARGETS = {
    "ring8_speedup_s10": 4.0,  # CPU, 10 seeds
    "overhead": 1.10,  # our S=1 step / hand-written loop
    "gpu_speedup_s10": 5.0,  # MNIST MLP and DCGAN, 10 seeds, on a GPU
}


@dataclass(frozen=True)
class Case:
    """A benchmark workload: a preset, overrides, synthetic images and a chunk length.

    ``images`` is ``(C, H, W)`` for synthetic uint8 images (no dataset is read) or None for
    the toy mixture; ``chunk`` is the number of iterations timed at once.
    """

    name: str
    preset: str
    overrides: tuple[str, ...]
    images: tuple[int, int, int] | None
    chunk: int

    def config(self, seeds: Sequence[int], device: str, threads: int, extra=()) -> Config:
        """Return the resolved config of this case for ``seeds`` on ``device``."""
        return resolve(
            preset(self.preset),
            [
                *self.overrides,
                *extra,
                f"train.seeds={list(seeds)}",
                f"train.device={device}",
                f"train.threads={threads}",
                "train.progress=false",
            ],
        )


def default_cases(device: str, quick: bool = False, extra: Sequence[str] = ()) -> dict[str, Case]:
    """Return the workloads: full DCGAN width (64) on CUDA, a narrow one (16) on the CPU.

    ``extra`` are ``key=value`` config overrides applied to every workload.
    """
    gpu = device == "cuda"
    width = 64 if gpu else 16
    scale = 4 if gpu else 1
    dcgan = (f"model.ngf={width}", f"model.ndf={width}", "data.root=synthetic")
    cases = {
        "ring8-mlp": Case("ring8-mlp", "ring8-ns-sgd", (), None, (20 if quick else 50) * scale),
        # the paper-era batch of 64 (the preset now uses 256): less arithmetic per member
        "ring8-mlp-b64": Case(
            "ring8-mlp-b64", "ring8-ns-sgd", ("data.batch_size=64",), None, 50 * scale
        ),
        "mnist-mlp": Case(
            "mnist-mlp", "mnist-mlp-ns-sgd", ("data.root=synthetic",), (1, 28, 28), 5 * scale
        ),
        "dcgan32": Case("dcgan32", "cifar10-dcgan", dcgan, (3, 32, 32), 2 * scale),
    }
    if extra:
        cases = {
            k: Case(c.name, c.preset, (*c.overrides, *extra), c.images, c.chunk)
            for k, c in cases.items()
        }
    return cases


def synthetic_source(shape: tuple[int, int, int], device: torch.device, n: int = 2048):
    """Return an ImageSource of ``n`` random uint8 images of ``shape`` (seeded, no files)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    return ImageSource(images, "synthetic").to(device)


def _source(case: Case, device: str):
    dev = pick_device(device)
    if case.images is None:
        return build_source(case.config([0], device, 1), dev)
    return synthetic_source(case.images, dev)


# --- timing -----------------------------------------------------------------------------------


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class Timer:
    """Times callables on one device with a fixed thread count: (wall s, CPU s)."""

    def __init__(self, device: str, threads: int) -> None:
        self.device, self.threads = device, threads

    def __call__(self, fn: Callable[[], None]) -> tuple[float, float]:
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        _sync(self.device)
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        _sync(self.device)
        return time.perf_counter() - w0, time.process_time() - c0


def _runner(tr, n: int) -> Callable[[], None]:
    return lambda: tr.run(tr.iteration + n, progress=False)


def _median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


# --- the three measurements -------------------------------------------------------------------


def measure_speedup(
    case: Case, sizes: Sequence[int], repeats: int, timer: Timer, log=print
) -> list[dict]:
    """Return one row per S: ensemble and sequential seed-iterations per second, speedup.

    Sequential time for S seeds is the sum of the one-seed trainers of seeds 0..S-1, timed
    in the same repeat as the ensemble of S. ``speedup`` is the median over repeats of
    sequential time / ensemble time (wall clock); ``speedup_cpu`` uses process CPU time.
    """
    src = _source(case, timer.device)
    n = case.chunk

    def build(seeds):
        cfg = case.config(seeds, timer.device, max(timer.threads, 0))
        return build_trainer(cfg, None, source=src)

    smax = max(sizes)
    batch = case.config([0], timer.device, 1).data.batch_size
    singles = [build([s]) for s in range(smax)]
    ensembles = {s: build(list(range(s))) for s in sizes if s > 1}
    for tr in [*singles, *ensembles.values()]:
        timer(_runner(tr, 1))  # warm-up: first-call allocations and kernel choices
    wall = {s: [] for s in sizes}
    cpu = {s: [] for s in sizes}
    seq_wall = {s: [] for s in sizes}
    seq_cpu = {s: [] for s in sizes}
    for _ in range(repeats):
        ens_t = {s: timer(_runner(tr, n)) for s, tr in ensembles.items()}
        one_t = [timer(_runner(tr, n)) for tr in singles]
        for s in sizes:
            seq_w = sum(t[0] for t in one_t[:s])
            seq_c = sum(t[1] for t in one_t[:s])
            w, c = ens_t.get(s, one_t[0])
            wall[s].append(w)
            cpu[s].append(c)
            seq_wall[s].append(seq_w)
            seq_cpu[s].append(seq_c)
    rows = []
    for s in sizes:
        row = {
            "case": case.name,
            "S": s,
            "batch": batch,
            "iterations_per_chunk": n,
            "ensemble_seeds_per_s": s * n / _median(wall[s]),
            "sequential_seeds_per_s": s * n / _median(seq_wall[s]),
            "speedup": _median([q / w for q, w in zip(seq_wall[s], wall[s], strict=True)]),
            "speedup_cpu": _median([q / c for q, c in zip(seq_cpu[s], cpu[s], strict=True)]),
            "ensemble_ms_per_it": 1e3 * _median(wall[s]) / n,
        }
        rows.append(row)
        log(
            f"  {case.name:16s} S={s:<3d} ensemble {row['ensemble_seeds_per_s']:9.1f} seeds/s  "
            f"sequential {row['sequential_seeds_per_s']:9.1f} seeds/s  "
            f"speedup {row['speedup']:5.2f}x (CPU time {row['speedup_cpu']:5.2f}x)"
        )
    return rows


def measure_overhead(case: Case, repeats: int, timer: Timer, log=print) -> dict:
    """Return our one-seed trainer's time per iteration over the hand-written loop's."""
    from ganforget.benchmarks.handwritten import HandLoop

    src = _source(case, timer.device)
    cfg = case.config([0], timer.device, max(timer.threads, 0))
    ours = build_trainer(cfg, None, source=src)
    hand = HandLoop(cfg, src, pick_device(timer.device))
    n = case.chunk
    timer(_runner(ours, 2))
    timer(lambda: hand.run(2))
    ow, oc, hw, hc = [], [], [], []
    for r in range(repeats):
        pair = [("ours", _runner(ours, n)), ("hand", lambda: hand.run(n))]
        if r % 2:
            pair.reverse()  # alternate which goes first
        for name, fn in pair:
            w, c = timer(fn)
            (ow if name == "ours" else hw).append(w)
            (oc if name == "ours" else hc).append(c)
    row = {
        "case": case.name,
        "iterations_per_chunk": n,
        "ours_ms_per_it": 1e3 * _median(ow) / n,
        "hand_ms_per_it": 1e3 * _median(hw) / n,
        "ratio": _median([a / b for a, b in zip(ow, hw, strict=True)]),
        "ratio_cpu": _median([a / b for a, b in zip(oc, hc, strict=True)]),
    }
    log(
        f"  {case.name:16s} ours {row['ours_ms_per_it']:7.3f} ms/it  hand "
        f"{row['hand_ms_per_it']:7.3f} ms/it  ratio {row['ratio']:5.3f} "
        f"(CPU time {row['ratio_cpu']:5.3f})"
    )
    return row


def measure_penalties(
    case: Case, members: int, repeats: int, timer: Timer, log=print
) -> list[dict]:
    """Return, per gradient penalty, the step time with it over the plain NS step."""
    src = _source(case, timer.device)
    seeds = list(range(members))
    variants = {"ns": ()}
    for p in PENALTIES:
        variants[p] = (f"objective.penalty={p}", "objective.weight=10")
    trainers = {
        k: build_trainer(
            case.config(seeds, timer.device, max(timer.threads, 0), v), None, source=src
        )
        for k, v in variants.items()
    }
    n = case.chunk
    for tr in trainers.values():
        timer(_runner(tr, 2))
    wall = {k: [] for k in trainers}
    cpu = {k: [] for k in trainers}
    for r in range(repeats):
        order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for k in order:
            w, c = timer(_runner(trainers[k], n))
            wall[k].append(w)
            cpu[k].append(c)
    rows = []
    for k in PENALTIES:
        row = {
            "case": case.name,
            "S": members,
            "penalty": k,
            "ms_per_it": 1e3 * _median(wall[k]) / n,
            "ns_ms_per_it": 1e3 * _median(wall["ns"]) / n,
            "ratio": _median([a / b for a, b in zip(wall[k], wall["ns"], strict=True)]),
            "ratio_cpu": _median([a / b for a, b in zip(cpu[k], cpu["ns"], strict=True)]),
        }
        rows.append(row)
        log(
            f"  {case.name:16s} S={members:<3d} {k:4s} {row['ms_per_it']:8.3f} ms/it vs NS "
            f"{row['ns_ms_per_it']:8.3f}  x{row['ratio']:5.2f} (CPU time x{row['ratio_cpu']:5.2f})"
        )
    return rows


# --- the whole benchmark ----------------------------------------------------------------------


def run_bench(
    *,
    device: str = "cpu",
    threads: int = 1,
    quick: bool = False,
    repeats: int | None = None,
    cases: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    log=print,
) -> dict:
    """Run the benchmark and return its results as a JSON-ready dict.

    ``threads`` is torch's CPU thread count (0: the trainer's default, one thread for MLPs
    and all cores for the DCGAN). ``quick`` measures the 8 Gaussians only, S = 1 and 10,
    with fewer repeats (~30 s on two CPU cores). ``cases`` restricts the speedup workloads
    by name; ``overrides`` (``key=value``) apply to every workload's config, e.g.
    ``train.deterministic=false``. Ratios are medians over interleaved repeats, in wall
    time and in this process's CPU time (the one a shared machine's other tenants disturb
    least).
    """
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device} is unknown; use cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda but no CUDA device is available; use --device cpu")
    if threads < 0:
        raise ConfigError(f"--threads {threads} must be >= 0 (0: the trainer's default)")
    all_cases = default_cases(device, quick, tuple(overrides))
    names = list(cases or (["ring8-mlp"] if quick else list(all_cases)))
    unknown = [n for n in names if n not in all_cases]
    if unknown:
        raise ConfigError(f"unknown bench case(s) {unknown}; choose from {list(all_cases)}")
    reps = repeats or (3 if quick else 5)
    sizes = (1, 10) if quick else (1, 4, 10)
    all_cores = torch.get_num_threads()  # before any trainer sets it

    def timer_for(name: str) -> Timer:
        t = threads or (1 if "mlp" in name else all_cores)
        return Timer(device, t)

    t0 = time.perf_counter()
    out: dict = {
        "device": device,
        "torch": torch.__version__,
        "machine": _machine(device),
        "quick": quick,
        "repeats": reps,
        "threads_option": threads,
        "overrides": list(overrides),
        "speedup": [],
        "overhead": [],
        "penalties": [],
    }
    log(f"speedup: ensemble of S seeds vs S sequential one-seed runs (median of {reps})")
    for name in names:
        timer = timer_for(name)
        case_reps = min(reps, 3) if name.startswith("dcgan") else reps
        rows = measure_speedup(all_cases[name], sizes, case_reps, timer, log)
        for r in rows:
            r["threads"] = timer.threads if device == "cpu" else None
        out["speedup"] += rows
    log("overhead: our one-seed trainer vs a minimal hand-written loop")
    mlp_cases = ["ring8-mlp"] if quick else ["ring8-mlp", "ring8-mlp-b64", "mnist-mlp"]
    for name in mlp_cases:
        timer = timer_for(name)
        row = measure_overhead(all_cases[name], reps * 6, timer, log)
        row["threads"] = timer.threads if device == "cpu" else None
        out["overhead"].append(row)
    log("penalties: a step with each gradient penalty over the plain NS step (λ=10)")
    for members in (1, 10):
        case = all_cases["ring8-mlp"]
        timer = timer_for(case.name)
        rows = measure_penalties(case, members, reps, timer, log)
        for r in rows:
            r["threads"] = timer.threads if device == "cpu" else None
        out["penalties"] += rows
    out["targets"] = _targets(out, device)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _machine(device: str) -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor()}
    try:
        import os

        info["cpu_count"] = os.cpu_count()
        info["load_avg_1min"] = os.getloadavg()[0]
    except (AttributeError, OSError):
        pass
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _targets(res: dict, device: str) -> dict:
    """Return each target of the issue with the measured value and whether it is met.

    With one CPU thread the value is the CPU-time ratio, which other tenants of a shared
    machine disturb least; otherwise the wall-time ratio (both are in the rows).
    """

    def value(r, name):
        return r[f"{name}_cpu"] if r.get("threads") == 1 else r[name]

    def row(case, s=10):
        rows = [r for r in res["speedup"] if r["case"] == case and r["S"] == s]
        return rows[0] if rows else None

    out = {}
    goal = TARGETS["ring8_speedup_s10"] if device == "cpu" else TARGETS["gpu_speedup_s10"]
    wanted = ("ring8-mlp", "ring8-mlp-b64") if device == "cpu" else ("mnist-mlp", "dcgan32")
    for case in wanted:
        r = row(case)
        if r is not None:
            where = "CPU" if device == "cpu" else "GPU"
            label = f"{case} (batch {r['batch']}), 10 seeds, {where}: speedup >= {goal:g}x"
            out[label] = _target(value(r, "speedup"), goal)
    if device == "cpu" and row("mnist-mlp") is not None:
        out["mnist-mlp, 10 seeds, CPU: report"] = {
            "value": value(row("mnist-mlp"), "speedup"),
            "target": None,
            "met": None,
        }
    for r in res["overhead"]:
        if r["case"].startswith("ring8"):
            v = value(r, "ratio")
            out[f"framework overhead ({r['case']}, S=1) <= 1.10x"] = {
                "value": v,
                "target": TARGETS["overhead"],
                "met": v <= TARGETS["overhead"],
            }
    return out


def _target(value, target) -> dict:
    return {"value": value, "target": target, "met": None if value is None else value >= target}


def format_tables(res: dict) -> str:
    """Return the results as Markdown tables."""
    lines = [
        f"device {res['device']}, torch {res['torch']}, repeats {res['repeats']}",
        "",
        "| case | S | threads | ensemble seeds/s | sequential seeds/s | speedup (wall) "
        "| speedup (CPU time) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in res["speedup"]:
        lines.append(
            f"| {r['case']} | {r['S']} | {r.get('threads')} | {r['ensemble_seeds_per_s']:.1f} | "
            f"{r['sequential_seeds_per_s']:.1f} | {r['speedup']:.2f}x | {r['speedup_cpu']:.2f}x |"
        )
    lines += [
        "",
        "| overhead case | ours ms/it | hand-written ms/it | ratio (wall) | ratio (CPU time) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in res["overhead"]:
        lines.append(
            f"| {r['case']} | {r['ours_ms_per_it']:.3f} | {r['hand_ms_per_it']:.3f} | "
            f"{r['ratio']:.3f} | {r['ratio_cpu']:.3f} |"
        )
    lines += [
        "",
        "| penalty case | S | penalty | ms/it | NS ms/it | cost over NS (wall) | (CPU time) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in res["penalties"]:
        lines.append(
            f"| {r['case']} | {r['S']} | {r['penalty']} | {r['ms_per_it']:.3f} | "
            f"{r['ns_ms_per_it']:.3f} | {r['ratio']:.2f}x | {r['ratio_cpu']:.2f}x |"
        )
    lines += ["", "| target | value | met |", "| --- | --- | --- |"]
    for k, t in res["targets"].items():
        v = "n/a" if t["value"] is None else f"{t['value']:.2f}"
        lines.append(f"| {k} | {v} | {t['met']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line: run the benchmark, print tables, write JSON with ``--out``."""
    ap = argparse.ArgumentParser(
        prog="ganforget bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (0: the trainer's default)")
    ap.add_argument("--quick", action="store_true", help="ring8 only, S=1 and 10 (~30 s)")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats")
    ap.add_argument("--cases", default=None, help="comma list of speedup cases")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every workload (repeatable), e.g. train.deterministic=false",
    )
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(list(argv) if argv is not None else None)
    res = run_bench(
        device=args.device,
        threads=args.threads,
        quick=args.quick,
        repeats=args.repeats,
        cases=args.cases.split(",") if args.cases else None,
        overrides=args.overrides,
    )
    shown = list(argv) if argv is not None else sys.argv[1:]
    res["command"] = "ganforget bench " + " ".join(shlex.quote(a) for a in shown)
    print()
    print(format_tables(res))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    return res
