"""Per-member random streams: every seed owns its generators for init, data, noise and aux.

Member ``i`` of an ensemble draws from generators seeded only by its own seed, so it sees the
same numbers as a separate run with that seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STREAMS = ("init_g", "init_d", "data", "noise", "aux", "fixed")


def stream_seed(seed: int, stream: str) -> int:
    """Return a 63-bit seed for ``stream`` of run ``seed`` (independent across streams)."""
    key = [int(seed), STREAMS.index(stream)]
    return int(np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass
class Streams:
    """One ``torch.Generator`` per member for each stream in :data:`STREAMS`."""

    seeds: list[int]
    device: torch.device
    gens: dict[str, list[torch.Generator]]

    @classmethod
    def create(cls, seeds: list[int], device: torch.device | str = "cpu") -> Streams:
        """Return fresh streams for ``seeds`` with generators on ``device``."""
        device = torch.device(device)
        gens = {
            name: [torch.Generator(device=device).manual_seed(stream_seed(s, name)) for s in seeds]
            for name in STREAMS
        }
        return cls(list(seeds), device, gens)

    def __getattr__(self, name: str) -> list[torch.Generator]:
        gens = self.__dict__.get("gens", {})
        if name in gens:
            return gens[name]
        raise AttributeError(name)

    def state_dict(self) -> dict:
        """Return every generator's state (uint8 tensors), by stream and member."""
        return {name: [g.get_state() for g in gs] for name, gs in self.gens.items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the generator states saved by :meth:`state_dict`."""
        for name, states in state.items():
            for g, st in zip(self.gens[name], states, strict=True):
                g.set_state(st)


def randn_members(
    gens: list[torch.Generator], shape: tuple[int, ...], device: torch.device
) -> torch.Tensor:
    """Return ``[S, *shape]`` standard normal draws, row ``i`` from ``gens[i]``.

    Row ``i`` holds exactly ``torch.randn(shape, generator=gens[i])``; the rows are filled in
    place, one call per member, with no copy afterwards.
    """
    if len(gens) == 1:  # same numbers: randn fills its tensor in order, whatever the shape
        return torch.randn((1, *shape), generator=gens[0], device=device)
    out = torch.empty((len(gens), *shape), device=device)
    for row, g in zip(out, gens, strict=True):
        row.normal_(generator=g)
    return out


def randint_members(
    gens: list[torch.Generator], high: int, shape: tuple[int, ...], device: torch.device
) -> torch.Tensor:
    """Return ``[S, *shape]`` integers in ``[0, high)``, row ``i`` from ``gens[i]``.

    Row ``i`` holds exactly ``torch.randint(high, shape, generator=gens[i])``.
    """
    if len(gens) == 1:
        return torch.randint(high, (1, *shape), generator=gens[0], device=device)
    out = torch.empty((len(gens), *shape), dtype=torch.long, device=device)
    for row, g in zip(out, gens, strict=True):
        row.random_(0, high, generator=g)
    return out


def global_rng_state() -> dict:
    """Return the process-wide RNG states: torch (CPU and CUDA), NumPy and Python ``random``.

    The trainer draws only from :class:`Streams`, but user code (custom nets, data, hooks)
    may use the global generators; saving them makes a resumed run see the same numbers.
    Every value is a tensor, int, float or None, so ``torch.load(weights_only=True)`` reads it.
    """
    import random

    version, keys, gauss = random.getstate()
    name, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": {
            "version": int(version),
            "keys": torch.tensor(keys, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict) -> None:
    """Restore the states returned by :func:`global_rng_state` (missing parts are left)."""
    import random

    torch.set_rng_state(state["torch"])
    if "python" in state:
        py = state["python"]
        keys = tuple(int(k) for k in py["keys"].tolist())
        random.setstate((py["version"], keys, py["gauss"]))
    if "numpy" in state:
        n = state["numpy"]
        keys = n["keys"].numpy().astype(np.uint32)
        np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def seed_global_rngs(seeds: list[int]) -> None:
    """Seed torch's, NumPy's and Python's global generators from a run's ``seeds``.

    A run then starts from the same global RNG states whatever the process did before, so
    two runs with the same seeds match exactly, in or out of the same process.
    """
    import random

    key = [int(s) for s in seeds] + [len(STREAMS)]
    words = np.random.SeedSequence(key).generate_state(4, dtype=np.uint32)
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(int(words[2]))
    random.seed(int(words[3]))
