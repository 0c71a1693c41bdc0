"""Shared test fixtures: paths to the real data beside the project, and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _few_threads():
    # The CI machine has 2 cores; keep tests from oversubscribing them.
    torch.set_num_threads(1)
    yield


@pytest.fixture
def shared_data() -> Path:
    """The folder ../shared/data, or a skip saying why it is needed."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it lies beside the project)")
    return SHARED_DATA


@pytest.fixture
def cli(monkeypatch):
    """Run ``ganforget ARGS...`` in-process; return its exit code (0 on success)."""
    from ganforget.cli import main

    def run(*args: str) -> int:
        monkeypatch.setattr("sys.argv", ["ganforget", *args])
        try:
            main()
        except SystemExit as e:
            return e.code
        return 0

    return run
