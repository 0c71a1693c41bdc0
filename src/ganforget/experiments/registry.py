"""The registry behind ``ganforget reproduce NAME``.

An experiment module registers a function ``run(scale, seeds, out) -> dict`` that trains or
simulates what it needs, writes its figures under ``out`` and returns the claims document that
:func:`ganforget.experiments.claims.write_claims` stores as ``out/claims.json``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganforget.errors import ConfigError

SCALES = ("smoke", "cpu", "paper")

# Modules imported lazily so that `ganforget --help` stays fast.
_MODULES = (
    "ganforget.experiments.fig1",
    "ganforget.experiments.fig8",
    "ganforget.experiments.remedies",
)


@dataclass(frozen=True)
class Experiment:
    """One reproducible paper figure or table.

    ``run(scale, seeds, out)`` returns the claims document (a JSON-able dict).
    ``default_seeds`` is the number of seeds used when the user gives none.
    """

    name: str
    summary: str
    run: Callable[[str, list[int], Path], dict]
    default_seeds: int = 5


EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, summary: str, default_seeds: int = 5):
    """Decorator that adds ``run(scale, seeds, out)`` to the registry under ``name``."""

    def deco(fn: Callable[[str, list[int], Path], dict]):
        EXPERIMENTS[name] = Experiment(name, summary, fn, default_seeds)
        return fn

    return deco


def load_all() -> dict[str, Experiment]:
    """Import every experiment module and return the registry (name -> Experiment)."""
    for mod in _MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a module not written yet
            if exc.name != mod:
                raise
    return EXPERIMENTS


def get(name: str) -> Experiment:
    """Return the experiment called ``name``; a clear error lists the known ones."""
    known = load_all()
    if name not in known:
        import difflib

        near = difflib.get_close_matches(name, list(known), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise ConfigError(f"unknown experiment '{name}'; known: {', '.join(sorted(known))}.{hint}")
    return known[name]
