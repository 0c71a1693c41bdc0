"""Iterations per second of each preset family, one seed, after two warm-up iterations.

Usage: python bench/bench_presets.py [--data ../shared/data] [--quick]

Image presets read MNIST and CIFAR-10 from ``--data`` (skipped when absent). Each preset runs
with its default thread choice (``train.threads=0``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ganforget.config import resolve
from ganforget.presets import preset
from ganforget.train.build import build_trainer

ROWS = [  # preset, dataset folder under --data (None: toy), timed iterations
    ("ring8-ns-sgd", None, 500),
    ("ring8-r1", None, 300),
    ("mnist-mlp-ns-sgd", "mnist", 60),
    ("mnist-mlp-wgangp", "mnist", 15),
    ("cifar10-dcgan", "cifar10", 8),
    ("cifar10-dcgan-0gp", "cifar10", 5),
]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    ap.add_argument("--quick", action="store_true", help="toy presets only")
    a = ap.parse_args(argv)
    sources: dict = {}
    for name, folder, n in ROWS:
        if folder and (a.quick or not (a.data / folder).is_dir()):
            continue
        extra = [f"data.root={a.data / folder}"] if folder else []
        cfg = resolve(preset(name), [*extra, "train.seeds=[0]"])
        tr = build_trainer(cfg, None, source=sources.get(cfg.data.name))
        sources[cfg.data.name] = tr.source
        tr.run(2, progress=False)
        t0 = time.perf_counter()
        tr.run(2 + n, progress=False)
        rate = n / (time.perf_counter() - t0)
        print(f"{name:22s} threads={torch.get_num_threads()} {rate:8.2f} it/s", flush=True)


if __name__ == "__main__":
    main()
