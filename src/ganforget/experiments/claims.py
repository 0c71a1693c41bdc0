"""The claims file: each paper claim as a measured pass/fail, decided by a rule fixed in code."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def claim(
    cid: str,
    statement: str,
    measure: str,
    values: dict[str, Sequence[float]],
    passed: bool,
    why: str,
) -> dict:
    """Return one claim record (JSON-able) with per-seed ``values`` and its ``pass`` verdict."""
    return {
        "id": cid,
        "statement": statement,
        "measure": measure,
        "values": {k: [_num(v) for v in vs] for k, vs in values.items()},
        "pass": bool(passed),
        "why": why,
    }


def _num(v):
    v = float(v)
    return None if not np.isfinite(v) else round(v, 6)


def claims_document(
    experiment: str, scale: str, seeds: Sequence[int], command: str, claims: list[dict], **extra
) -> dict:
    """Return the ``claims.json`` document of DESIGN.md for one experiment run."""
    doc = {
        "experiment": experiment,
        "scale": scale,
        "seeds": [int(s) for s in seeds],
        "command": command,
        "claims": claims,
    }
    doc.update(extra)
    return doc


def write_claims(out: Path, doc: dict) -> Path:
    """Atomically write ``doc`` to ``out/claims.json`` and return the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "claims.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def majority(flags: Sequence[bool]) -> bool:
    """True when strictly more than half of the per-seed ``flags`` hold."""
    flags = list(flags)
    return sum(bool(f) for f in flags) * 2 > len(flags)
